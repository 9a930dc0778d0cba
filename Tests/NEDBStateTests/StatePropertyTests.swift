import Testing
@testable import NEDBState
import NEDBStore

/// A naive reference model: the list of records, searched linearly for every question.
struct Reference {
    var records: [Record] = []

    func document(_ c: String, _ id: String, asOf: UInt64, validAt: Int64?) -> (seq: UInt64, doc: [UInt8])? {
        for r in records.reversed() where r.seq <= asOf && r.collection == c && r.id == id && (r.type == .put || r.type == .delete) {
            if let t = validAt, r.type == .put {
                if let f = r.validFrom, t < f { continue }
                if let e = r.validTo, t >= e { continue }
            }
            return r.type == .delete ? nil : (r.seq, r.document!)
        }
        return nil
    }

    func edgeExists(_ from: String, _ rel: String, _ to: String, asOf: UInt64) -> Bool {
        var exists = false
        for r in records where r.seq <= asOf && (r.type == .link || r.type == .unlink) {
            guard "\(r.collection!):\(r.id!)" == from, r.relation == rel, "\(r.targetCollection!):\(r.targetId!)" == to else { continue }
            exists = r.type == .link
        }
        return exists
    }

    func effects(of seq: UInt64, asOf: UInt64) -> [UInt64] {
        records.filter { $0.seq <= asOf && $0.causedBy.contains(seq) }.map(\.seq)
    }
}

struct Generator {
    var rng: SplitMix
    let ids = (0..<25).map { "d\($0)" }
    let colls = ["users", "orders", "policy"]

    mutating func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }

    mutating func record(nextSeq: UInt64) -> Record {
        let roll = rng.next() % 100
        let c = pick(colls), id = pick(ids)
        var r: Record
        if roll < 55 {
            r = Record(type: .put, seq: 0, time: 0)
            r.collection = c; r.id = id
            r.document = JCS.serialize(["v": .number(Double(rng.next() % 1000)), "s": .string(pick(["a", "b", "c"])),
                                        "t": .string(pick(["rust hacker", "python dev", "Grüße Welt", "swift"]))])
            if rng.next() % 4 == 0 {
                let from = Int64(rng.next() % 100) * 1_000_000
                r.validFrom = from
                if rng.next() % 2 == 0 { r.validTo = from + Int64(1 + rng.next() % 50) * 1_000_000 }
            }
            if nextSeq > 2 && rng.next() % 3 == 0 {
                let a = 1 + rng.next() % (nextSeq - 1), b = 1 + rng.next() % (nextSeq - 1)
                r.causedBy = Array(Set([a, b])).sorted()
                r.evidence = "e\(nextSeq)"
                r.confidence = Double(rng.next() % 100) / 100
            }
        } else if roll < 65 {
            r = Record(type: .delete, seq: 0, time: 0)
            r.collection = c; r.id = id
        } else if roll < 90 {
            r = Record(type: rng.next() % 3 == 0 ? .unlink : .link, seq: 0, time: 0)
            r.collection = c; r.id = id; r.relation = pick(["follows", "owns"])
            r.targetCollection = pick(colls); r.targetId = pick(ids)
        } else if roll < 95 {
            r = Record(type: .defineIndex, seq: 0, time: 0)
            r.collection = c; r.indexField = pick(["v", "s", "t"])
            r.indexKind = r.indexField == "t" ? .search : (r.indexField == "v" ? .ordered : .eq)
        } else {
            r = Record(type: .put, seq: 0, time: 0)
            r.collection = c; r.id = id; r.document = JCS.serialize(["v": 1])
            r.client = pick(["app", "cli"]); r.nonce = nextSeq
            r.idempotencyKey = "k\(rng.next() % 1000)"
        }
        return r
    }
}

struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct StatePropertyTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func replayCheckpointAndLiveAgree(seed: UInt64) throws {
        var options = StoreOptions.inMemory()
        options.segmentSize = 16 * 1024
        let store = try LogStore.open("/db", options: options)
        let live = try DatabaseState()
        var genesisReport = LoadReport()
        try StateLoader.replay(store: store, into: live, from: 0, through: 0, report: &genesisReport)
        var reference = Reference()
        reference.records.append(try store.record(0))
        var gen = Generator(rng: SplitMix(state: seed))
        var checkpointAt: UInt64 = 0
        for i in 0..<2500 {
            let draft = gen.record(nextSeq: store.lastSeq + 1)
            let ticket: AppendTicket
            do { ticket = try store.enqueue([draft]) } catch { continue }   // stale nonces are refused
            try store.wait(for: ticket)
            for r in ticket.records {
                try live.apply(r, chain: try store.chainHash(seq: r.seq))
                reference.records.append(r)
            }
            if i == 1200 {
                let info = try StateLoader.writeCheckpoint(live, store: store)
                checkpointAt = info.seq
                let marker = try store.record(store.lastSeq)
                try live.apply(marker, chain: try store.chainHash(seq: marker.seq))
                reference.records.append(marker)
            }
        }
        let (fromCheckpoint, report) = try StateLoader.load(store: store)
        #expect(report.checkpointSeq == checkpointAt)
        #expect(report.replayed == store.lastSeq - checkpointAt)
        let (full, fullReport) = try StateLoader.load(store: store, useCheckpoints: false)
        #expect(fullReport.checkpointSeq == nil)
        let d1 = try StateLoader.digest(live), d2 = try StateLoader.digest(fromCheckpoint), d3 = try StateLoader.digest(full)
        #expect(d1 == d2)
        #expect(d1 == d3)

        // Every AS OF read agrees with the reference, from each of the three states.
        var rng = SplitMix(state: seed ^ 0xABCD)
        let head = store.lastSeq
        for _ in 0..<1500 {
            let c = gen.pick(gen.colls), id = gen.pick(gen.ids)
            let asOf = rng.next() % (head + 1)
            let validAt: Int64? = rng.next() % 3 == 0 ? Int64(rng.next() % 120) * 1_000_000 : nil
            let expected = reference.document(c, id, asOf: asOf, validAt: validAt)
            for state in [live, fromCheckpoint, full] {
                let got = try state.document(collection: c, id: id, at: ReadPoint(asOf: asOf, validAt: validAt))
                #expect(got?.version.seq == expected?.seq, "\(c):\(id) asOf \(asOf) validAt \(String(describing: validAt))")
                #expect(got?.version.documentBytes == expected?.doc)
            }
            let from = "\(c):\(id)", to = "\(gen.pick(gen.colls)):\(gen.pick(gen.ids))", rel = gen.pick(["follows", "owns"])
            let exists = reference.edgeExists(from, rel, to, asOf: asOf)
            for state in [live, fromCheckpoint, full] {
                #expect(try state.outgoing(from: from, relation: rel, at: asOf).contains(EdgeKey(from: from, relation: rel, to: to)) == exists)
                #expect(try state.incoming(to: to, relation: rel, at: asOf).contains(EdgeKey(from: from, relation: rel, to: to)) == exists)
            }
            let cause = rng.next() % (head + 1)
            let effects = reference.effects(of: cause, asOf: asOf)
            for state in [live, fromCheckpoint, full] { #expect(try state.effects(of: cause, asOf: asOf) == effects) }
        }
        // Time travel below the checkpoint works after loading it.
        #expect(try fromCheckpoint.document(collection: "users", id: "d1", at: ReadPoint(asOf: 5))?.version.seq
                == reference.document("users", "d1", asOf: 5, validAt: nil)?.seq)
    }

    @Test func aCorruptCheckpointIsSkippedNotTrusted() throws {
        let fs = MemoryFileSystem()
        var options = StoreOptions()
        options.fileSystem = fs
        let store = try LogStore.open("/db", options: options)
        var gen = Generator(rng: SplitMix(state: 9))
        for _ in 0..<300 { _ = try? store.append(gen.record(nextSeq: store.lastSeq + 1)) }
        let (state, _) = try StateLoader.load(store: store)
        let info = try StateLoader.writeCheckpoint(state, store: store)
        for _ in 0..<50 { _ = try? store.append(gen.record(nextSeq: store.lastSeq + 1)) }
        let good = try StateLoader.digest(try StateLoader.load(store: store, useCheckpoints: false).0)
        var bytes = fs.contents(info.path)!
        bytes[CheckpointHeader.length + 100] ^= 1
        fs.setContents(info.path, bytes)
        let (loaded, report) = try StateLoader.load(store: store)
        #expect(report.checkpointSeq == nil)
        #expect(report.skipped.count == 1)
        #expect(try StateLoader.digest(loaded) == good)
    }
}
