import Testing
import Foundation
@testable import NEDBStore
import NEDBFormat

@Suite struct StoreTests {
    @Test func appendReadReopenAndVerify() throws {
        let dir = TempDir()
        var heads: LogHead
        do {
            let store = try LogStore.open(dir.path, options: testOptions())
            #expect(store.openReport.created)
            for i in 1...50 {
                let result = try store.append(put("users", "u\(i)", ["n": .number(Double(i))]))
                #expect(result == .appended(seqs: [UInt64(i)]))
            }
            #expect(store.lastSeq == 50)
            #expect(try store.record(7).id == "u7")
            heads = store.head
            try store.close()
        }
        let report = StoreVerifier.verify(directory: dir.path)
        #expect(report.ok, "\(report.issues)")
        #expect(report.head == heads)
        let reopened = try LogStore.open(dir.path, options: testOptions())
        #expect(reopened.lastSeq == 50)
        #expect(reopened.head == heads)
        #expect(try reopened.record(50).document == JCS.serialize(["n": 50]))
        try reopened.append(put("users", "u51", [:]))
        #expect(reopened.lastSeq == 51)
        var seen: [UInt64] = []
        try reopened.scan(from: 10, through: 20) { seen.append($0.seq); return true }
        #expect(seen == Array(10...20))
    }

    @Test func tinySegmentsRotateSealAndCompress() throws {
        let dir = TempDir()
        var options = testOptions()
        options.segmentSize = 2048
        options.compressSealed = true
        let store = try LogStore.open(dir.path, options: options)
        for i in 1...400 { try store.append(put("c", "k\(i % 37)", ["i": .number(Double(i)), "pad": .string(String(repeating: "x", count: 40))])) }
        store.waitForCompression()
        let segments = store.segments
        #expect(segments.count > 20)
        #expect(segments.filter { $0.state == .sealedCompressed }.count == segments.count - 1)
        for seq in [0, 1, 57, 200, 399, 400] as [UInt64] { #expect(try store.record(seq).seq == seq) }
        // Proofs from the store agree with a tree built from every chain hash.
        var leaves: [Hash32] = []
        for seq in 0...400 as ClosedRange<UInt64> { leaves.append(try store.chainHash(seq: seq)) }
        let tree = InMemoryMerkleTree(hasher: MerkleHasher(.blake2b256), leaves: leaves)
        #expect(try store.rootHash(size: 401) == tree.rootHash(size: 401))
        for (seq, size) in [(0, 1), (5, 401), (399, 400), (128, 300)] as [(UInt64, UInt64)] {
            #expect(try store.inclusionProof(seq: seq, size: size) == tree.inclusionProof(index: seq, size: size))
        }
        #expect(try store.consistencyProof(oldSize: 100, newSize: 401) == tree.consistencyProof(oldSize: 100, newSize: 401))
        let head = store.head
        try store.close()
        let report = StoreVerifier.verify(directory: dir.path)
        #expect(report.ok, "\(report.issues)")
        #expect(report.head == head)
        let reopened = try LogStore.open(dir.path, options: options)
        #expect(reopened.head == head)
        #expect(try reopened.record(123).seq == 123)
        #expect(reopened.openReport.rebuiltReplayIndex == false)
    }

    @Test func secondWriterIsRefusedWithTheHolder() throws {
        let dir = TempDir()
        let store = try LogStore.open(dir.path, options: testOptions())
        #expect { try LogStore.open(dir.path, options: testOptions()) } throws: { error in
            guard case let StoreError.locked(_, holder) = error else { return false }
            return holder.contains("pid \(getpid())")
        }
        var ro = testOptions()
        ro.readOnly = true
        let reader = try LogStore.open(dir.path, options: ro)
        #expect(reader.lastSeq == 0)
        #expect { try reader.append(put("a", "b", [:])) } throws: { ($0 as? StoreError) == .readOnly }
        try store.close()
        _ = try LogStore.open(dir.path, options: testOptions())
    }

    @Test func replayProtectionAndIdempotencySurviveRestartAndRotation() throws {
        let dir = TempDir()
        var options = testOptions()
        options.segmentSize = 1024
        do {
            let store = try LogStore.open(dir.path, options: options)
            var r = put("c", "a", ["v": 1])
            r.client = "app"; r.nonce = 5; r.idempotencyKey = "order-1"
            #expect(try store.append(r) == .appended(seqs: [1]))
            #expect(try store.append(r) == .duplicate(seq: 1))
            r.idempotencyKey = nil
            #expect { try store.append(r) } throws: { ($0 as? StoreError) == .staleNonce(client: "app", nonce: 5, last: 5) }
            r.nonce = 6
            #expect(try store.append(r) == .appended(seqs: [2]))
            for i in 0..<50 { try store.append(put("c", "pad\(i)", ["p": .string(String(repeating: "z", count: 60))])) }
            #expect(store.segments.count > 3)
            try store.close()
        }
        for removeIndex in [false, true] {
            if removeIndex { try FileManager.default.removeItem(atPath: dir.sub("REPLAY")) }
            let store = try LogStore.open(dir.path, options: options)
            #expect(store.openReport.rebuiltReplayIndex == removeIndex)
            var r = put("c", "b", ["v": 2])
            r.client = "app"; r.nonce = 6
            #expect { try store.append(r) } throws: { ($0 as? StoreError)?.id == "stale_nonce" }
            r.nonce = nil; r.client = nil; r.idempotencyKey = "order-1"
            #expect(try store.append(r) == .duplicate(seq: 1))
            let before = store.lastSeq
            #expect(store.lastSeq == before)
            try store.close()
        }
    }

    @Test func concurrentAppendersGetUniqueContiguousSeqs() throws {
        let dir = TempDir()
        var options = testOptions()
        options.segmentSize = 64 * 1024
        let store = try LogStore.open(dir.path, options: options)
        let threads = 8, perThread = 300
        let collected = Collected()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var mine: [UInt64] = []
            for i in 0..<perThread {
                let durability: Durability = [.batch, .always, .none][i % 3]
                if case let .appended(seqs) = try! store.append(put("t\(t)", "k\(i)", ["i": .number(Double(i))]), durability: durability) {
                    mine.append(contentsOf: seqs)
                }
            }
            collected.add(mine)
        }
        let all = collected.values
        #expect(all.sorted() == Array(1...UInt64(threads * perThread)))
        #expect(store.lastSeq == UInt64(threads * perThread))
        try store.close()
        let report = StoreVerifier.verify(directory: dir.path)
        #expect(report.ok, "\(report.issues)")
    }

    @Test func transactionsAreAtomicAcrossACrash() throws {
        let dir = TempDir()
        do {
            let store = try LogStore.open(dir.path, options: testOptions())
            let result = try store.append([put("a", "1", [:]), put("a", "2", [:]), put("a", "3", [:])])
            #expect(result == .appended(seqs: [1, 2, 3]))
            #expect(try store.record(2).transaction == TransactionMark(firstSeq: 1, count: 3))
            try store.append([put("b", "1", [:]), put("b", "2", [:])])
            try store.close()
        }
        // Cut the last record: its transaction (seqs 4–5) is incomplete and must vanish whole.
        // (A crash leaves no REPLAY written after the cut records: the one from close goes.)
        let segment = dir.sub("segments/" + SegmentName.make(firstSeq: 0))
        let bytes = try PosixFileSystem().readAll(segment)
        let frames = try frameOffsets(segment)
        try Data(bytes[0..<frames.last!]).write(to: URL(fileURLWithPath: segment))
        try FileManager.default.removeItem(atPath: dir.sub("REPLAY"))
        let store = try LogStore.open(dir.path, options: testOptions())
        #expect(store.lastSeq == 3)
        #expect(store.openReport.droppedIncompleteTransaction == 1)
        #expect(store.openReport.tornTail?.id == "torn_tail")
    }

    @Test func tornTailIsTruncatedAndTamperingRefused() throws {
        let dir = TempDir()
        do {
            let store = try LogStore.open(dir.path, options: testOptions())
            for i in 1...10 { try store.append(put("c", "k\(i)", ["i": .number(Double(i))])) }
            try store.close()
        }
        let segment = dir.sub("segments/" + SegmentName.make(firstSeq: 0))
        let original = try PosixFileSystem().readAll(segment)
        // Torn tail: half of an extra frame.
        try Data(original + Array(original[200..<260])).write(to: URL(fileURLWithPath: segment))
        var store = try LogStore.open(dir.path, options: testOptions())
        #expect(store.openReport.tornTail?.id == "torn_tail")
        #expect(store.lastSeq == 10)
        try store.append(put("c", "after", [:]))
        #expect(store.lastSeq == 11)
        try store.close()
        #expect(StoreVerifier.verify(directory: dir.path).ok)
        // Strict policy refuses even a torn tail, and changes nothing.
        let withTail = try PosixFileSystem().readAll(segment) + [1, 2, 3]
        try Data(withTail).write(to: URL(fileURLWithPath: segment))
        var strict = testOptions()
        strict.recovery = .strict
        #expect { try LogStore.open(dir.path, options: strict) } throws: { ($0 as? StoreError)?.id == "torn_tail" }
        #expect(try PosixFileSystem().readAll(segment) == withTail)
        // Tampering: edit record 5 and fix its CRC. Every open refuses; a read-only open that
        // allows damage reads the records before it and says why.
        let frames = try frameOffsets(segment)
        var tampered = try PosixFileSystem().readAll(segment)
        tampered[frames[5] + 40] ^= 0x20
        fixCRC(&tampered, frames[5])
        try Data(tampered).write(to: URL(fileURLWithPath: segment))
        #expect { try LogStore.open(dir.path, options: testOptions()) } throws: { ($0 as? StoreError)?.id == "hash_mismatch" }
        #expect(try PosixFileSystem().readAll(segment) == tampered)
        var ro = testOptions()
        ro.readOnly = true
        #expect { try LogStore.open(dir.path, options: ro) } throws: { ($0 as? StoreError)?.id == "hash_mismatch" }
        ro.allowDamaged = true
        store = try LogStore.open(dir.path, options: ro)
        // Record 4 is not vouched for either: a rewritten record 4 (hash recomputed) would make
        // record 5's check fail just the same.
        #expect(store.lastSeq == 3)
        // REPLAY, written at close, shows the log reached seq 10 (so 6…10 are missing too).
        #expect(store.damage.map(\.id) == ["hash_mismatch", "missing_data"])
        #expect(store.damage.first?.location.seq == 5)
    }

    @Test func pointInTimeRecoveryMovesDamageToLostAndFound() throws {
        let dir = TempDir()
        do {
            let store = try LogStore.open(dir.path, options: testOptions())
            for i in 1...10 { try store.append(put("c", "k\(i)", ["i": .number(Double(i))])) }
            try store.close()
        }
        let segment = dir.sub("segments/" + SegmentName.make(firstSeq: 0))
        var bytes = try PosixFileSystem().readAll(segment)
        let frames = try frameOffsets(segment)
        bytes[frames[6] + 30] ^= 0xFF          // damage record 6 (CRC fails), records 7-10 intact
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        #expect { try LogStore.open(dir.path, options: testOptions()) } throws: { ($0 as? StoreError)?.id == "checksum_mismatch" }
        var options = testOptions()
        options.recovery = .pointInTime
        let store = try LogStore.open(dir.path, options: options)
        #expect(store.lastSeq == 5)
        let salvaged = try #require(store.openReport.salvaged)
        #expect(salvaged.bytes == UInt64(bytes.count - frames[6]))
        #expect(try PosixFileSystem().readAll(salvaged.path) == Array(bytes[frames[6]...]))
    }

    @Test func inMemoryStoreHasTheSameAPI() throws {
        let store = try LogStore.open("/mem", options: .inMemory())
        for i in 1...20 { try store.append(put("m", "k\(i)", ["i": .number(Double(i))])) }
        #expect(try store.record(20).id == "k20")
        #expect(store.lastSeq == 20)
    }
}

func frameOffsets(_ path: String) throws -> [Int] {
    let segment = try SegmentFile.open(fs: PosixFileSystem(), path: path)
    var scanner = segment.scanner()
    var out: [Int] = []
    while let event = try scanner.next() { if case let .record(f) = event { out.append(Int(f.offset)) } }
    return out
}

func fixCRC(_ bytes: inout [UInt8], _ offset: Int) {
    let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
    let crc = bytes.withUnsafeBytes { Frame.crc32(frame: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length + Frame.overhead)])) }
    for i in 0..<4 { bytes[offset + 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [UInt64] = []
    func add(_ v: [UInt64]) { lock.lock(); items.append(contentsOf: v); lock.unlock() }
    var values: [UInt64] { lock.lock(); defer { lock.unlock() }; return items }
}
