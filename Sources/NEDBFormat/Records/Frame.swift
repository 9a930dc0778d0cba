/// Record framing (spec/FORMAT.md §3.1):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `length` of type ‖ body, u32 LE, 17 … 16 MiB |
/// | 4 | 4 | CRC32C of bytes [0,4) ‖ [8, 8+length+32) |
/// | 8 | 1 | record type |
/// | 9 | length−1 | body |
/// | 8+length | 32 | chain hash = H(0x00 ‖ previous chain hash ‖ type ‖ body) |
///
/// The CRC detects interrupted writes; the chain hash detects tampering.
public enum Frame {
    public static let headerLength = 8
    public static let hashLength = 32
    /// Bytes a frame adds around type ‖ body.
    public static let overhead = headerLength + hashLength
    /// type (1) + seq (8) + time (8).
    public static let minimumLength = 17

    /// Appends a complete frame for `type ‖ body` to `buffer` and returns its chain hash.
    @discardableResult
    public static func append(type: RecordType, body: [UInt8], previous: Hash32,
                              hasher: ChainHasher, to buffer: inout [UInt8]) -> Hash32 {
        var w = ByteWriter(continuing: buffer)
        buffer = []
        let start = begin(type: type, in: &w)
        w.append(body)
        let chain = finish(at: start, previous: previous, hasher: hasher, in: &w)
        buffer = w.takeBytes()
        return chain
    }

    /// Starts a frame in `w`: placeholder length and CRC, then the type. Write the body into
    /// `w` next, then call `finish`. Returns where the frame starts.
    @inline(__always)
    public static func begin(type: RecordType, in w: inout ByteWriter) -> Int {
        let start = w.count
        w.u64(0)
        w.u8(type.rawValue)
        return start
    }

    /// Completes the frame begun at `start`: fills in the length, appends the chain hash and
    /// fills in the CRC. Returns the chain hash.
    public static func finish(at start: Int, previous: Hash32, hasher: ChainHasher, in w: inout ByteWriter) -> Hash32 {
        w.patchU32(at: start, UInt32(w.count - start - headerLength))
        var bytes = w.takeBytes()
        let chain = bytes.withUnsafeBytes { raw in
            hasher.chain(previous: previous, typeAndBody: UnsafeRawBufferPointer(rebasing: raw[(start + headerLength)...]))
        }
        chain.withBytes { bytes.append(contentsOf: $0) }
        let crc = bytes.withUnsafeBytes { raw in crc32(frame: UnsafeRawBufferPointer(rebasing: raw[start...])) }
        withUnsafeBytes(of: crc.littleEndian) { raw in
            for i in 0..<4 { bytes[start + 4 + i] = raw[i] }
        }
        // Moved back into the writer: a copy here would copy the whole buffer for every frame.
        w = ByteWriter(continuing: consume bytes)
        return chain
    }

    /// Encodes one frame into a new array.
    public static func encode(type: RecordType, body: [UInt8], previous: Hash32, hasher: ChainHasher) -> (bytes: [UInt8], chain: Hash32) {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 1 + overhead)
        let chain = append(type: type, body: body, previous: previous, hasher: hasher, to: &out)
        return (out, chain)
    }

    /// The CRC32C of a whole frame (the 4 CRC bytes excluded).
    @inline(__always)
    public static func crc32(frame: UnsafeRawBufferPointer) -> UInt32 {
        let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: frame[0..<4]))
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: frame[8...]), continuing: first)
    }

    /// What `parse` found at an offset.
    public enum Parse: Sendable, Equatable {
        /// A frame whose length is plausible and whose bytes are all present.
        case frame(FrameView)
        /// Fewer bytes remain than the frame needs (`needed` in total from the offset).
        case incomplete(needed: Int, available: Int)
        /// The length field is outside 17 … 16 MiB.
        case badLength(UInt32)
    }

    /// Parses the frame at `offset` of `buffer`, checking length and CRC (not the hash).
    @inline(__always)
    public static func parse(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> Parse {
        let available = buffer.count - offset
        guard available >= headerLength else { return .incomplete(needed: headerLength, available: max(0, available)) }
        let base = buffer.baseAddress! + offset
        let length = RawLoad.u32(base, 0)
        guard length >= UInt32(minimumLength), length <= UInt32(RecordCodec.maxRecordLength) else { return .badLength(length) }
        let total = Int(length) + overhead
        guard available >= total else { return .incomplete(needed: total, available: available) }
        let stored = RawLoad.u32(base, 4)
        let computed = crc32(frame: UnsafeRawBufferPointer(start: base, count: total))
        let type = RecordType(rawValue: base.load(fromByteOffset: 8, as: UInt8.self))
        let chain = Hash32(loadingFrom: base + 8 + Int(length))
        return .frame(FrameView(offset: offset, length: Int(length), type: type, storedCRC: stored,
                                computedCRC: computed, storedChain: chain))
    }
}

/// The location and checked fields of one frame inside a buffer.
public struct FrameView: Sendable, Equatable {
    /// Offset of the frame's first byte in the buffer it was parsed from.
    public var offset: Int
    /// Length of type ‖ body.
    public var length: Int
    public var type: RecordType
    public var storedCRC: UInt32
    public var computedCRC: UInt32
    public var storedChain: Hash32

    public var crcValid: Bool { storedCRC == computedCRC }
    public var frameLength: Int { length + Frame.overhead }
    /// Range of type ‖ body within the buffer.
    public var recordRange: Range<Int> { (offset + 8)..<(offset + 8 + length) }
    /// Range of the body (after the type byte).
    public var bodyRange: Range<Int> { (offset + 9)..<(offset + 8 + length) }
    /// The seq, read from the first 8 body bytes (the caller ensures the buffer is the one parsed).
    public func seq(in buffer: UnsafeRawBufferPointer) -> UInt64 { RawLoad.u64(buffer.baseAddress!, offset + 9) }
    public func time(in buffer: UnsafeRawBufferPointer) -> Int64 { Int64(bitPattern: RawLoad.u64(buffer.baseAddress!, offset + 17)) }
}

/// Computes chain hashes `H(0x00 ‖ previous ‖ type ‖ body)` incrementally, without copying the
/// record. Not thread-safe: give each thread its own.
public final class ChainHasher {
    public let algorithm: HashAlgorithm
    private let stream: StreamingHash
    /// 0x00 ‖ previous chain hash, contiguous, so the prefix is one hash update.
    private let prefix: UnsafeMutableRawPointer

    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        stream = StreamingHash(algorithm)
        prefix = .allocate(byteCount: 33, alignment: 8)
        prefix.storeBytes(of: 0, as: UInt8.self)
    }

    deinit { prefix.deallocate() }

    @inline(__always)
    public func chain(previous: Hash32, typeAndBody: UnsafeRawBufferPointer) -> Hash32 {
        previous.withBytes { (prefix + 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
        stream.reset()
        stream.update(prefix, 33)
        if let base = typeAndBody.baseAddress { stream.update(base, typeAndBody.count) }
        return stream.finish()
    }

    public func chain(previous: Hash32, type: RecordType, body: [UInt8]) -> Hash32 {
        ([type.rawValue] + body).withUnsafeBytes { chain(previous: previous, typeAndBody: $0) }
    }
}

extension Int {
    var nextPowerOfTwo: Int {
        guard self > 1 else { return 1 }
        return 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
