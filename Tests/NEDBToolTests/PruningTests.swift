import Foundation
import Testing
import NEDBFormat
import NEDBStore
import NEDBState

/// Pruning stays verifiable (spec/FORMAT.md §3.7): pruned records name their key digest, the
/// record that hid them and the compaction that pruned them; the compaction record commits to the
/// set; forged pruned records are found; reads below the retention point are refused.
@Suite(.serialized) struct PruningTests {
    /// Users with unbounded puts and deletes, plus one document whose later puts have valid times
    /// (they hide earlier versions only at some instants, so those must survive pruning).
    func makeHistory(_ dir: String) throws {
        var options = StoreOptions()
        options.segmentSize = 8 * 1024
        options.durability = .none
        let store = try LogStore.open(dir, options: options)
        func put(_ id: String, _ n: Int, validFrom: Int64? = nil, validTo: Int64? = nil, transaction: Bool = false) throws {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "users"; r.id = id
            r.document = JCS.serialize(["n": .number(Double(n))])
            r.validFrom = validFrom; r.validTo = validTo
            if transaction {
                var other = r
                other.id = id + "-pair"
                try store.append([r, other])
            } else {
                try store.append(r)
            }
        }
        for i in 0..<200 {
            try put("u\(i % 20)", i, transaction: i % 10 == 3)
            if i % 40 == 39 {
                var d = Record(type: .delete, seq: 0, time: 0)
                d.collection = "users"; d.id = "u\(i % 7)"
                try store.append(d)
            }
        }
        try put("dated", 1)
        try put("dated", 2, validFrom: 1_000, validTo: 2_000)
        try put("dated", 3, validFrom: 3_000)
        for i in 0..<40 { try put("late\(i)", i) }
        try store.close()
    }

    func records(_ dir: String) throws -> [Record] {
        var ro = StoreOptions(); ro.readOnly = true
        let store = try LogStore.open(dir, options: ro)
        var out: [Record] = []
        try store.scan(from: 0, through: store.lastSeq) { out.append($0); return true }
        return out
    }

    @Test func prunedRecordsNameWhatAVerifierChecks() throws {
        let s = Scratch()
        try makeHistory(s.sub("db"))
        let before = try records(s.sub("db"))
        let dated = before.filter { $0.id == "dated" }.map(\.seq)
        let retention = dated.last! + 5
        let instants = ["1970-01-01T00:00:00.0015Z", "1970-01-01T00:00:00.0025Z", "1970-01-01T00:00:00.0035Z"]
        func datedReads() throws -> [String] {
            try instants.map { try Tools.run("nedb", ["get", s.sub("db"), "users", "dated", "--valid-at", $0]).out }
        }
        let datedBefore = try datedReads()
        #expect(Set(datedBefore).count == 3)
        let r = try Tools.run("nedb-compact", [s.sub("db"), "--retain-from", "\(retention)", "--json"])
        #expect(r.code == 0, "\(r.err)")
        let after = try records(s.sub("db"))
        let pruned = after.filter { $0.type == .pruned }
        #expect(pruned.count > 100)
        let compaction = try #require(after.last { $0.type == .compaction })
        #expect(compaction.prunedCount == UInt64(pruned.count) && compaction.prunedSet != nil)
        #expect(compaction.prunedSet == KeyDerivation.prunedSet(pruned.map(\.seq)))
        let storeId = try #require(before.first?.storeId)
        let digestKey = try #require(KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: false, keyring: nil))
        let bySeq = Dictionary(uniqueKeysWithValues: before.map { ($0.seq, $0) })
        for p in pruned {
            let original = try #require(bySeq[p.seq])
            #expect(p.prunedType == original.type && p.prunedBy == compaction.seq && p.time == original.time)
            // The transaction mark survives pruning (§3.6: every record of a transaction carries it).
            #expect(p.transaction == original.transaction)
            #expect(p.keyDigest == KeyDerivation.prunedKeyDigest(key: digestKey, collection: original.collection!, id: original.id!))
            let hiderSeq = try #require(p.supersededBy)
            let hider = try #require(bySeq[hiderSeq])
            #expect(hider.key == original.key && hider.seq > p.seq && hider.seq < retention)
            #expect(hider.type == .delete || (hider.validFrom == nil && hider.validTo == nil))
        }
        #expect(pruned.contains { $0.transaction != nil })
        // The first version of "dated" is hidden at no instant by the later, dated ones: kept.
        #expect(!pruned.contains { dated.contains($0.seq) })
        let verify = try Tools.run("nedb-verify", [s.sub("db"), "--json"])
        #expect(verify.code == 0, "\(verify.out)")
        // Reads at or after the retention point answer; below it they are refused, not guessed.
        #expect(try Tools.run("nedb", ["get", s.sub("db"), "users", "late3", "--as-of", "\(retention)"]).code == 0)
        let old = try Tools.run("nedb", ["get", s.sub("db"), "users", "u5", "--as-of", "\(retention - 10)"])
        #expect(old.code == 2 && old.err.contains("pruned"), "\(old.code) \(old.err)")
        let query = try Tools.run("nedb", ["query", s.sub("db"), "FROM users AS OF \(retention - 10)"])
        #expect(query.code == 2 && query.err.contains("pruned"), "\(query.code) \(query.err)")
        // Valid-time reads at the head are what they were before pruning.
        #expect(try datedReads() == datedBefore)
        // A checkpoint made after the pruning carries the history bound: reopening from it still refuses.
        #expect(try Tools.run("nedb", ["checkpoint", s.sub("db")]).code == 0)
        let again = try Tools.run("nedb", ["get", s.sub("db"), "users", "u5", "--as-of", "\(retention - 10)"])
        #expect(again.code == 2 && again.err.contains("pruned"), "\(again.err)")
    }

    /// In an encrypted store the key digests are keyed by data key 0: with the key every pruned
    /// record is checked against the record that hid it; without it only order and commitment.
    @Test func encryptedPruningIsCheckedWithTheKey() throws {
        let s = Scratch()
        let key = Hex.encode(SecureRandom.bytes(32))
        try key.write(toFile: s.sub("k"), atomically: true, encoding: .utf8)
        for i in 0..<30 {
            #expect(try Tools.run("nedb", ["put", s.sub("db"), "users", "u\(i % 4)", "{\"n\": \(i)}", "--key-file", s.sub("k")]).code == 0)
        }
        #expect(try Tools.run("nedb-compact", [s.sub("db"), "--retain-from", "25", "--key-file", s.sub("k")]).code == 0)
        let keyed = try Tools.run("nedb-verify", [s.sub("db"), "--key-file", s.sub("k"), "--json"])
        #expect(keyed.code == 0 && !keyed.out.contains("could not be read"), "\(keyed.out)")
        let keyless = try Tools.run("nedb-verify", [s.sub("db"), "--json"])
        #expect(keyless.code == 0 && keyless.out.contains("could not be read"), "\(keyless.out)")
    }

    /// The attack of issue 13: a document's current version replaced by a pruned record with the
    /// same chain hash, footer and manifest rebuilt. It passed verification before pruned records
    /// named what they pruned and compaction records committed to the set.
    @Test func aForgedPrunedRecordIsFound() throws {
        let s = Scratch()
        try makeHistory(s.sub("db"))
        let before = try records(s.sub("db"))
        let retention = try #require(before.first { $0.id == "late0" }).seq
        #expect(try Tools.run("nedb-compact", [s.sub("db"), "--retain-from", "\(retention)"]).code == 0)
        let all = try records(s.sub("db"))
        let compaction = try #require(all.last { $0.type == .compaction })
        // The victim: the current version of u19 (nothing hides it), below the retention point.
        let victim = try #require(all.last { $0.id == "u19" && $0.type == .put })
        #expect(victim.seq < retention)
        // Three forgeries: in the compaction's name (not in its committed set), in the legacy
        // form, and naming a record that is not a compaction record.
        var inName = Record(type: .pruned, seq: victim.seq, time: victim.time)
        inName.prunedType = .put; inName.supersededBy = victim.seq + 1; inName.prunedBy = compaction.seq
        inName.keyDigest = Hash32(bytes: [UInt8](repeating: 1, count: 32))
        inName.transaction = victim.transaction
        var legacy = Record(type: .pruned, seq: victim.seq, time: victim.time)
        legacy.prunedType = .put
        legacy.transaction = victim.transaction
        var notCompaction = inName
        notCompaction.prunedBy = compaction.seq - 1
        for (forged, expected) in [(inName, "commits to another set"), (legacy, "no compaction record declares"),
                                   (notCompaction, "not a compaction record")] {
            let copy = Scratch()
            try FileManager.default.copyItem(atPath: s.sub("db"), toPath: copy.sub("db"))
            try replaceSealedFrame(in: copy.sub("db"), seq: victim.seq, with: forged)
            let verify = try Tools.run("nedb-verify", [copy.sub("db"), "--json"])
            #expect(verify.code == 1, "\(expected): \(verify.out)")
            let details = try Tools.json(verify.out)["issues"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
            #expect(details.contains { $0.contains(expected) }, "\(expected): \(details)")
            // The verified prefix ends before the segment holding the forged record.
            // (Compaction merged everything into segment 0 here, so nothing is vouched for.)
            let head = try Tools.json(verify.out)["head"]?["seq"]?.numberValue
            #expect(head.map { $0 < Double(victim.seq) } ?? true, "\(expected): head \(head ?? -1)")
            // Reads refuse too: the forged record would otherwise hide u19's value.
            #expect(try Tools.run("nedb", ["get", copy.sub("db"), "users", "u19"]).code == 3)
        }
    }

    /// Rewrites the sealed segment holding `seq` with `record` in its place — same chain hash, CRC,
    /// footer and Merkle levels rebuilt, MANIFEST removed — as someone with write access could.
    func replaceSealedFrame(in dir: String, seq: UInt64, with record: Record) throws {
        let fs = PosixFileSystem()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").sorted()
        var frontier = CompactRange(hasher: MerkleHasher(.blake2b256))
        for name in names {
            let path = dir + "/segments/" + name
            let segment = try SegmentFile.open(fs: fs, path: path)
            let footer = try #require(segment.footer)
            guard footer.meta.firstSeq <= seq && seq <= footer.meta.lastSeq else {
                frontier = try footer.frontier(hasher: MerkleHasher(.blake2b256), file: path, reader: segment.reader)
                continue
            }
            var accumulator = SegmentAccumulator(header: segment.header, frontier: frontier)
            var frames: [UInt8] = []
            var scanner = segment.scanner()
            while let event = try scanner.next() {
                guard case let .record(frame) = event else { continue }
                var bytes = frame.frameBytes
                if frame.seq == seq {
                    let body = RecordCodec.encodeBody(record)
                    var out = ByteWriter()
                    out.u32(UInt32(body.count + 1)); out.u32(0); out.u8(RecordType.pruned.rawValue); out.append(body)
                    out.hash(frame.view.storedChain)
                    bytes = out.bytes
                    let crc = bytes.withUnsafeBytes { Frame.crc32(frame: $0) }
                    bytes.replaceSubrange(4..<8, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
                }
                frames += bytes
                accumulator.add(frameLength: bytes.count, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
            }
            var file = segment.header.encode() + frames
            file += accumulator.footer().encode(dataEnd: UInt64(file.count))
            try Data(file).write(to: URL(fileURLWithPath: path))
            try? FileManager.default.removeItem(atPath: dir + "/MANIFEST")
            return
        }
        Issue.record("seq \(seq) is in no sealed segment")
    }
}
