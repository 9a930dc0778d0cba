/// Produces every perfect aligned subtree over leaves appended from `firstLeaf` on, in the order
/// they complete, keeping only O(log n) hashes. Full verification uses it to compare a sealed
/// segment's stored Merkle levels node by node without building a second copy.
public struct MerkleNodeStream {
    public let hasher: MerkleHasher
    public let firstLeaf: UInt64
    public private(set) var count: UInt64 = 0
    /// The most recent even-indexed node at each level (its right sibling not yet seen).
    private var pendingLeft: [Hash32?] = []

    public init(hasher: MerkleHasher, firstLeaf: UInt64) {
        self.hasher = hasher
        self.firstLeaf = firstLeaf
    }

    /// Appends a leaf and calls `emit(level, index, hash)` for the leaf and each node it completes.
    @inline(__always)
    public mutating func append(_ leaf: Hash32, emit: (Int, UInt64, Hash32) -> Void) {
        var index = firstLeaf + count
        count += 1
        var hash = leaf
        var level = 0
        while true {
            emit(level, index, hash)
            if level == pendingLeft.count { pendingLeft.append(nil) }
            if index & 1 == 0 {
                // A left child: its parent completes only if it lies wholly inside the run.
                pendingLeft[level] = hash
                return
            }
            guard let left = pendingLeft[level] else { return }
            pendingLeft[level] = nil
            hash = hasher.node(left, hash)
            index >>= 1
            level += 1
        }
    }
}
