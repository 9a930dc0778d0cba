/// The roots of the perfect subtrees that make up the tree of the first `size` leaves, largest
/// first (one per set bit of `size`). Enough to compute the root and to keep appending.
public struct CompactRange: Sendable, Equatable {
    public let hasher: MerkleHasher
    public private(set) var size: UInt64
    public private(set) var hashes: [Hash32]

    public init(hasher: MerkleHasher) {
        self.hasher = hasher
        self.size = 0
        self.hashes = []
    }

    /// Restores a range; nil unless there is exactly one hash per set bit of `size`.
    public init?(hasher: MerkleHasher, size: UInt64, hashes: [Hash32]) {
        guard hashes.count == size.nonzeroBitCount else { return nil }
        self.hasher = hasher
        self.size = size
        self.hashes = hashes
    }

    public static func == (a: CompactRange, b: CompactRange) -> Bool { a.size == b.size && a.hashes == b.hashes }

    public mutating func append(_ leaf: Hash32) {
        var carry = leaf
        var bit: UInt64 = 1
        while size & bit != 0 {
            carry = hasher.node(hashes.removeLast(), carry)
            bit <<= 1
        }
        hashes.append(carry)
        size += 1
    }

    /// The RFC 6962 root of the first `size` leaves.
    public var root: Hash32 {
        guard var acc = hashes.last else { return hasher.emptyRoot }
        for h in hashes.dropLast().reversed() { acc = hasher.node(h, acc) }
        return acc
    }

    /// Appends a perfect subtree of 2^level leaves; `size` must be a multiple of 2^level.
    public mutating func append(subtree hash: Hash32, level: Int) {
        precondition(size % (UInt64(1) << level) == 0, "subtree must be aligned")
        var carry = hash
        var bit = UInt64(1) << level
        while size & bit != 0 {
            carry = hasher.node(hashes.removeLast(), carry)
            bit <<= 1
        }
        hashes.append(carry)
        size += UInt64(1) << level
    }
}
