/// Reads little-endian integers, varints and byte strings from a byte array, checking every
/// bound. Every failure is reported as `ByteReader.Failure`, which callers turn into a
/// `FormatError` with the file and offset they know.
public struct ByteReader: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// `needed` bytes were wanted at `offset` but only `available` remain.
        case truncated(offset: Int, needed: Int, available: Int)
        /// A varint is longer than 10 bytes, overflows 64 bits, or is not minimally encoded.
        case badVarint(offset: Int)
    }

    public let bytes: [UInt8]
    public private(set) var position: Int
    public let end: Int

    /// Reads `bytes[start..<end]` (the whole array by default).
    public init(_ bytes: [UInt8], start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    public var remaining: Int { end - position }
    public var isAtEnd: Bool { position >= end }

    private mutating func need(_ n: Int) throws(Failure) {
        guard n >= 0, n <= end - position else {
            throw .truncated(offset: position, needed: n, available: max(0, end - position))
        }
    }

    public mutating func u8() throws(Failure) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func u16() throws(Failure) -> UInt16 {
        try need(2)
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    public mutating func u32() throws(Failure) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * i) }
        position += 4
        return v
    }

    public mutating func u64() throws(Failure) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * i) }
        position += 8
        return v
    }

    public mutating func i64() throws(Failure) -> Int64 { Int64(bitPattern: try u64()) }

    public mutating func f64() throws(Failure) -> Double { Double(bitPattern: try u64()) }

    /// Unsigned LEB128; rejects non-minimal encodings so every value has exactly one encoding.
    public mutating func uvarint() throws(Failure) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated(offset: start, needed: position - start + 1, available: position - start) }
            let byte = bytes[position]
            position += 1
            let payload = UInt64(byte & 0x7F)
            if shift == 63 && payload > 1 { throw .badVarint(offset: start) }
            result |= payload << shift
            if byte & 0x80 == 0 {
                if byte == 0 && position - start > 1 { throw .badVarint(offset: start) }
                return result
            }
            shift += 7
            if shift > 63 { throw .badVarint(offset: start) }
        }
    }

    public mutating func bytes(_ n: Int) throws(Failure) -> [UInt8] {
        try need(n)
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }

    public mutating func hash() throws(Failure) -> Hash32 {
        try need(32)
        defer { position += 32 }
        return bytes.withUnsafeBytes { Hash32(loadingFrom: $0.baseAddress! + position) }
    }

    public mutating func skip(_ n: Int) throws(Failure) {
        try need(n)
        position += n
    }
}

/// Little-endian loads from raw memory whose bounds the caller has already checked.
@usableFromInline
enum RawLoad {
    @inline(__always) @usableFromInline
    static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) @usableFromInline
    static func u64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
