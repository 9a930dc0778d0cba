/// A record frame found by a scanner. `view` offsets are relative to `buffer`.
public struct ScannedFrame: Sendable {
    public let view: FrameView
    public let buffer: [UInt8]
    /// Logical offset of the frame: its file offset in an uncompressed segment, or the offset it
    /// would have had in a compressed one.
    public let offset: UInt64
    public let seq: UInt64
    public let time: Microseconds

    /// Calls `body` with the type ‖ body bytes.
    @inline(__always)
    public func withRecordBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[view.recordRange])) }
    }

    /// The complete frame bytes.
    public var frameBytes: [UInt8] { Array(buffer[view.offset..<(view.offset + view.frameLength)]) }

    /// type ‖ body.
    public var recordBytes: [UInt8] { Array(buffer[view.recordRange]) }

    /// Decodes the record (fields are not decrypted).
    public func decode(file: String?, options: RecordCodec.Options = RecordCodec.Options()) throws(FormatError) -> Record {
        try RecordCodec.decode(type: view.type, bytes: buffer, bodyStart: view.bodyRange.lowerBound,
                               bodyEnd: view.bodyRange.upperBound, location: Location(file: file, offset: offset, seq: seq),
                               options: options)
    }
}

/// A run of bytes that holds no valid frame.
public struct ScanDamage: Sendable, Equatable {
    /// Logical offsets [start, end) of the damaged bytes.
    public let start: UInt64
    public let end: UInt64
    /// The failure at `start`.
    public let reason: FormatError
    /// True when no valid frame follows in this segment.
    public let reachesEnd: Bool
}

public enum ScanEvent: Sendable {
    case record(ScannedFrame)
    case damage(ScanDamage)
}

/// Reads the frames of one segment in order with bounded memory (a sliding window for plain
/// segments, one block at a time for compressed ones). Damaged bytes are reported as `.damage`
/// and scanning resumes at the next valid frame: the next offset from the footer index when one
/// exists, otherwise the next position holding a frame with a valid CRC and a plausible seq.
public struct SegmentScanner {
    public static let windowSize = 1 << 20

    let segment: SegmentFile
    let limitSeq: UInt64?
    let knownOffsets: [UInt64]?
    var buffer: [UInt8] = []
    var bufferStart: UInt64
    var position = 0
    var end: UInt64
    /// The seq the next frame should have (used to filter resync candidates).
    public internal(set) var expectedSeq: UInt64
    var finished = false
    /// Zero bytes found after the last frame of an unsealed segment: space a writer reserved
    /// ahead of its appends (spec/FORMAT.md §13.1), the end of the data rather than damage.
    public private(set) var reservedBytes: UInt64 = 0
    // Compressed segments.
    var nextBlockOffset: UInt64
    var logicalOffset: UInt64

    init(segment: SegmentFile, limitSeq: UInt64?, knownOffsets: [UInt64]?) {
        self.segment = segment
        self.limitSeq = limitSeq
        self.knownOffsets = knownOffsets
        let start = UInt64(segment.header.headerLength)
        bufferStart = start
        end = segment.dataEnd
        expectedSeq = segment.header.firstSeq
        nextBlockOffset = start
        logicalOffset = start
    }

    /// The next frame or damage report, or nil at the end of the data.
    public mutating func next() throws(FormatError) -> ScanEvent? {
        if finished { return nil }
        if segment.header.compressed { return try nextCompressed() }
        return try nextPlain()
    }

    // MARK: Plain segments

    /// Makes `buffer` hold [offset, offset+count) (or as much as exists before `end`). The window
    /// moves into a new array (frames handed out keep the old one alive, so it is never copied).
    mutating func ensure(_ offset: UInt64, _ count: Int) throws(FormatError) {
        let have = bufferStart + UInt64(buffer.count)
        if offset >= bufferStart && offset + UInt64(count) <= have { return }
        let want = min(end, offset + UInt64(max(count, SegmentScanner.windowSize)))
        let kept: ArraySlice<UInt8> = offset >= bufferStart && offset <= have ? buffer[Int(offset - bufferStart)...] : []
        let from = offset + UInt64(kept.count)
        let readCount = want > from ? Int(want - from) : 0
        let file = segment.file
        var failure: SystemError? = nil
        let window = [UInt8](unsafeUninitializedCapacity: kept.count + readCount) { raw, initialized in
            let space = UnsafeMutableRawBufferPointer(raw)
            kept.withUnsafeBytes { space.copyMemory(from: $0) }
            var got = 0
            if readCount > 0 {
                do throws(SystemError) { got = try file.read(at: from, into: UnsafeMutableRawBufferPointer(rebasing: space[kept.count...])) } catch {
                    failure = error
                }
            }
            initialized = kept.count + got
        }
        if let failure { throw .system(failure) }
        buffer = window
        bufferStart = offset
    }

    mutating func nextPlain() throws(FormatError) -> ScanEvent? {
        let offset = bufferStart + UInt64(position)
        if offset >= end { finished = true; return nil }
        try ensure(offset, Frame.headerLength)
        position = Int(offset - bufferStart)
        var parse = buffer.withUnsafeBytes { Frame.parse($0, at: position) }
        if case let .incomplete(needed, _) = parse, offset + UInt64(needed) <= end {
            try ensure(offset, needed)
            position = Int(offset - bufferStart)
            parse = buffer.withUnsafeBytes { Frame.parse($0, at: position) }
        }
        if case .frame(let view) = parse, view.crcValid {
            // handled below
        } else if !segment.isSealed, try zerosToEnd(from: offset) {
            reservedBytes = end - offset
            finished = true
            return nil
        }
        let failure: FormatError
        let at = Location(file: segment.path, offset: offset, seq: expectedSeq)
        switch parse {
        case let .frame(view) where view.crcValid:
            let seq = buffer.withUnsafeBytes { view.seq(in: $0) }
            if let limitSeq, seq > limitSeq { finished = true; return nil }
            let time = buffer.withUnsafeBytes { view.time(in: $0) }
            position += view.frameLength
            expectedSeq = seq &+ 1
            return .record(ScannedFrame(view: view, buffer: buffer, offset: offset, seq: seq, time: time))
        case let .frame(view):
            failure = .checksumMismatch(at, what: "record frame", expected: view.computedCRC, found: view.storedCRC)
        case let .badLength(length):
            failure = .malformed(at, detail: "frame length \(length) is outside \(Frame.minimumLength)…\(RecordCodec.maxRecordLength)")
        case let .incomplete(needed, available):
            failure = .truncated(at, needed: needed, available: available)
        }
        let resume = try resyncPlain(after: offset)
        if let resume {
            try ensure(resume, Frame.headerLength)
            position = Int(resume - bufferStart)
        } else {
            finished = true
        }
        return .damage(ScanDamage(start: offset, end: resume ?? end, reason: failure, reachesEnd: resume == nil))
    }

    /// Whether every byte from `offset` to the end of the data is zero.
    mutating func zerosToEnd(from offset: UInt64) throws(FormatError) -> Bool {
        var at = offset
        while at < end {
            let n = Int(min(end - at, UInt64(SegmentScanner.windowSize)))
            try ensure(at, n)
            let p = Int(at - bufferStart)
            guard buffer.count - p >= n else { return false }
            let zero = buffer.withUnsafeBytes { raw -> Bool in
                var i = p
                while i + 8 <= p + n {
                    if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
                    i += 8
                }
                while i < p + n {
                    if raw[i] != 0 { return false }
                    i += 1
                }
                return true
            }
            if !zero { return false }
            at += UInt64(n)
        }
        return true
    }

    /// The offset of the next valid frame after damage at `start`, or nil.
    mutating func resyncPlain(after start: UInt64) throws(FormatError) -> UInt64? {
        if let knownOffsets {
            for candidate in knownOffsets where candidate > start && candidate < end {
                if try validFrame(at: candidate, minimumSeq: expectedSeq) != nil { return candidate }
            }
            return nil
        }
        var candidate = start + 1
        let minimum = UInt64(Frame.minimumLength + Frame.overhead)
        while candidate + minimum <= end {
            if let seq = try validFrame(at: candidate, minimumSeq: expectedSeq) {
                expectedSeq = seq
                return candidate
            }
            candidate += 1
        }
        return nil
    }

    /// The seq of a CRC-valid frame at `offset` whose seq is plausible, else nil.
    mutating func validFrame(at offset: UInt64, minimumSeq: UInt64) throws(FormatError) -> UInt64? {
        try ensure(offset, Frame.headerLength + 9)
        let p = Int(offset - bufferStart)
        guard buffer.count - p >= Frame.headerLength + 9 else { return nil }
        let length = UInt64(try Peek.u32(buffer, p))
        guard length >= UInt64(Frame.minimumLength), length <= UInt64(RecordCodec.maxRecordLength),
              offset + length + UInt64(Frame.overhead) <= end else { return nil }
        let seq = try Peek.u64(buffer, p + 9)
        // A frame after damage must continue the log: its seq is at least the expected one and
        // at most one more per smallest possible frame in between.
        let slack = (offset - UInt64(segment.header.headerLength)) / UInt64(Frame.minimumLength + Frame.overhead) + 1
        guard seq >= minimumSeq, seq <= minimumSeq &+ slack else { return nil }
        try ensure(offset, Int(length) + Frame.overhead)
        let q = Int(offset - bufferStart)
        let parse = buffer.withUnsafeBytes { Frame.parse($0, at: q) }
        if case let .frame(view) = parse, view.crcValid { return seq }
        return nil
    }

    // MARK: Compressed segments

    mutating func nextCompressed() throws(FormatError) -> ScanEvent? {
        while true {
            if position < buffer.count {
                let offset = bufferStart + UInt64(position)
                let parse = buffer.withUnsafeBytes { Frame.parse($0, at: position) }
                let at = Location(file: segment.path, offset: offset, seq: expectedSeq)
                switch parse {
                case let .frame(view) where view.crcValid:
                    let seq = buffer.withUnsafeBytes { view.seq(in: $0) }
                    if let limitSeq, seq > limitSeq { finished = true; return nil }
                    let time = buffer.withUnsafeBytes { view.time(in: $0) }
                    position += view.frameLength
                    expectedSeq = seq &+ 1
                    return .record(ScannedFrame(view: view, buffer: buffer, offset: offset, seq: seq, time: time))
                case let .frame(view):
                    let failure = FormatError.checksumMismatch(at, what: "record frame", expected: view.computedCRC, found: view.storedCRC)
                    return damageRestOfBlock(offset, failure)
                case let .badLength(length):
                    return damageRestOfBlock(offset, .malformed(at, detail: "frame length \(length) is out of range"))
                case let .incomplete(needed, available):
                    return damageRestOfBlock(offset, .malformed(at, detail: "frame of \(needed) bytes crosses the end of its block (\(available) left)"))
                }
            }
            // Load the next block.
            if nextBlockOffset >= end { finished = true; return nil }
            let blockStart = nextBlockOffset
            let at = Location(file: segment.path, offset: blockStart, seq: expectedSeq)
            let headerBytes = try segment.read(at: blockStart, count: CompressedBlock.headerLength)
            let header: CompressedBlock.Header
            do {
                header = try CompressedBlock.parseHeader(headerBytes, location: at)
            } catch {
                finished = true
                return .damage(ScanDamage(start: logicalOffset, end: logicalOffset, reason: error, reachesEnd: true))
            }
            let blockEnd = blockStart + UInt64(CompressedBlock.headerLength) + UInt64(header.compressedLength)
            guard blockEnd <= end else {
                finished = true
                return .damage(ScanDamage(start: logicalOffset, end: logicalOffset,
                                          reason: .truncated(at, needed: Int(blockEnd - blockStart), available: Int(end - blockStart)),
                                          reachesEnd: true))
            }
            nextBlockOffset = blockEnd
            let blockBytes = headerBytes + (try segment.read(at: blockStart + UInt64(CompressedBlock.headerLength), count: header.compressedLength))
            let blockLogical = logicalOffset
            logicalOffset += UInt64(header.uncompressedLength)
            do {
                let (_, frames) = try CompressedBlock.decode(blockBytes, location: at)
                buffer = frames
                bufferStart = blockLogical
                position = 0
            } catch {
                buffer = []
                position = 0
                return .damage(ScanDamage(start: blockLogical, end: logicalOffset, reason: error, reachesEnd: nextBlockOffset >= end))
            }
        }
    }

    mutating func damageRestOfBlock(_ offset: UInt64, _ failure: FormatError) -> ScanEvent {
        let blockEnd = bufferStart + UInt64(buffer.count)
        position = buffer.count
        return .damage(ScanDamage(start: offset, end: blockEnd, reason: failure, reachesEnd: nextBlockOffset >= end))
    }
}
