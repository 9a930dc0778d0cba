/// Anything that can produce the hash of a perfect, aligned subtree: the leaves
/// `[index·2^level, (index+1)·2^level)`. Level 0 is the leaf hashes themselves.
/// Proof generation needs nothing else.
public protocol MerkleNodeSource {
    var hasher: MerkleHasher { get }
    func perfectSubtree(level: Int, index: UInt64) throws(FormatError) -> Hash32
}

extension MerkleNodeSource {
    /// MTH(D[start ..< start+count]) as defined by RFC 6962 §2.1 (count ≥ 1).
    public func subtreeHash(start: UInt64, count: UInt64) throws(FormatError) -> Hash32 {
        if MerkleMath.isPowerOfTwo(count) && start % count == 0 {
            return try perfectSubtree(level: MerkleMath.log2(count), index: start / count)
        }
        let k = MerkleMath.splitPoint(count)
        let left = try subtreeHash(start: start, count: k)
        let right = try subtreeHash(start: start + k, count: count - k)
        return hasher.node(left, right)
    }

    /// The root of the tree of the first `size` leaves (`H()` when size is 0).
    public func rootHash(size: UInt64) throws(FormatError) -> Hash32 {
        size == 0 ? hasher.emptyRoot : try subtreeHash(start: 0, count: size)
    }

    /// The audit path for leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1 PATH).
    public func inclusionProof(index: UInt64, size: UInt64) throws(FormatError) -> [Hash32] {
        guard index < size else {
            throw .malformed(Location(seq: index), detail: "leaf \(index) is outside a tree of \(size) leaves")
        }
        var path: [Hash32] = []
        try appendPath(index: index, start: 0, count: size, into: &path)
        return path
    }

    private func appendPath(index: UInt64, start: UInt64, count: UInt64, into path: inout [Hash32]) throws(FormatError) {
        if count == 1 { return }
        let k = MerkleMath.splitPoint(count)
        if index < k {
            try appendPath(index: index, start: start, count: k, into: &path)
            path.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try appendPath(index: index - k, start: start + k, count: count - k, into: &path)
            path.append(try subtreeHash(start: start, count: k))
        }
    }

    /// The consistency proof between trees of `oldSize` and `newSize` leaves (RFC 6962 §2.1.2).
    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws(FormatError) -> [Hash32] {
        guard oldSize >= 1, oldSize <= newSize else {
            throw .malformed(Location(), detail: "consistency proof needs 1 ≤ old size (\(oldSize)) ≤ new size (\(newSize))")
        }
        var proof: [Hash32] = []
        try appendSubproof(m: oldSize, start: 0, count: newSize, complete: true, into: &proof)
        return proof
    }

    private func appendSubproof(m: UInt64, start: UInt64, count: UInt64, complete: Bool,
                                into proof: inout [Hash32]) throws(FormatError) {
        if m == count {
            if !complete { proof.append(try subtreeHash(start: start, count: count)) }
            return
        }
        let k = MerkleMath.splitPoint(count)
        if m <= k {
            try appendSubproof(m: m, start: start, count: k, complete: complete, into: &proof)
            proof.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try appendSubproof(m: m - k, start: start + k, count: count - k, complete: false, into: &proof)
            proof.append(try subtreeHash(start: start, count: k))
        }
    }
}
