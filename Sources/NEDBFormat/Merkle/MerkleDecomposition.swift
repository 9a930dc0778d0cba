extension MerkleLevels {
    /// The perfect aligned subtrees that exactly cover leaves `[firstLeaf, end)`, left to right,
    /// largest possible first (`end` ≤ firstLeaf + leafCount).
    public func decomposition(upTo end: UInt64) -> [(level: Int, hash: Hash32)] {
        var out: [(Int, Hash32)] = []
        var start = firstLeaf
        while start < end {
            var level = 0
            while true {
                let next = level + 1
                let size = UInt64(1) << next
                guard start % size == 0, start + size <= end, node(level: next, index: start >> next) != nil else { break }
                level = next
            }
            guard let h = node(level: level, index: start >> level) else { break }
            out.append((level, h))
            start += UInt64(1) << level
        }
        return out
    }
}

