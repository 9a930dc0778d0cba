import Testing
import Foundation
@testable import NEDB

struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
}

/// Index-vs-scan equivalence: random data, random queries, identical rows.
@Suite struct QueryPropertyTests {
    static let statuses: [JSONValue] = ["active", "retired", "pending", 1, 1.0, true, .null]
    static let words = ["rust", "swift", "Rust", "hacker", "Grüße", "δοκιμή", "dev", "ops", "naïve", "straße"]

    static func randomDocument(_ rng: inout Rng) -> JSONValue {
        var o: [String: JSONValue] = [:]
        if rng.int(10) > 0 { o["status"] = rng.pick(statuses) }
        if rng.int(10) > 1 { o["age"] = rng.int(5) == 0 ? .string("\(rng.int(90))") : .number(Double(rng.int(90)) + (rng.int(4) == 0 ? 0.5 : 0)) }
        if rng.int(10) > 2 { o["bio"] = .string((0..<(1 + rng.int(4))).map { _ in rng.pick(words) }.joined(separator: rng.pick([" ", ", ", "-"]))) }
        if rng.int(3) == 0 { o["address"] = .object(["city": .string(rng.pick(["Oslo", "Lima", "Kyoto"]))]) }
        return .object(o)
    }

    static func randomQuery(_ rng: inout Rng, head: UInt64) -> String {
        var parts = ["FROM users"]
        if rng.int(3) == 0 { parts.append("AS OF \(rng.int(Int(head) + 1))") }
        var terms: [String] = []
        for _ in 0..<rng.int(3) {
            switch rng.int(9) {
            case 0: terms.append(#"status = "active""#)
            case 1: terms.append("status = \(rng.pick(["1", "true", "null", "\"retired\""]))")
            case 2: terms.append("age \(rng.pick(["<", "<=", ">", ">=", "=", "!="])) \(rng.int(90))")
            case 3: terms.append(#"status IN ("active", "pending", 1)"#)
            case 4: terms.append(#"NOT status = "retired""#)
            case 5: terms.append(#"(status = "active" OR age > 40)"#)
            case 6: terms.append(#"address.city = "Oslo""#)
            case 7: terms.append("EXISTS bio")
            default: terms.append(#"age >= "3""#)
            }
        }
        if !terms.isEmpty { parts.append("WHERE " + terms.joined(separator: rng.pick([" AND ", " AND ", " OR "]))) }
        if rng.int(3) == 0 { parts.append("SEARCH \"\(rng.pick(words))\(rng.int(2) == 0 ? " " + rng.pick(words) : "")\"") }
        if rng.int(2) == 0 { parts.append("ORDER BY \(rng.pick(["age", "age", "status", "bio", "_id", "address.city"])) \(rng.pick(["ASC", "DESC", ""]))") }
        if rng.int(2) == 0 { parts.append("LIMIT \(rng.int(12))") }
        if rng.int(5) == 0 { parts.append("OFFSET \(rng.int(5))") }
        if rng.int(6) == 0 { parts.append("GROUP BY status " + rng.pick(["COUNT", "SUM age", "AVG age", "MIN age", "MAX bio"])) }
        return parts.joined(separator: " ")
    }

    static func populate(_ db: Database, _ rng: inout Rng, _ operations: Range<Int>) throws {
        for i in operations {
            let id = "u\(rng.int(300))"
            if rng.int(10) == 0 { try db.delete("users", id) } else { try db.put("users", id, QueryPropertyTests.randomDocument(&rng)) }
            if i == 700 { try db.createIndex("users", "address.city", .eq) }
        }
    }

    /// Runs random queries with and without indexes; returns how many used an index.
    static func compareIndexedAndScanned(_ db: Database, _ rng: inout Rng, count: Int) throws -> Int {
        var usedIndex = 0
        for _ in 0..<count {
            let text = QueryPropertyTests.randomQuery(&rng, head: db.seq)
            let q = try QueryParser.parse(text)
            let indexed = try db.query(q, useIndexes: true)
            let scanned = try db.query(q, useIndexes: false)
            #expect(indexed.rows == scanned.rows, "\(text) (plan \(indexed.plan))")
            if indexed.plan != QueryExecutor.Plan.scan { usedIndex += 1 }
        }
        return usedIndex
    }

    static func defineIndexes(_ db: Database) throws {
        try db.createIndex("users", "status", .eq)
        try db.createIndex("users", "age", .ordered)
        try db.createIndex("users", "bio", .search)
    }

    @Test(arguments: [UInt64(11), 22])
    func indexesGiveExactlyTheRowsOfAScan(seed: UInt64) throws {
        let db = try Database.inMemory()
        var rng = Rng(state: seed)
        try QueryPropertyTests.defineIndexes(db)
        try QueryPropertyTests.populate(db, &rng, 0..<1500)
        #expect(try QueryPropertyTests.compareIndexedAndScanned(db, &rng, count: 600) > 200)
    }

    /// The same on a database reopened from a checkpoint: reads merge the checkpoint (base)
    /// with the records applied after it.
    @Test(arguments: [UInt64(33)])
    func indexesGiveExactlyTheRowsOfAScanAcrossACheckpoint(seed: UInt64) throws {
        let dir = temporaryDatabasePath("property")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = DatabaseOptions()
        options.checkpointEvery = nil
        options.durability = .none
        var rng = Rng(state: seed)
        var db = try Database.open(dir, options: options)
        try QueryPropertyTests.defineIndexes(db)
        try QueryPropertyTests.populate(db, &rng, 0..<900)
        try db.checkpoint()
        try db.close()
        db = try Database.open(dir, options: options)
        #expect(try QueryPropertyTests.compareIndexedAndScanned(db, &rng, count: 200) > 60)
        try QueryPropertyTests.populate(db, &rng, 600..<1400)
        #expect(try QueryPropertyTests.compareIndexedAndScanned(db, &rng, count: 400) > 130)
        try db.close()
    }

    @Test func semanticsOfComparisonsOrderingAndGrouping() throws {
        let db = try Database.inMemory()
        try db.put("t", "a", ["v": 2, "s": "b"])
        try db.put("t", "b", ["v": "2", "s": "a"])
        try db.put("t", "c", ["s": "c"])
        try db.put("t", "d", ["v": 10])
        try db.put("t", "e", ["v": 2.0, "n": ["x": 1]])
        func ids(_ q: String) throws -> [String] { try db.query(q).compactMap { $0["_id"]?.stringValue } }
        // Comparisons hold within one type; missing fields never match (not even !=).
        #expect(try ids("FROM t WHERE v = 2") == ["a", "e"])
        #expect(try ids("FROM t WHERE v != 2") == ["b", "d"])
        #expect(try ids("FROM t WHERE v > 1") == ["a", "d", "e"])
        #expect(try ids(#"FROM t WHERE v > "1""#) == ["b"])
        #expect(try ids("FROM t WHERE NOT v = 2") == ["b", "c", "d"])
        #expect(try ids("FROM t WHERE n.x = 1") == ["e"])
        // Missing values sort last ascending, first descending; ties by _id.
        #expect(try ids("FROM t ORDER BY v") == ["a", "e", "d", "b", "c"])
        #expect(try ids("FROM t ORDER BY v DESC") == ["c", "b", "d", "a", "e"])
        #expect(try ids("FROM t ORDER BY s, v DESC LIMIT 2 OFFSET 1") == ["a", "c"])
        // Without ORDER BY: by _id.
        #expect(try ids("FROM t") == ["a", "b", "c", "d", "e"])
        // Groups: one per distinct value (missing → null group first), ordered by key.
        #expect(try db.query("FROM t GROUP BY v COUNT") == [["v": .null, "count": 1], ["v": 2, "count": 2], ["v": 10, "count": 1], ["v": "2", "count": 1]])
        #expect(try db.query("FROM t GROUP BY s SUM v ORDER BY sum DESC LIMIT 1") == [["s": .null, "sum": 12]])
        #expect(try db.query("FROM t WHERE v > 5 GROUP BY s AVG v") == [["s": .null, "avg": 10]])
    }

    @Test func metadataFieldsAndInstantsCompareInTime() throws {
        let db = try Database.inMemory()
        try db.put("p", "a", ["v": 1], WriteOptions(validFrom: "2024-01-01T00:00:00.5Z"))
        try db.put("p", "b", ["v": 2], WriteOptions(validFrom: "2024-01-01", evidence: "x"))
        try db.put("p", "c", ["v": 3], WriteOptions(validFrom: "2023-06-01T12:00:00+02:00", validTo: "2024-01-01"))
        try db.put("p", "d", ["v": 4])
        func ids(_ q: String) throws -> [String] { try db.query(q).compactMap { $0["_id"]?.stringValue } }
        // As text "…00.5Z" sorts before "…00Z"; as instants it is later.
        #expect(try ids("FROM p ORDER BY _valid_from") == ["c", "b", "a", "d"])
        #expect(try ids(#"FROM p WHERE _valid_from > "2024-01-01""#) == ["a"])
        #expect(try ids(#"FROM p WHERE _valid_from <= "2024-01-01T00:00:00Z""#) == ["b", "c"])
        #expect(try ids(#"FROM p WHERE _valid_from = "2023-06-01T10:00:00Z""#) == ["c"])
        #expect(try ids(#"FROM p WHERE _valid_to IN ("2024-01-01")"#) == ["c"])
        #expect(try ids(#"FROM p WHERE _time >= "2000-01-01" AND _seq >= 2"#) == ["b", "c", "d"])
        #expect(try ids(#"FROM p WHERE EXISTS _evidence OR _id = "d""#) == ["b", "d"])
        #expect(try ids("FROM p ORDER BY _seq DESC LIMIT 2") == ["d", "c"])
        // Unknown metadata and non-date instants are errors, not empty results.
        for (text, fragment) in [("FROM p WHERE _idd = 1", "unknown metadata field '_idd'"), ("FROM p ORDER BY _id.x", "no sub-fields"),
                                 ("FROM p WHERE _time > 5", "is an instant"), (#"FROM p WHERE _valid_to IN ("soon")"#, "is an instant")] {
            #expect(throws: QueryError.self, "\(text)") { try QueryParser.parse(text) }
            do { _ = try QueryParser.parse(text) } catch { #expect(error.message.contains(fragment), "\(text): \(error)") }
        }
    }

    @Test func searchTokenisesUnicodeAndRequiresEveryTerm() throws {
        let db = try Database.inMemory()
        try db.put("d", "1", ["t": "Grüße aus Zürich, RUST-hacker"])
        try db.put("d", "2", ["t": "rust dev", "tags": ["ΔΟΚΙΜΉ"]])
        func ids(_ q: String) throws -> [String] { try db.query(q).compactMap { $0["_id"]?.stringValue } }
        #expect(try ids(#"FROM d SEARCH "rust""#) == ["1", "2"])
        #expect(try ids(#"FROM d SEARCH "GRÜSSE""#) == [])          // case folding, not transliteration
        #expect(try ids(#"FROM d SEARCH "grüße zürich""#) == ["1"])
        #expect(try ids(#"FROM d SEARCH "rust zürich dev""#) == [])
        #expect(try ids(#"FROM d SEARCH "δοκιμή""#) == ["2"])
        #expect(try ids(#"FROM d SEARCH t "δοκιμή""#) == [])
        #expect(try ids(#"FROM d SEARCH "  ,, ""#) == [])
        try db.createIndex("d", "t", .search)
        #expect(try ids(#"FROM d SEARCH "δοκιμή""#) == [])           // with a search index only indexed fields count
        #expect(try ids(#"FROM d SEARCH "hacker""#) == ["1"])
    }

    @Test func traverseAndTraceDepthDirectionAndAsOf() throws {
        let db = try Database.inMemory()
        for n in ["a", "b", "c", "d"] { try db.put("n", n, ["name": .string(n)]) }
        try db.link("n:a", "to", "n:b")
        try db.link("n:b", "to", "n:c")
        try db.link("n:c", "to", "n:a")
        let before = db.seq
        try db.link("n:c", "to", "n:d")
        try db.unlink("n:a", "to", "n:b")
        func ids(_ q: String) throws -> [String] { try db.query(q).compactMap { $0["_id"]?.stringValue } }
        #expect(try ids(#"FROM n WHERE _id = "b" TRAVERSE to DEPTH 3"#) == ["c", "a", "d"])
        #expect(try ids(#"FROM n WHERE _id = "a" TRAVERSE to"#) == [])
        #expect(try ids(#"FROM n AS OF \#(before) WHERE _id = "a" TRAVERSE to DEPTH 5"#) == ["b", "c"])
        #expect(try ids(#"FROM n WHERE _id = "a" TRAVERSE to INBOUND"#) == ["c"])
        #expect(try db.neighbors("n:c", relation: "to") == ["n:a", "n:d"])
        #expect(try db.inbound("n:b", asOf: before) == ["n:a"])
        // Causes: a chain e1 ← e2 ← e3; TRACE follows to the root cause, REVERSE to the effects.
        let s1 = try db.put("e", "1", ["k": 1]).seq
        let s2 = try db.put("e", "2", ["k": 2], WriteOptions(causedBy: [s1])).seq
        try db.put("e", "3", ["k": 3], WriteOptions(causedBy: [s2]))
        #expect(try ids(#"FROM e WHERE _id = "3" TRACE caused_by"#) == ["1", "2"])
        #expect(try ids(#"FROM e WHERE _id = "3" TRACE caused_by DEPTH 1"#) == ["2"])
        #expect(try ids(#"FROM e WHERE _id = "1" TRACE caused_by REVERSE"#) == ["2", "3"])
        #expect(try ids(#"FROM e AS OF \#(s2) WHERE _id = "1" TRACE caused_by REVERSE"#) == ["2"])
    }

    @Test(arguments: [
        ("FORM users", 1, "expected FROM"),
        ("FROM users WHERE", 17, "expected a field name"),
        ("FROM users WHERE age >", 23, "expected a value"),
        (#"FROM users WHERE age = "x" LIMIT -1"#, 34, "whole number"),
        ("FROM users ORDER age", 18, "expected BY"),
        (#"FROM users VALID AS OF "2024-13-01""#, 24, "is not a date"),
        ("FROM users LIMIT 1 LIMIT 2", 20, "only once"),
        (#"FROM users WHERE name = "x"#, 25, "unterminated string"),
        ("FROM users TRACE parents", 18, "expected caused_by"),
        ("FROM users TRAVERSE f TRACE caused_by", 23, "cannot be combined"),
        ("FROM users WHERE (a = 1", 24, "expected ')'"),
        ("from users where status = 'x' order by age desc", 0, ""),
        ("FROM users WHERE `order` = 1 AND `group`.`by` IN (1, 2) ORDER BY `limit`", 0, ""),
        ("FROM users WHERE order = 1", 18, "expected a field name"),
        ("FROM users WHERE `a.b` = 1", 18, "cannot contain '.'"),
        ("FROM users WHERE a = 1 &", 24, "unexpected character '&'"),
        (#"FROM users WHERE a = "\q""#, 23, "unknown escape"),
    ])
    func errorsNameThePositionAndTheExpectedToken(text: String, column: Int, fragment: String) {
        do {
            _ = try QueryParser.parse(text)
            #expect(column == 0, "\(text) parsed")
        } catch {
            #expect(error.column == column, "\(text): \(error)")
            #expect(error.message.contains(fragment), "\(text): \(error)")
        }
    }
}
