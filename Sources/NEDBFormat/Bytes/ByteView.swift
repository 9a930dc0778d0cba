/// Little-endian integers at absolute offsets of a byte array, bounds-checked: nil when the
/// bytes are not all there (swift-nio's `ByteBuffer.getInteger(at:)` is the model). Every
/// fixed-offset read of untrusted bytes goes through here (`ByteReader` reads sequentially);
/// nothing returns a made-up 0 for a short buffer.
extension Array where Element == UInt8 {
    @inlinable
    public func littleEndianU32(at offset: Int) -> UInt32? {
        guard offset >= 0, offset <= count - 4 else { return nil }
        return UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    @inlinable
    public func littleEndianU64(at offset: Int) -> UInt64? {
        guard offset >= 0, offset <= count - 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(self[offset + i]) << (8 * i) }
        return v
    }
}

/// `littleEndianU32/U64` for format readers: a short buffer is `truncated` at the offset.
enum Peek {
    static func u32(_ b: [UInt8], _ o: Int, file: String? = nil) throws(FormatError) -> UInt32 {
        guard let v = b.littleEndianU32(at: o) else { throw .truncated(Location(file: file, offset: UInt64(max(0, o))), needed: 4, available: max(0, b.count - o)) }
        return v
    }

    static func u64(_ b: [UInt8], _ o: Int, file: String? = nil) throws(FormatError) -> UInt64 {
        guard let v = b.littleEndianU64(at: o) else { throw .truncated(Location(file: file, offset: UInt64(max(0, o))), needed: 8, available: max(0, b.count - o)) }
        return v
    }
}
