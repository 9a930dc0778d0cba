/// Every perfect aligned subtree hash over a contiguous run of leaves `[firstLeaf, firstLeaf+count)`,
/// level by level. Appending a leaf costs O(1) amortised hashes. This is what a segment
/// footer stores (chunk MRKL) and what the writer keeps for the active segment.
public struct MerkleLevels: Sendable, Equatable {
    public let hasher: MerkleHasher
    public let firstLeaf: UInt64
    /// `levels[j]` holds the nodes `k` with `k·2^j ≥ firstLeaf`, in order of `k`.
    public private(set) var levels: [[Hash32]]

    public init(hasher: MerkleHasher, firstLeaf: UInt64) {
        self.hasher = hasher
        self.firstLeaf = firstLeaf
        self.levels = [[]]
    }

    public static func == (a: MerkleLevels, b: MerkleLevels) -> Bool {
        a.firstLeaf == b.firstLeaf && a.levels == b.levels && a.hasher.algorithm == b.hasher.algorithm
    }

    public var leafCount: UInt64 { UInt64(levels[0].count) }

    /// The index of the first node stored at `level`.
    @inline(__always)
    public func firstIndex(level: Int) -> UInt64 {
        let size = UInt64(1) << level
        return (firstLeaf + size - 1) >> level
    }

    /// How many nodes a run of `count` leaves from `firstLeaf` has at `level`.
    public static func nodeCount(firstLeaf: UInt64, leafCount: UInt64, level: Int) -> UInt64 {
        let start = (firstLeaf + (UInt64(1) << level) - 1) >> level
        let end = (firstLeaf + leafCount) >> level
        return end > start ? end - start : 0
    }

    /// Leaves whose parent nodes have been computed (the rest wait for `catchUp`).
    public private(set) var builtLeaves: Int = 0

    /// Appends a leaf and computes the nodes it completes.
    public mutating func append(_ leaf: Hash32) {
        levels[0].append(leaf)
        catchUp()
    }

    /// Appends a leaf without hashing; call `catchUp()` before reading nodes above level 0.
    @inline(__always)
    public mutating func appendDeferred(_ leaf: Hash32) {
        levels[0].append(leaf)
    }

    /// Computes every node completed by leaves appended with `appendDeferred`: leaf by leaf for a
    /// few leaves, level by level with many nodes hashed at once (`HashBatch`) for many.
    public mutating func catchUp() {
        if levels[0].count - builtLeaves >= 64 {
            buildLevelByLevel()
            return
        }
        while builtLeaves < levels[0].count {
            builtLeaves += 1
            buildNodes(completedBy: builtLeaves)
        }
    }

    /// The same nodes `buildNodes` makes, computed a level at a time.
    private mutating func buildLevelByLevel() {
        let leafCount = UInt64(levels[0].count)
        var batch = HashBatch(hasher.algorithm)
        var level = 1
        while true {
            let target = Int(MerkleLevels.nodeCount(firstLeaf: firstLeaf, leafCount: leafCount, level: level))
            if target == 0 { break }
            if levels.count == level { levels.append([]) }
            let have = levels[level].count
            if have < target {
                // Node k of this level has children 2k and 2k+1 one level down.
                let childFirst = firstIndex(level: level - 1)
                let k = firstIndex(level: level) + UInt64(have)
                let from = Int(2 * k - childFirst)
                let children = levels[level - 1][from..<(from + 2 * (target - have))]
                hasher.appendParents(of: children, batch: &batch, to: &levels[level])
            }
            level += 1
        }
        builtLeaves = levels[0].count
    }

    private mutating func buildNodes(completedBy count: Int) {
        let position = firstLeaf + UInt64(count)   // leaves up to `position` now have their parents
        var level = 1
        while position % (UInt64(1) << level) == 0 {
            let k = position >> level - 1                      // node covering [k·2^level, position)
            guard k << level >= firstLeaf else { break }
            let childLevel = levels[level - 1]
            let childFirst = firstIndex(level: level - 1)
            let left = childLevel[Int(2 * k - childFirst)]
            let right = childLevel[Int(2 * k + 1 - childFirst)]
            if levels.count == level { levels.append([]) }
            levels[level].append(hasher.node(left, right))
            level += 1
        }
    }

    /// The stored node, or nil when it is not wholly inside this run.
    @inline(__always)
    public func node(level: Int, index: UInt64) -> Hash32? {
        guard level < levels.count else { return nil }
        let first = firstIndex(level: level)
        guard index >= first, index - first < UInt64(levels[level].count) else { return nil }
        return levels[level][Int(index - first)]
    }

    /// Rebuilds levels from explicit arrays (as read from a footer); nil when counts are inconsistent.
    public init?(hasher: MerkleHasher, firstLeaf: UInt64, levels: [[Hash32]]) {
        self.hasher = hasher
        self.firstLeaf = firstLeaf
        guard let leaves = levels.first else { return nil }
        let count = UInt64(leaves.count)
        for (j, level) in levels.enumerated()
        where UInt64(level.count) != MerkleLevels.nodeCount(firstLeaf: firstLeaf, leafCount: count, level: j) {
            return nil
        }
        var expectedLevels = 1
        while MerkleLevels.nodeCount(firstLeaf: firstLeaf, leafCount: count, level: expectedLevels) > 0 { expectedLevels += 1 }
        guard levels.count == expectedLevels else { return nil }
        self.levels = levels
        self.builtLeaves = leaves.count
    }
}

/// A node source over a single `MerkleLevels` that starts at leaf 0 (a whole tree in memory).
public struct InMemoryMerkleTree: MerkleNodeSource, Sendable {
    public private(set) var levels: MerkleLevels
    public var hasher: MerkleHasher { levels.hasher }

    public init(hasher: MerkleHasher, leaves: [Hash32] = []) {
        levels = MerkleLevels(hasher: hasher, firstLeaf: 0)
        for leaf in leaves { levels.append(leaf) }
    }

    public var size: UInt64 { levels.leafCount }

    public mutating func append(_ leaf: Hash32) { levels.append(leaf) }

    public func perfectSubtree(level: Int, index: UInt64) throws(FormatError) -> Hash32 {
        guard let h = levels.node(level: level, index: index) else {
            throw .malformed(Location(), detail: "subtree (level \(level), index \(index)) is beyond the tree")
        }
        return h
    }
}
