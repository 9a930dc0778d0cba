import NEDBFormat

/// A sealed segment open for random access: its footer gives record offsets (and blocks for a
/// compressed segment) and Merkle nodes without scanning. Thread-safe.
final class SealedSegment: @unchecked Sendable {
    let file: SegmentFile
    let footer: FooterIndex
    private let mutex = PthreadMutex()
    private var blocks: [BlockEntry]?
    private var cachedBlock: (index: Int, frames: [UInt8])?

    init(file: SegmentFile, footer: FooterIndex) {
        self.file = file
        self.footer = footer
    }

    var meta: FooterMeta { footer.meta }
    var header: SegmentHeader { file.header }
    var firstSeq: UInt64 { meta.firstSeq }
    var lastSeq: UInt64 { meta.lastSeq }

    private func loadBlocks() throws(FormatError) -> [BlockEntry] {
        if let blocks = mutex.locked({ self.blocks }) { return blocks }
        let loaded = try footer.blocks(file: file.path, reader: file.reader)
        mutex.locked { blocks = loaded }
        return loaded
    }

    /// The file offset of record `seq` in a plain segment (nil for compressed ones).
    func offset(of seq: UInt64) throws(FormatError) -> UInt64? {
        guard !file.header.compressed, seq >= firstSeq, seq <= lastSeq else { return nil }
        return try recordOffset(Int(seq - firstSeq))
    }

    /// One entry of the record index: from the loaded index, or read alone (the frame's own CRC
    /// and hash protect what is then read, so one entry need not wait for the whole chunk).
    func recordOffset(_ i: Int) throws(FormatError) -> UInt64 {
        guard let chunk = footer.chunk("RIDX"), UInt64(i + 1) * 8 <= chunk.length else {
            throw .malformed(Location(file: file.path), detail: "record index has no entry \(i)")
        }
        let bytes = try file.read(at: chunk.offset + UInt64(i) * 8, count: 8)
        guard bytes.count == 8 else { throw .truncated(Location(file: file.path, offset: chunk.offset), needed: 8, available: bytes.count) }
        return bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// The complete frame of record `seq`.
    func frame(seq: UInt64) throws(FormatError) -> [UInt8] {
        let i = Int(seq - firstSeq)
        guard i >= 0, UInt64(i) < meta.recordCount else { throw .malformed(Location(file: file.path, seq: seq), detail: "seq outside segment") }
        let start = try recordOffset(i)
        let end = UInt64(i + 1) < meta.recordCount ? try recordOffset(i + 1) : UInt64(file.header.headerLength) + meta.logicalLength
        guard end > start, end - start <= UInt64(RecordCodec.maxRecordLength + Frame.overhead) else {
            throw .malformed(Location(file: file.path, offset: start, seq: seq), detail: "record index entry out of range")
        }
        if !file.header.compressed { return try file.read(at: start, count: Int(end - start)) }
        let blocks = try loadBlocks()
        // The block holding record i: the last whose first record ≤ i.
        var lo = 0, hi = blocks.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if Int(blocks[mid].firstRecord) <= i { lo = mid } else { hi = mid - 1 }
        }
        guard !blocks.isEmpty else { throw .malformed(Location(file: file.path), detail: "compressed segment has no blocks") }
        let frames = try blockFrames(lo, blocks)
        let from = Int(start - blocks[lo].logicalOffset), to = Int(end - blocks[lo].logicalOffset)
        guard from >= 0, to <= frames.count, from < to else {
            throw .malformed(Location(file: file.path, seq: seq), detail: "record lies outside its compressed block")
        }
        return Array(frames[from..<to])
    }

    private func blockFrames(_ index: Int, _ blocks: [BlockEntry]) throws(FormatError) -> [UInt8] {
        if let cached = mutex.locked({ cachedBlock }), cached.index == index { return cached.frames }
        let entry = blocks[index]
        let headerBytes = try file.read(at: entry.fileOffset, count: CompressedBlock.headerLength)
        let at = Location(file: file.path, offset: entry.fileOffset)
        let header = try CompressedBlock.parseHeader(headerBytes, location: at)
        let body = try file.read(at: entry.fileOffset + UInt64(CompressedBlock.headerLength), count: header.compressedLength)
        let (_, frames) = try CompressedBlock.decode(headerBytes + body, location: at)
        mutex.locked { cachedBlock = (index, frames) }
        return frames
    }

    /// A perfect subtree stored in the footer's MRKL chunk, or nil when it is not inside.
    func merkleNode(level: Int, index: UInt64) throws(FormatError) -> Hash32? {
        guard let chunk = footer.chunk("MRKL"), let offset = footer.merkleOffset(level: level, index: index) else { return nil }
        let bytes = try file.read(at: chunk.offset + offset, count: 32)
        guard let h = Hash32(bytes: bytes) else {
            throw .truncated(Location(file: file.path, offset: chunk.offset + offset), needed: 32, available: bytes.count)
        }
        return h
    }
}
