/// A 32-byte digest (BLAKE2b-256 or SHA-256), stored inline without heap allocation.
public struct Hash32: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The all-zero value (the chain value before the genesis record).
    public static let zero = Hash32(w0: 0, w1: 0, w2: 0, w3: 0)

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Reads 32 bytes; returns nil unless exactly 32 are given.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        var value = Hash32.zero
        withUnsafeMutableBytes(of: &value) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        self = value
    }

    /// Reads 32 bytes at `pointer` (the caller guarantees they exist).
    public init(loadingFrom pointer: UnsafeRawPointer) {
        var value = Hash32.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: 32)) }
        self = value
    }

    /// Parses 64 lowercase or uppercase hex digits.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), bytes.count == 32 else { return nil }
        self.init(bytes: bytes)
    }

    /// The 32 bytes in order.
    public var bytes: [UInt8] { withUnsafeBytes(of: self) { Array($0) } }

    /// Lowercase hex.
    public var hex: String { withBytes { Hex.encode($0) } }

    public var description: String { hex }

    /// Calls `body` with the 32 bytes.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: self, body)
    }

    /// Byte-wise lexicographic order.
    public static func < (a: Hash32, b: Hash32) -> Bool {
        if a.w0 != b.w0 { return a.w0.bigEndian < b.w0.bigEndian }
        if a.w1 != b.w1 { return a.w1.bigEndian < b.w1.bigEndian }
        if a.w2 != b.w2 { return a.w2.bigEndian < b.w2.bigEndian }
        return a.w3.bigEndian < b.w3.bigEndian
    }
}
