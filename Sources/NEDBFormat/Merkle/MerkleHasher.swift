/// RFC 6962 / RFC 9162 tree hashing: leaves are `H(0x00 ‖ data)`, interior nodes are
/// `H(0x01 ‖ left ‖ right)`. In NEDB a record's chain hash is its leaf hash (spec §5–6).
public struct MerkleHasher: Sendable {
    public let algorithm: HashAlgorithm

    public init(_ algorithm: HashAlgorithm) { self.algorithm = algorithm }

    /// `H(0x01 ‖ left ‖ right)`.
    @inline(__always)
    public func node(_ left: Hash32, _ right: Hash32) -> Hash32 {
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &scratch) { out in
            let base = out.baseAddress!
            base.storeBytes(of: 0x01, as: UInt8.self)
            withUnsafeBytes(of: left) { base.advanced(by: 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            withUnsafeBytes(of: right) { base.advanced(by: 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return algorithm.hash(base, 65)
        }
    }

    /// The parents of consecutive pairs: `node(children[i], children[i + 1])` for every even
    /// offset `i` from `children.startIndex` (an odd last child is left out), appended to `out`.
    /// Hashes many nodes at once (see `HashBatch`); `batch` is scratch space reused across calls.
    public func appendParents(of children: ArraySlice<Hash32>, batch: inout HashBatch, to out: inout [Hash32]) {
        var start = children.startIndex
        var digests: [Hash32] = []
        while children.endIndex - start >= 2 {
            let pairs = min((children.endIndex - start) / 2, 2048)
            batch.removeAll()
            for p in 0..<pairs {
                batch.append(0x01)
                batch.append(children[start + 2 * p])
                batch.append(children[start + 2 * p + 1])
                batch.finishMessage()
            }
            batch.digests(into: &digests)
            out.append(contentsOf: digests)
            start += 2 * pairs
        }
    }

    /// `H(0x00 ‖ data)` for arbitrary leaf data.
    public func leaf(_ data: [UInt8]) -> Hash32 {
        algorithm.hash([0x00] + data)
    }

    /// The hash of the empty tree, `H()`.
    public var emptyRoot: Hash32 { algorithm.hash(nil, 0) }
}

/// Integer helpers for tree shapes.
public enum MerkleMath {
    /// The largest power of two strictly less than `n` (n ≥ 2).
    @inline(__always)
    public static func splitPoint(_ n: UInt64) -> UInt64 {
        precondition(n >= 2)
        return UInt64(1) << (63 - (n - 1).leadingZeroBitCount)
    }

    @inline(__always)
    public static func isPowerOfTwo(_ n: UInt64) -> Bool { n != 0 && n & (n - 1) == 0 }

    /// log2 of a power of two.
    @inline(__always)
    public static func log2(_ n: UInt64) -> Int { n.trailingZeroBitCount }
}
