import Testing
import Foundation
@testable import NEDB

func temporaryDatabasePath(_ tag: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("nedb-\(tag)-\(UUID().uuidString)").path
}

/// Transactions, preconditions, the metadata-name rule, replay protection and idempotency,
/// restarts and concurrency of the embedded engine.
@Suite struct EngineBehaviourTests {
    @Test func aFailedPreconditionWritesNothingAndNamesTheOperation() throws {
        let db = try Database.inMemory()
        let a = try db.put("acct", "a", ["balance": 100]).seq
        try db.put("acct", "b", ["balance": 0])
        let before = db.head
        do {
            try db.transaction([
                .put(collection: "acct", id: "a", document: ["balance": 50], precondition: .lastSeq(a)),
                .put(collection: "acct", id: "b", document: ["balance": 50], precondition: .lastSeq(a)),
            ])
            Issue.record("precondition should have failed")
        } catch {
            #expect(error.id == "precondition_failed")
            #expect("\(error)".hasPrefix("operation 1: precondition failed: acct:b was last written at seq"))
            #expect("\(error)".contains("not \(a)"))
        }
        #expect(db.head == before)
        #expect(try db.get("acct", "a")?["balance"] == 100)
        #expect(throws: DatabaseError.self) {
            try db.transaction([.put(collection: "acct", id: "a", document: [:], precondition: .mustNotExist)])
        }
        #expect(throws: DatabaseError.self) {
            try db.transaction([.delete(collection: "acct", id: "zz", precondition: .mustExist)])
        }
        // A transaction that passes applies every operation under consecutive seqs.
        let r = try db.transaction([
            .put(collection: "acct", id: "a", document: ["balance": 50], precondition: .lastSeq(a)),
            .put(collection: "acct", id: "c", document: ["balance": 50], precondition: .mustNotExist),
            .link(from: "acct:a", relation: "paid", to: "acct:c"),
        ])
        #expect(r.seq == before.seq + 3)
        #expect(try db.get("acct", "a")?.seq == before.seq + 1)
        #expect(try db.neighbors("acct:a") == ["acct:c"])
        // Deleted documents count as absent for mustNotExist.
        try db.delete("acct", "c")
        try db.transaction([.put(collection: "acct", id: "c", document: ["balance": 1], precondition: .mustNotExist)])
    }

    @Test func userFieldsMayNotStartWithAnUnderscoreAndMetadataNeverCollides() throws {
        let db = try Database.inMemory()
        #expect(throws: DatabaseError.self) { try db.put("c", "x", ["_id": "other"]) }
        #expect(throws: DatabaseError.self) { try db.put("c", "x", ["a": 1, "_seq": 3]) }
        #expect(throws: DatabaseError.self) { try db.put("c", "x", [1, 2]) }
        #expect(db.seq == 0)
        // Nested objects may use any names: metadata lives only at the top level.
        try db.put("c", "x", ["nested": ["_id": "kept"], "name": "n"])
        let doc = try #require(try db.get("c", "x"))
        #expect(doc["nested"]?["_id"] == "kept")
        let json = doc.json
        #expect(json["_id"] == "x" && json["_coll"] == "c" && json["_seq"] == .number(Double(doc.seq)))
        #expect(json["_hash"]?.stringValue?.count == 64)
        #expect(json["_valid_from"] == nil && json["_caused_by"] == nil)
    }

    @Test func noncesAndIdempotencyKeysSurviveARestart() throws {
        let dir = temporaryDatabasePath("replay")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = DatabaseOptions()
        options.durability = .always
        var db = try Database.open(dir, options: options)
        try db.put("e", "1", ["v": 1], WriteOptions(client: "app", nonce: 5))
        let first = try db.put("e", "2", ["v": 2], WriteOptions(idempotencyKey: "order-77"))
        #expect(!first.duplicate)
        let again = try db.put("e", "2", ["v": 999], WriteOptions(idempotencyKey: "order-77"))
        #expect(again == WriteResult(seq: first.seq, duplicate: true))
        #expect(throws: DatabaseError.self) { try db.put("e", "3", ["v": 3], WriteOptions(client: "app", nonce: 5)) }
        #expect(throws: DatabaseError.self) { try db.put("e", "3", ["v": 3], WriteOptions(client: "app")) }
        try db.close()

        db = try Database.open(dir, options: options)
        do {
            try db.put("e", "3", ["v": 3], WriteOptions(client: "app", nonce: 4))
            Issue.record("a stale nonce was accepted after restart")
        } catch {
            #expect(error.id == "stale_nonce")
            #expect("\(error)" == #"stale nonce 4 for client "app": last accepted nonce is 5"#)
        }
        #expect(try db.put("e", "2", ["v": 0], WriteOptions(idempotencyKey: "order-77")) == WriteResult(seq: first.seq, duplicate: true))
        #expect(try db.get("e", "2")?["v"] == 2)
        try db.put("e", "3", ["v": 3], WriteOptions(client: "app", nonce: 6))
        try db.put("e", "4", ["v": 4], WriteOptions(client: "other", nonce: 1))
        // A checkpoint carries the replay table too.
        try db.checkpoint()
        try db.close()
        db = try Database.open(dir, options: options)
        #expect(throws: DatabaseError.self) { try db.put("e", "5", [:], WriteOptions(client: "app", nonce: 6)) }
        #expect(try db.put("e", "2", [:], WriteOptions(idempotencyKey: "order-77")).duplicate)
        try db.close()
    }

    @Test func asOfAgreesWithAReferenceModel() throws {
        let db = try Database.inMemory()
        var rng = Rng(state: 99)
        // model[seq] = the whole visible state after that seq.
        var current: [String: JSONValue] = [:]
        var snapshots: [UInt64: [String: JSONValue]] = [:]
        var links: Set<String> = []
        var linkSnapshots: [UInt64: Set<String>] = [:]
        for _ in 0..<800 {
            let id = "k\(rng.int(40))"
            let seq: UInt64
            switch rng.int(10) {
            case 0:
                seq = try db.delete("m", id).seq
                current[id] = nil
            case 1:
                let target = "m:k\(rng.int(40))"
                seq = try db.link("m:\(id)", "r", target).seq
                links.insert("m:\(id)>\(target)")
            case 2:
                let target = "m:k\(rng.int(40))"
                seq = try db.unlink("m:\(id)", "r", target).seq
                links.remove("m:\(id)>\(target)")
            default:
                let doc: JSONValue = ["n": .number(Double(rng.int(1000))), "tag": .string(rng.pick(["x", "y", "z"]))]
                seq = try db.put("m", id, doc).seq
                current[id] = doc
            }
            snapshots[seq] = current
            linkSnapshots[seq] = links
        }
        for _ in 0..<150 {
            let at = UInt64(rng.int(Int(db.seq)) + 1)
            guard let expected = snapshots[at], let expectedLinks = linkSnapshots[at] else { continue }
            for i in 0..<40 {
                #expect(try db.get("m", "k\(i)", asOf: at)?.body == expected["k\(i)"], "k\(i) at \(at)")
            }
            let rows = try db.query("FROM m AS OF \(at) WHERE tag = \"x\"")
            let expectedIds = expected.filter { $0.value["tag"] == "x" }.keys.sorted()
            #expect(SeedConformanceTests.ids(rows) == expectedIds, "at \(at)")
            let node = "m:k\(rng.int(40))"
            let out = try db.neighbors(node, asOf: at)
            let modelOut = expectedLinks.filter { $0.hasPrefix(node + ">") }.map { String($0.dropFirst(node.count + 1)) }.sorted()
            #expect(out == modelOut, "\(node) at \(at)")
        }
    }

    @Test func concurrentWritersAndReadersSeeConsistentState() async throws {
        let dir = temporaryDatabasePath("concurrent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try Database.open(dir)
        try db.createIndex("c", "w", .eq)
        let writers = 4, perWriter = 250
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for i in 0..<perWriter {
                        try db.put("c", "w\(w)-\(i)", ["w": .number(Double(w)), "i": .number(Double(i))],
                                   WriteOptions(client: "writer-\(w)", nonce: UInt64(i + 1)))
                    }
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    var lastCount = 0
                    for _ in 0..<100 {
                        // A reader never sees a count going backwards, nor a row missing its index entry.
                        let at = db.seq
                        let all = try db.query("FROM c AS OF \(at) GROUP BY w COUNT").reduce(0) { $0 + Int($1["count"]?.numberValue ?? 0) }
                        let viaIndex = try (0..<writers).reduce(0) { $0 + (try db.query("FROM c AS OF \(at) WHERE w = \($1)").count) }
                        #expect(all == viaIndex)
                        #expect(all >= lastCount)
                        lastCount = all
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(db.seq == UInt64(1 + writers * perWriter))
        #expect(try db.query("FROM c GROUP BY w COUNT").map { $0["count"] } == Array(repeating: .number(Double(perWriter)), count: writers))
        #expect(db.verify().ok)
        try db.close()
        let reopened = try Database.open(dir)
        #expect(reopened.seq == UInt64(1 + writers * perWriter))
        try reopened.close()
    }

    @Test func aReadOnlyReaderFollowsAWriterInTheSameDirectory() throws {
        let dir = temporaryDatabasePath("reader")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try Database.open(dir)
        try db.put("u", "a", ["v": 1], WriteOptions(durability: .always))
        let reader = try Reader.open(dir)
        #expect(try reader.get("u", "a")?["v"] == 1)
        try db.put("u", "a", ["v": 2], WriteOptions(durability: .always))
        try db.link("u:a", "knows", "u:b", WriteOptions(durability: .always))
        #expect(try reader.get("u", "a")?["v"] == 1)
        try reader.refresh()
        #expect(reader.seq == db.seq)
        #expect(try reader.get("u", "a")?["v"] == 2)
        #expect(try reader.get("u", "a", asOf: 1)?["v"] == 1)
        #expect(try reader.neighbors("u:a") == ["u:b"])
        #expect(reader.verify().ok)
        try db.close()
    }

    @Test func onlyTheTwoNewestCheckpointsAreKept() throws {
        let dir = temporaryDatabasePath("checkpoints")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try Database.open(dir)
        var seqs: [UInt64] = []
        for i in 0..<3 {
            try db.put("c", "d\(i)", ["i": .number(Double(i))])
            seqs.append(try db.checkpoint().seq)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").sorted()
        #expect(names == seqs.suffix(2).map { String(repeating: "0", count: 20 - String($0).count) + String($0) + ".nckp" })
        try db.close()
        let reopened = try Database.open(dir)
        #expect(try reopened.get("c", "d0")?["i"] == 0)
        try reopened.close()
    }

    @Test func badArgumentsAreRejectedWithAReason() throws {
        let db = try Database.inMemory()
        func reason(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(reason { try db.put("c", "x", [:], WriteOptions(validFrom: "2024-02-30")) }.contains("not a date"))
        #expect(reason { try db.put("c", "x", [:], WriteOptions(causedBy: [99])) }.contains("does not exist yet"))
        #expect(reason { try db.put("c", "x", [:], WriteOptions(nonce: 3)) }.contains("client and nonce"))
        #expect(reason { try db.link("nocolon", "r", "c:x") }.contains("not collection:id"))
        #expect(reason { try db.delete("c", "x", WriteOptions(validFrom: "2024-01-01")) }.contains("no valid time"))
        #expect(reason { _ = try db.query("FROM c WHERE") }.contains("column 13"))
        #expect(reason { try db.transaction([]) }.contains("at least one"))
        #expect(db.seq == 0)
    }
}
