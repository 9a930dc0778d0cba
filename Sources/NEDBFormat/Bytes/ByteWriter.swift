/// Appends little-endian integers, varints and byte strings to a growable buffer.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Continues writing at the end of existing bytes (moved in, not copied).
    public init(continuing bytes: consuming [UInt8]) {
        self.bytes = bytes
    }

    /// Moves the bytes out, leaving the writer empty.
    public mutating func takeBytes() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &bytes)
        return out
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v)); bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    public mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    public mutating func f64(_ v: Double) { u64(v.bitPattern) }

    /// Unsigned LEB128, minimal length.
    public mutating func uvarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func append<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    public mutating func hash(_ h: Hash32) { h.withBytes { bytes.append(contentsOf: $0) } }

    /// Writes `count` zero bytes.
    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// ASCII text with no terminator.
    public mutating func ascii(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Overwrites 4 bytes at `offset` with `v` (for back-patching lengths and CRCs).
    public mutating func patchU32(at offset: Int, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for i in 0..<4 { bytes[offset + i] = raw[i] }
        }
    }

    public mutating func patchU64(at offset: Int, _ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for i in 0..<8 { bytes[offset + i] = raw[i] }
        }
    }
}
