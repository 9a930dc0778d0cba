import Foundation
import Testing
import NEDBFormat
import NEDBStore
import NEDBFixtureKit

/// What FORMAT revision 1.1 settled that 1.0 left open (spec/FORMAT.md Appendix C), each checked
/// on real files.
@Suite struct SpecRevisionTests {
    func copyFixture(_ name: String, to s: Scratch) throws -> String {
        try FileManager.default.copyItem(atPath: Tools.fixtures + "/" + name, toPath: s.sub(name))
        return s.sub(name)
    }

    func segments(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").sorted().map { dir + "/segments/" + $0 }
    }

    @Test func versionZeroIsDamageNotAnOldVersion() throws {
        let s = Scratch()
        let dir = try copyFixture("valid-small", to: s)
        let path = try segments(dir)[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[8] = 0; bytes[9] = 0
        let crc = CRC32C.checksum(Array(bytes[0..<124]))
        bytes.replaceSubrange(124..<128, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        #expect(throws: FormatError.self) { try SegmentHeader.decode(Array(bytes[0..<128])) }
        do { _ = try SegmentHeader.decode(Array(bytes[0..<128])) } catch { #expect(error.id == "malformed") }
    }

    @Test func aRepeatedFooterChunkIsMalformed() throws {
        let s = Scratch()
        let dir = try copyFixture("multi-segment", to: s)
        let path = try segments(dir)[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let trailer = bytes.count - 40
        func u64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } }
        let toc = u64(trailer + 8)
        // The second chunk takes the first one's id; TOC and trailer CRCs recomputed.
        bytes.replaceSubrange((toc + 4 + 32)..<(toc + 4 + 36), with: Array(bytes[(toc + 4)..<(toc + 8)]))
        let tocLength = (0..<4).reduce(0) { $0 | Int(bytes[trailer + 16 + $1]) << (8 * $1) }
        let tocCRC = CRC32C.checksum(Array(bytes[toc..<(toc + tocLength)]))
        bytes.replaceSubrange((trailer + 20)..<(trailer + 24), with: withUnsafeBytes(of: tocCRC.littleEndian) { Array($0) })
        let trailerCRC = CRC32C.checksum(Array(bytes[trailer..<(trailer + 28)]))
        bytes.replaceSubrange((trailer + 28)..<(trailer + 32), with: withUnsafeBytes(of: trailerCRC.littleEndian) { Array($0) })
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let verify = try Tools.run("nedb-verify", [dir, "--json"])
        #expect(verify.code == 1)
        #expect(verify.out.contains("appears twice"), "\(verify.out)")
        // Footers are derived: the records still verify, the verified prefix reaches the head.
        #expect(try Tools.json(verify.out)["head"]?["seq"]?.numberValue == 600)
    }

    @Test func writersRefuseEmptyIdentifiers() throws {
        let s = Scratch()
        var options = StoreOptions(); options.durability = .none
        let store = try LogStore.open(s.sub("db"), options: options)
        defer { try? store.close() }
        for (client, key) in [("", nil), ("app", ""), ] as [(String, String?)] {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "c"; r.id = "i"; r.document = JCS.serialize(["v": 1])
            r.client = client; r.nonce = 1; r.idempotencyKey = key
            #expect(throws: StoreError.self) { try store.append(r) }
        }
        #expect(store.lastSeq == 0)
    }

    @Test func aTruncatedTornTailIsKeptInLostAndFound() throws {
        let s = Scratch()
        let dir = try copyFixture("torn-tail", to: s)
        let before = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try segments(dir)[0])))
        var options = StoreOptions(); options.create = false
        let store = try LogStore.open(dir, options: options)
        try store.close()
        let after = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try segments(dir)[0])))
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir + "/lost+found")
        #expect(kept.count == 1)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/lost+found/" + kept[0])))
        // Exactly the cut bytes: the truncated file plus them is the file before.
        #expect(!bytes.isEmpty && Array(after.prefix(after.count)) + bytes == Array(before.prefix(after.count + bytes.count)))
        #expect(try Tools.run("nedb-verify", [dir]).code == 0)
    }

    @Test func transactionMarksThatDoNotFitAreMalformed() throws {
        let s = Scratch()
        let builder = try LogBuilder(options: LogBuilder.Options(storeId: StoreID(bytes: [UInt8](repeating: 9, count: 16))!))
        for i in 0..<6 {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "c"; r.id = "i\(i)"; r.document = JCS.serialize(["v": .number(Double(i))])
            // Seqs 2–4 claim a transaction of four records from seq 2; seq 5 carries no mark.
            if (1...3).contains(i) { r.transaction = TransactionMark(firstSeq: 2, count: 4) }
            _ = try builder.append(r)
        }
        try builder.write(to: s.sub("db"))
        let verify = try Tools.run("nedb-verify", [s.sub("db"), "--json"])
        #expect(verify.code == 1)
        let messages = try Tools.json(verify.out)["issues"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
        #expect(messages.contains { $0.contains("ends after 3 of them") }, "\(messages)")
        #expect(try Tools.json(verify.out)["verdict"]?.stringValue == "corruption")
        // The broken transaction is not in the verified prefix: it ends before seq 2.
        #expect(try Tools.json(verify.out)["head"]?["seq"]?.numberValue == 1)
    }

    /// Revision 1.0 compaction dropped the transaction mark of the records it pruned: such stores
    /// still verify, whether the pruned records start a transaction or sit inside one.
    @Test func legacyPrunedRecordsInsideTransactionsStillVerify() throws {
        for prunedSeqs in [[1, 2], [2]] as [[UInt64]] {
            let s = Scratch()
            let builder = try LogBuilder(options: LogBuilder.Options(storeId: StoreID(bytes: [UInt8](repeating: 7, count: 16))!))
            func put(_ id: String, _ mark: TransactionMark?) throws {
                var r = Record(type: .put, seq: 0, time: 0)
                r.collection = "c"; r.id = id; r.document = JCS.serialize(["v": 1]); r.transaction = mark
                _ = try builder.append(r)
            }
            for id in ["a", "b", "c"] { try put(id, TransactionMark(firstSeq: 1, count: 3)) }
            try put("a", nil); try put("b", nil)
            var c = Record(type: .compaction, seq: 0, time: 0)
            c.retentionSeq = 5; c.prunedCount = UInt64(prunedSeqs.count)
            _ = try builder.append(c)
            try builder.write(to: s.sub("db"))
            let path = try segments(s.sub("db"))[0]
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            for seq in prunedSeqs.reversed() {
                let frame = try #require(try FileEdits.frames(in: path).first { $0.seq == seq })
                var p = Record(type: .pruned, seq: seq, time: builder.records[Int(seq)].time)
                p.prunedType = .put
                let body = RecordCodec.encodeBody(p)
                var w = ByteWriter()
                w.u32(UInt32(body.count + 1)); w.u32(0); w.u8(RecordType.pruned.rawValue); w.append(body)
                w.append(Array(bytes[(frame.offset + frame.length - 32)..<(frame.offset + frame.length)]))
                var forged = w.bytes
                let crc = forged.withUnsafeBytes { Frame.crc32(frame: $0) }
                forged.replaceSubrange(4..<8, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
                bytes.replaceSubrange(frame.offset..<(frame.offset + frame.length), with: forged)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let verify = try Tools.run("nedb-verify", [s.sub("db"), "--json"])
            #expect(verify.code == 0, "pruned \(prunedSeqs): \(verify.out)")
            #expect(verify.out.contains("legacy form"))
        }
    }

    /// The replay rules of §3.6, checked by nedb-verify when it decodes records (--documents or a
    /// key): a nonce not above the client's last, an idempotency key logged twice outside one
    /// transaction; several records of one transaction may share a key.
    @Test func replayRulesAreCheckedWhenRecordsAreDecoded() throws {
        func store(_ s: Scratch, _ edit: (inout [Record]) -> Void) throws -> String {
            let builder = try LogBuilder(options: LogBuilder.Options(storeId: StoreID(bytes: [UInt8](repeating: 5, count: 16))!))
            var records: [Record] = (0..<4).map { i in
                var r = Record(type: .put, seq: 0, time: 0)
                r.collection = "c"; r.id = "i\(i)"; r.document = JCS.serialize(["v": .number(Double(i))])
                r.client = "app"; r.nonce = UInt64(10 + i)
                return r
            }
            // Records 3 and 4 (seqs) form a transaction sharing one idempotency key: allowed.
            records[2].transaction = TransactionMark(firstSeq: 3, count: 2); records[2].idempotencyKey = "pair"
            records[3].transaction = TransactionMark(firstSeq: 3, count: 2); records[3].idempotencyKey = "pair"
            edit(&records)
            for r in records { _ = try builder.append(r) }
            try builder.write(to: s.sub("db"))
            return s.sub("db")
        }
        let scratches = (Scratch(), Scratch(), Scratch())     // kept alive: a Scratch removes its directory
        let good = try store(scratches.0) { _ in }
        let ok = try Tools.run("nedb-verify", [good, "--documents"])
        #expect(ok.code == 0, "\(ok.out) \(ok.err)")
        let staleNonce = try store(scratches.1) { $0[1].nonce = 10 }
        let stale = try Tools.run("nedb-verify", [staleNonce, "--documents"])
        #expect(stale.code == 1 && stale.out.contains("is not above its nonce 10"), "\(stale.out)")
        // Without decoding the records (no --documents) the rule is not checked, and nothing is claimed.
        #expect(try Tools.run("nedb-verify", [staleNonce]).code == 0)
        let repeatedKey = try store(scratches.2) { $0[0].idempotencyKey = "pair" }
        let repeated = try Tools.run("nedb-verify", [repeatedKey, "--documents"])
        #expect(repeated.code == 1 && repeated.out.contains("was logged before, at seq 1"), "\(repeated.out)")
    }

    /// Pruning's third rule (FORMAT §3.7): a version named as a cause is never pruned; a pruned
    /// record that some record names in caused_by is malformed (checked when records are decoded).
    @Test func aPrunedCauseIsMalformed() throws {
        let s = Scratch()
        let storeId = StoreID(bytes: [UInt8](repeating: 3, count: 16))!
        let builder = try LogBuilder(options: LogBuilder.Options(storeId: storeId))
        for (id, causes) in [("a", []), ("a", []), ("b", [1])] as [(String, [UInt64])] {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "users"; r.id = id; r.document = JCS.serialize(["v": 1]); r.causedBy = causes
            _ = try builder.append(r)
        }
        var c = Record(type: .compaction, seq: 0, time: 0)
        c.retentionSeq = 3; c.prunedCount = 1; c.prunedSet = KeyDerivation.prunedSet([1])
        _ = try builder.append(c)
        try builder.write(to: s.sub("db"))
        let path = try segments(s.sub("db"))[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let frame = try #require(try FileEdits.frames(in: path).first { $0.seq == 1 })
        var p = Record(type: .pruned, seq: 1, time: builder.records[1].time)
        p.prunedType = .put; p.supersededBy = 2; p.prunedBy = 4; p.prunedFlags = 1
        p.keyDigest = KeyDerivation.prunedKeyDigest(key: try #require(KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: false, keyring: nil)),
                                                   collection: "users", id: "a")
        let body = RecordCodec.encodeBody(p)
        var w = ByteWriter()
        w.u32(UInt32(body.count + 1)); w.u32(0); w.u8(RecordType.pruned.rawValue); w.append(body)
        w.append(Array(bytes[(frame.offset + frame.length - 32)..<(frame.offset + frame.length)]))
        var forged = w.bytes
        FileEdits.fixCRC(&forged, frameAt: 0)
        bytes.replaceSubrange(frame.offset..<(frame.offset + frame.length), with: forged)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // Rules 1–2 and the set hold; only the cause gives it away, once records are decoded.
        #expect(try Tools.run("nedb-verify", [s.sub("db")]).code == 0)
        let decoded = try Tools.run("nedb-verify", [s.sub("db"), "--documents"])
        #expect(decoded.code == 1 && decoded.out.contains("names seq 1 as a cause"), "\(decoded.out)")
    }
}
