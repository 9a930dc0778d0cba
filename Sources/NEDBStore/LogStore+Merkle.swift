import NEDBFormat

extension LogStore {
    /// The chain hash of record `seq` (its Merkle leaf).
    public func chainHash(seq: UInt64) throws(StoreError) -> Hash32 {
        try mutex.locked { () throws(StoreError) -> Hash32 in
            guard seq < visibleUpTo else { throw .notFound(seq: seq) }
            return try chainLocked(seq: seq)
        }
    }

    /// The chain hash of a record already sequenced (even if not yet acknowledged): for the
    /// engine, which folds records into its state as it enqueues them.
    public func pendingChain(seq: UInt64) throws(StoreError) -> Hash32 {
        try mutex.locked { () throws(StoreError) -> Hash32 in
            guard seq < nextSeq else { throw .notFound(seq: seq) }
            return try chainLocked(seq: seq)
        }
    }

    /// The Merkle root of the first `size` records.
    public func rootHash(size: UInt64) throws(StoreError) -> Hash32 {
        try mutex.locked { () throws(StoreError) -> Hash32 in
            guard size <= visibleUpTo else { throw .notFound(seq: size - 1) }
            return try rootLocked(size: size)
        }
    }

    /// The RFC 9162 inclusion proof of record `seq` in the tree of `size` records.
    public func inclusionProof(seq: UInt64, size: UInt64) throws(StoreError) -> [Hash32] {
        try mutex.locked { () throws(StoreError) -> [Hash32] in
            guard size <= visibleUpTo, seq < size else { throw .notFound(seq: seq) }
            do throws(FormatError) { return try NodeSource(store: self).inclusionProof(index: seq, size: size) } catch { throw .damaged(error) }
        }
    }

    /// The RFC 9162 consistency proof between trees of `oldSize` and `newSize` records.
    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws(StoreError) -> [Hash32] {
        try mutex.locked { () throws(StoreError) -> [Hash32] in
            guard newSize <= visibleUpTo else { throw .notFound(seq: newSize - 1) }
            do throws(FormatError) { return try NodeSource(store: self).consistencyProof(oldSize: oldSize, newSize: newSize) } catch { throw .damaged(error) }
        }
    }

    func chainLocked(seq: UInt64) throws(StoreError) -> Hash32 {
        do throws(FormatError) { return try NodeSource(store: self).perfectSubtree(level: 0, index: seq) } catch { throw .damaged(error) }
    }

    func rootLocked(size: UInt64) throws(StoreError) -> Hash32 {
        // Fast path: the active segment's accumulator holds the frontier of the whole log.
        if let a = active {
            let frontier = a.accumulator.frontier()
            if frontier.size == size { return frontier.root }
        }
        do throws(FormatError) { return try NodeSource(store: self).rootHash(size: size) } catch { throw .damaged(error) }
    }

    /// Perfect subtrees from the footers of sealed segments and the active segment's levels;
    /// subtrees spanning segments are combined and cached. Used with the store's lock held.
    struct NodeSource: MerkleNodeSource {
        let store: LogStore
        var hasher: MerkleHasher { MerkleHasher(store.hashAlgorithm) }

        func perfectSubtree(level: Int, index: UInt64) throws(FormatError) -> Hash32 {
            let start = index << level
            let end = start + (UInt64(1) << level)        // exclusive
            if let a = store.active, start >= a.header.firstSeq {
                if level > 0 { a.accumulator.catchUp() }
                guard let h = a.accumulator.levels.node(level: level, index: index) else {
                    throw .malformed(Location(seq: start), detail: "Merkle node beyond the log")
                }
                return h
            }
            if let s = store.sealedSegmentLocked(containing: start), end - 1 <= s.lastSeq {
                if let h = try s.merkleNode(level: level, index: index) { return h }
            }
            let key = MerkleKey(level: level, index: index)
            if let cached = store.merkleCache[key] { return cached }
            guard level > 0 else { throw .malformed(Location(seq: start), detail: "no leaf for seq \(start)") }
            let h = hasher.node(try perfectSubtree(level: level - 1, index: 2 * index),
                                try perfectSubtree(level: level - 1, index: 2 * index + 1))
            store.merkleCache[key] = h
            return h
        }
    }
}
