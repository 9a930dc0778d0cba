/// Proof verification exactly as RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
public enum MerkleVerifier {
    /// The root implied by `leafHash` at `index` in a tree of `size` leaves with `path`,
    /// or nil when the path has the wrong shape for that index and size.
    public static func rootFromInclusion(hasher: MerkleHasher, leafHash: Hash32, index: UInt64, size: UInt64,
                                         path: [Hash32]) -> Hash32? {
        guard index < size else { return nil }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in path {
            if sn == 0 { return nil }
            if fn & 1 == 1 || fn == sn {
                r = hasher.node(p, r)
                if fn & 1 == 0 {
                    repeat { fn >>= 1; sn >>= 1 } while fn & 1 == 0 && fn != 0
                }
            } else {
                r = hasher.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    public static func verifyInclusion(hasher: MerkleHasher, leafHash: Hash32, index: UInt64, size: UInt64,
                                       path: [Hash32], root: Hash32) -> Bool {
        rootFromInclusion(hasher: hasher, leafHash: leafHash, index: index, size: size, path: path) == root
    }

    /// True when `proof` shows the tree of `oldSize` with `oldRoot` is a prefix of the tree of
    /// `newSize` with `newRoot`.
    public static func verifyConsistency(hasher: MerkleHasher, oldSize: UInt64, newSize: UInt64,
                                         oldRoot: Hash32, newRoot: Hash32, proof: [Hash32]) -> Bool {
        guard oldSize >= 1, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        var path = proof
        if MerkleMath.isPowerOfTwo(oldSize) { path.insert(oldRoot, at: 0) }
        guard let first = path.first else { return false }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = first
        var sr = first
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = hasher.node(c, fr)
                sr = hasher.node(c, sr)
                if fn & 1 == 0 {
                    repeat { fn >>= 1; sn >>= 1 } while fn & 1 == 0 && fn != 0
                }
            } else {
                sr = hasher.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}
