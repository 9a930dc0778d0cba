import Testing
import Foundation
@testable import NEDB

/// The examples of the product description (../shared/seed.txt), translated to Swift, with the
/// results the description states.
@Suite struct SeedConformanceTests {
    static func ids(_ rows: [JSONValue]) -> [String] { rows.compactMap { $0["_id"]?.stringValue } }

    static func runSeed(_ db: Database) throws {
        try db.createIndex("users", "status", .eq)
        try db.createIndex("users", "bio", .search)
        try db.put("users", "alice", ["name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"])
        try db.put("users", "bob", ["name": "Bob", "age": 24, "status": "active", "bio": "python dev"])

        #expect(ids(try db.query(#"FROM users WHERE status = "active" ORDER BY age ASC"#)) == ["bob", "alice"])
        #expect(ids(try db.query(#"FROM users SEARCH "rust""#)) == ["alice"])
        #expect(try db.query("FROM users GROUP BY status COUNT") == [["status": "active", "count": 2]])

        let snap = db.seq
        try db.put("users", "alice", ["name": "Alice", "age": 32, "status": "retired"])
        let old = try #require(try db.get("users", "alice", asOf: snap))
        #expect(old["age"] == 31 && old["status"] == "active")
        #expect(try db.get("users", "alice")?["age"] == 32)

        try db.put("policy", "rate_2024", ["pct": 5.0], WriteOptions(validFrom: "2024-01-01", validTo: "2024-12-31"))
        try db.put("policy", "rate_2025", ["pct": 6.0], WriteOptions(validFrom: "2025-01-01"))
        let rate = try db.query(#"FROM policy VALID AS OF "2024-06-15""#)
        #expect(ids(rate) == ["rate_2024"] && rate.first?["pct"] == 5)

        try db.put("inputs", "msg_1", ["text": "user prefers dark mode"])
        let seqMsg = db.seq
        try db.put("beliefs", "dark_mode", ["value": true], WriteOptions(causedBy: [seqMsg], evidence: "user_message", confidence: 0.95))
        #expect(ids(try db.query(#"FROM beliefs WHERE _id = "dark_mode" TRACE caused_by"#)) == ["msg_1"])
        #expect(ids(try db.query(#"FROM inputs WHERE _id = "msg_1" TRACE caused_by REVERSE"#)) == ["dark_mode"])

        try db.link("users:alice", "follows", "users:bob")
        #expect(ids(try db.query(#"FROM users WHERE _id = "alice" TRAVERSE follows"#)) == ["bob"])

        #expect(db.verify().ok)
        // Both time axes: at the seq when only rate_2024 existed, what was true on 2024-02-15?
        #expect(ids(try db.query(#"FROM policy AS OF \#(db.seq) VALID AS OF "2024-02-15""#)) == ["rate_2024"])
        let belief = try #require(try db.get("beliefs", "dark_mode"))
        #expect(belief.json["_caused_by"] == [.number(Double(seqMsg))])
        #expect(belief.json["_evidence"] == "user_message" && belief.json["_confidence"] == 0.95)
    }

    @Test func seedExamplesInMemory() throws {
        try SeedConformanceTests.runSeed(try Database.inMemory())
    }

    @Test func seedExamplesOnDiskSurviveRestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nedb-seed-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = DatabaseOptions()
        options.durability = .always
        let db = try Database.open(dir, options: options)
        try SeedConformanceTests.runSeed(db)
        let before = try db.query("FROM users ORDER BY _id")
        let head = db.head
        try db.close()
        // Everything survives a restart: documents, history, indexes, relations, causes, valid times.
        let reopened = try Database.open(dir, options: options)
        #expect(reopened.head == head)
        #expect(try reopened.query("FROM users ORDER BY _id") == before)
        #expect(reopened.indexes().count == 2)
        #expect(SeedConformanceTests.ids(try reopened.query(#"FROM users WHERE _id = "alice" TRAVERSE follows"#)) == ["bob"])
        #expect(SeedConformanceTests.ids(try reopened.query(#"FROM inputs WHERE _id = "msg_1" TRACE caused_by REVERSE"#)) == ["dark_mode"])
        #expect(SeedConformanceTests.ids(try reopened.query(#"FROM policy VALID AS OF "2024-06-15""#)) == ["rate_2024"])
        #expect(try reopened.history("users", "alice").count == 2)
        // And after a checkpoint too.
        try reopened.checkpoint()
        try reopened.close()
        let third = try Database.open(dir, options: options)
        #expect(try third.query("FROM users ORDER BY _id") == before)
        #expect(try third.get("users", "alice", asOf: 4)?["age"] == 31)
        #expect(third.verify().ok)
    }
}
