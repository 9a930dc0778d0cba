import Testing
@testable import NEDBFormat

/// RFC 6962 §2.1 written directly over an explicit leaf list, as the reference.
struct ReferenceMerkle {
    let hasher: MerkleHasher
    let leaves: [Hash32]

    func mth(_ range: Range<Int>) -> Hash32 {
        if range.isEmpty { return hasher.emptyRoot }
        if range.count == 1 { return leaves[range.lowerBound] }
        var k = 1
        while k * 2 < range.count { k *= 2 }
        return hasher.node(mth(range.lowerBound..<(range.lowerBound + k)), mth((range.lowerBound + k)..<range.upperBound))
    }

    func path(_ m: Int, _ range: Range<Int>) -> [Hash32] {
        if range.count <= 1 { return [] }
        var k = 1
        while k * 2 < range.count { k *= 2 }
        let split = range.lowerBound + k
        if m < k { return path(m, range.lowerBound..<split) + [mth(split..<range.upperBound)] }
        return path(m - k, split..<range.upperBound) + [mth(range.lowerBound..<split)]
    }

    func subproof(_ m: Int, _ range: Range<Int>, _ b: Bool) -> [Hash32] {
        let n = range.count
        if m == n { return b ? [] : [mth(range)] }
        var k = 1
        while k * 2 < n { k *= 2 }
        let split = range.lowerBound + k
        if m <= k { return subproof(m, range.lowerBound..<split, b) + [mth(split..<range.upperBound)] }
        return subproof(m - k, split..<range.upperBound, false) + [mth(range.lowerBound..<split)]
    }
}

@Suite struct MerkleTests {
    static func leaves(_ n: Int, _ alg: HashAlgorithm = .blake2b256) -> [Hash32] {
        (0..<n).map { MerkleHasher(alg).leaf([UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
    }

    @Test func inclusionProofsMatchRFC9162ForEveryIndexUpTo300() throws {
        let all = MerkleTests.leaves(300)
        let hasher = MerkleHasher(.blake2b256)
        let tree = InMemoryMerkleTree(hasher: hasher, leaves: all)
        var checked = 0
        for n in 1...300 {
            let reference = ReferenceMerkle(hasher: hasher, leaves: Array(all[0..<n]))
            let root = reference.mth(0..<n)
            #expect(try tree.rootHash(size: UInt64(n)) == root)
            for m in 0..<n {
                let proof = try tree.inclusionProof(index: UInt64(m), size: UInt64(n))
                #expect(proof == reference.path(m, 0..<n))
                #expect(MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m), size: UInt64(n),
                                                       path: proof, root: root))
                checked += 1
            }
        }
        #expect(checked == 45150)
    }

    @Test func consistencyProofsMatchRFC9162() throws {
        let all = MerkleTests.leaves(130)
        let hasher = MerkleHasher(.blake2b256)
        let tree = InMemoryMerkleTree(hasher: hasher, leaves: all)
        for n in 1...130 {
            let reference = ReferenceMerkle(hasher: hasher, leaves: Array(all[0..<n]))
            let newRoot = reference.mth(0..<n)
            for m in 1...n {
                let proof = try tree.consistencyProof(oldSize: UInt64(m), newSize: UInt64(n))
                #expect(proof == reference.subproof(m, 0..<n, true))
                #expect(MerkleVerifier.verifyConsistency(hasher: hasher, oldSize: UInt64(m), newSize: UInt64(n),
                                                         oldRoot: reference.mth(0..<m), newRoot: newRoot, proof: proof))
            }
        }
    }

    @Test func alteredProofsAreRejected() throws {
        let all = MerkleTests.leaves(78)
        let hasher = MerkleHasher(.blake2b256)
        let tree = InMemoryMerkleTree(hasher: hasher, leaves: all)
        let root = try tree.rootHash(size: 77)
        let root78 = try tree.rootHash(size: 78)
        for m in [0, 1, 31, 63, 64, 76] {
            let proof = try tree.inclusionProof(index: UInt64(m), size: 77)
            for i in proof.indices {
                var bad = proof
                bad[i].w0 ^= 1
                #expect(!MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m), size: 77, path: bad, root: root))
            }
            #expect(!MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m) ^ 1, size: 77, path: proof, root: root))
            #expect(!MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m), size: 78, path: proof, root: root78))
            #expect(!MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m), size: 77, path: proof.dropLast(), root: root))
            #expect(!MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: all[m], index: UInt64(m), size: 77, path: proof + [root], root: root))
        }
        let proof = try tree.consistencyProof(oldSize: 40, newSize: 77)
        let oldRoot = try tree.rootHash(size: 40)
        for i in proof.indices {
            var bad = proof
            bad[i].w3 ^= 1 << 40
            #expect(!MerkleVerifier.verifyConsistency(hasher: hasher, oldSize: 40, newSize: 77, oldRoot: oldRoot, newRoot: root, proof: bad))
        }
    }

    @Test func compactRangeAndLevelsAgreeWithTheReference() throws {
        for alg in HashAlgorithm.allCases {
            let hasher = MerkleHasher(alg)
            let all = MerkleTests.leaves(200, alg)
            var range = CompactRange(hasher: hasher)
            for (i, leaf) in all.enumerated() {
                range.append(leaf)
                #expect(range.root == ReferenceMerkle(hasher: hasher, leaves: Array(all[0...i])).mth(0..<(i + 1)))
            }
            // Levels over an unaligned run reproduce every stored node and decompose correctly.
            for first in [0, 1, 5, 64, 77] {
                var levels = MerkleLevels(hasher: hasher, firstLeaf: UInt64(first))
                for leaf in all[first...] { levels.append(leaf) }
                var prefix = CompactRange(hasher: hasher)
                for leaf in all[0..<first] { prefix.append(leaf) }
                for (level, h) in levels.decomposition(upTo: 200) { prefix.append(subtree: h, level: level) }
                #expect(prefix == range)
                let rebuilt = MerkleLevels(hasher: hasher, firstLeaf: UInt64(first), levels: levels.levels)
                #expect(rebuilt == levels)
            }
        }
        #expect(MerkleHasher(.sha256).emptyRoot.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
