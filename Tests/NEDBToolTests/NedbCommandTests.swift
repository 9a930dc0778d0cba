import Testing
import Foundation
import NEDBState

/// Runs `nedb` and returns stdout; expects `code`.
@discardableResult
func nedb(_ args: [String], code: Int32 = 0, input: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let r = try Tools.run("nedb", args, input: input)
    #expect(r.code == code, "nedb \(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
    return r.out
}

func rows(_ ndjson: String) throws -> [JSONValue] {
    try ndjson.split(separator: "\n").map { try JSONParser.parse(String($0)) }
}

func ids(_ ndjson: String) throws -> [String] { try rows(ndjson).compactMap { $0["_id"]?.stringValue } }

/// The `nedb` command's contract: the seed's examples through the command line, output shapes,
/// exit codes, import/export, the shell and the demo.
@Suite struct NedbCommandTests {
    @Test func seedExamplesFromTheCommandLine() throws {
        let scratch = Scratch()
        let dir = scratch.sub("deep/new/db")       // write commands create missing directories
        #expect(try nedb(["index", dir, "users", "status", "eq"]) == "1\n")
        try nedb(["index", dir, "users", "bio", "search"])
        try nedb(["put", dir, "users", "alice", #"{"name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"}"#])
        #expect(try nedb(["put", dir, "users", "bob", #"{"name": "Bob", "age": 24, "status": "active", "bio": "python dev"}"#]) == "4\n")
        #expect(try ids(nedb(["query", dir, #"FROM users WHERE status = "active" ORDER BY age ASC"#])) == ["bob", "alice"])
        #expect(try ids(nedb(["query", dir, #"FROM users SEARCH "rust""#])) == ["alice"])
        #expect(try nedb(["query", dir, "FROM users GROUP BY status COUNT", "--json"]) == #"[{"count":2,"status":"active"}]"# + "\n")

        let snap = try #require(Tools.json(try nedb(["head", dir]))["seq"]?.numberValue)
        try nedb(["put", dir, "users", "alice", #"{"name": "Alice", "age": 32, "status": "retired"}"#])
        let old = try Tools.json(try nedb(["get", dir, "users", "alice", "--as-of", String(Int(snap))]))
        #expect(old["age"] == 31 && old["status"] == "active")
        #expect(try Tools.json(try nedb(["get", dir, "users", "alice"]))["age"] == 32)

        try nedb(["put", dir, "policy", "rate_2024", #"{"pct": 5.0}"#, "--valid-from", "2024-01-01", "--valid-to", "2024-12-31"])
        try nedb(["put", dir, "policy", "rate_2025", #"{"pct": 6.0}"#, "--valid-from", "2025-01-01"])
        let rate = try rows(try nedb(["query", dir, #"FROM policy VALID AS OF "2024-06-15""#]))
        #expect(rate.count == 1 && rate.first?["pct"] == 5 && rate.first?["_id"] == "rate_2024")

        let seqMsg = try nedb(["put", dir, "inputs", "msg_1", #"{"text": "user prefers dark mode"}"#]).trimmingCharacters(in: .whitespacesAndNewlines)
        try nedb(["put", dir, "beliefs", "dark_mode", #"{"value": true}"#, "--caused-by", seqMsg, "--evidence", "user_message", "--confidence", "0.95"])
        #expect(try ids(nedb(["query", dir, #"FROM beliefs WHERE _id = "dark_mode" TRACE caused_by"#])) == ["msg_1"])
        #expect(try ids(nedb(["query", dir, #"FROM inputs WHERE _id = "msg_1" TRACE caused_by REVERSE"#])) == ["dark_mode"])

        try nedb(["link", dir, "users:alice", "follows", "users:bob"])
        #expect(try ids(nedb(["query", dir, #"FROM users WHERE _id = "alice" TRAVERSE follows"#])) == ["bob"])

        // verify is true: the independent tool agrees.
        #expect(try Tools.run("nedb-verify", [dir]).code == 0)
        let head = try Tools.json(try nedb(["head", dir]))
        #expect(head["seq"] == 10 && head["head"]?.stringValue?.count == 64 && head["root"]?.stringValue?.count == 64)
        let history = try rows(try nedb(["history", dir, "users", "alice"]))
        #expect(history.map { $0["age"] } == [31, 32])
        let status = try Tools.json(try nedb(["status", dir, "--json"]))
        #expect(status["seq"] == 10 && status["encrypted"] == false)
        #expect(status["indexes"] == ["users.status eq", "users.bio search"])   // in definition order
    }

    @Test func exitCodesAndMessages() throws {
        let scratch = Scratch()
        let dir = scratch.sub("db")
        #expect(try nedb(["put", dir, "u", "a", #"{"v": 1}"#, "--json"]) == #"{"duplicate":false,"seq":1}"# + "\n")
        // Not found: 1.
        #expect(try Tools.run("nedb", ["get", dir, "u", "zz"]).err.contains("u:zz: not found"))
        try nedb(["get", dir, "u", "zz"], code: 1)
        try nedb(["history", dir, "u", "zz"], code: 1)
        try nedb(["delete", dir, "u", "zz"], code: 1)
        try nedb(["get", dir, "u", "a", "--as-of", "0"], code: 1)
        // Usage and bad input: 2, with the position.
        let badNQL = try Tools.run("nedb", ["query", dir, "FROM u WHERE v >"])
        #expect(badNQL.code == 2 && badNQL.err.contains("column 17"))
        let badJSON = try Tools.run("nedb", ["put", dir, "u", "b", #"{"v": }"#])
        #expect(badJSON.code == 2 && badJSON.err.contains("invalid JSON at byte 6"))
        try nedb(["put", dir, "u", "b", #"{"_id": "x"}"#], code: 2)
        try nedb(["put", dir, "u", "b", "[1]"], code: 2)
        try nedb(["put", dir, "u", "b", "{}", "--durability", "sometimes"], code: 2)
        try nedb(["put", dir, "u", "b", "{}", "--client", "c"], code: 2)
        try nedb(["put", dir, "u", "b", "{}", "--caused-by", "1,x"], code: 2)
        try nedb(["put", dir, "u", "b", "{}", "--valid-from", "yesterday"], code: 2)
        try nedb(["index", dir, "u", "v", "fancy"], code: 2)
        try nedb(["frobnicate"], code: 2)
        // A missing store for a read: 3.
        try nedb(["get", scratch.sub("nothing"), "u", "a"], code: 3)
        // Refused writes: 4, and nothing was written.
        try nedb(["put", dir, "u", "a", #"{"v": 2}"#, "--expect-seq", "7"], code: 4)
        try nedb(["put", dir, "u", "a", #"{"v": 2}"#, "--if-absent"], code: 4)
        try nedb(["put", dir, "u", "n", "{}", "--client", "c", "--nonce", "5"])
        try nedb(["put", dir, "u", "n", "{}", "--client", "c", "--nonce", "5"], code: 4)
        #expect(try Tools.json(try nedb(["head", dir]))["seq"] == 2)
        // Preconditions that hold, and idempotency.
        #expect(try nedb(["put", dir, "u", "a", #"{"v": 2}"#, "--expect-seq", "1"]) == "3\n")
        #expect(try nedb(["put", dir, "u", "k", "{}", "--idem", "req-1"]) == "4\n")
        #expect(try nedb(["put", dir, "u", "k", #"{"v": 9}"#, "--idem", "req-1", "--json"]) == #"{"duplicate":true,"seq":4}"# + "\n")
        #expect(try nedb(["delete", dir, "u", "k"]) == "5\n")
        try nedb(["get", dir, "u", "k"], code: 1)
        // --help works for every command.
        for command in ["put", "get", "query", "delete", "link", "unlink", "index", "history", "head", "import", "export",
                        "checkpoint", "status", "demo", "shell"] {
            let help = try Tools.run("nedb", [command, "--help"])
            #expect(help.code == 0 && help.out.contains("USAGE: nedb \(command)"), "\(command)")
        }
    }

    @Test func exportImportRoundTripAndBadLines() throws {
        let scratch = Scratch()
        let source = scratch.sub("a"), target = scratch.sub("b")
        try nedb(["put", source, "users", "u1", #"{"name": "Ünïcode ✓", "n": {"deep": [1, 2.5, null]}}"#])
        try nedb(["put", source, "users", "u2", #"{"name": "two"}"#, "--valid-from", "2024-01-01", "--evidence", "import test"])
        try nedb(["put", source, "orders", "o1", #"{"total": 12}"#])
        try nedb(["delete", source, "orders", "o1"])
        try nedb(["put", source, "orders", "o2", #"{"total": 7}"#])
        let exported = try nedb(["export", source])
        #expect(try ids(exported) == ["o2", "u1", "u2"])
        let report = try Tools.json(try nedb(["import", target, "-"], input: exported))
        #expect(report == ["imported": 3, "first_seq": 1, "last_seq": 3])
        func strip(_ rows: [JSONValue]) -> [JSONValue] {
            rows.map { row in
                guard case var .object(o) = row else { return row }
                for k in ["_seq", "_time", "_hash"] { o[k] = nil }
                return .object(o)
            }
        }
        #expect(strip(try rows(try nedb(["export", target]))) == strip(try rows(exported)))
        #expect(try ids(try nedb(["export", source, "--collection", "orders", "--as-of", "3"])) == ["o1"])

        // A bad line anywhere: exit 2 naming it, and nothing imported.
        let file = scratch.sub("bad.ndjson")
        try (#"{"_id": "x1", "v": 1}"# + "\n\n" + #"{"v": 2}"# + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try Tools.run("nedb", ["import", scratch.sub("c"), file, "--collection", "t"])
        #expect(bad.code == 2 && bad.err.contains("line 3") && bad.err.contains("_id"))
        try (#"{"_id": "x1", "_seq": 4, "_bogus": 1}"# + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Tools.run("nedb", ["import", scratch.sub("c"), file, "--collection", "t"]).err.contains("unknown metadata field \"_bogus\""))
        // Checked before the store is opened: a bad file creates nothing.
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("c")))
    }

    @Test func shellRunsCommandsAndQueriesOnOneSession() throws {
        let scratch = Scratch()
        let dir = scratch.sub("db")
        let script = """
        put users carol '{"age": 40, "bio": "likes \\"quotes\\""}'
        put users dave '{"age": 20}'
        FROM users WHERE age > 30
        # a comment
        get users dave
        nonsense here
        FROM users WHERE
        .history
        .quit
        put users never '{}'
        """
        let r = try Tools.run("nedb", ["shell", dir], env: ["NEDB_HISTORY": scratch.sub("history")], input: script)
        #expect(r.code == 0)
        let lines = r.out.split(separator: "\n").map(String.init)
        try #require(lines.count >= 4, "shell output: \(r.out) \(r.err)")
        #expect(lines.prefix(2) == ["1", "2"])
        #expect(try JSONParser.parse(lines[2])["_id"] == "carol" && JSONParser.parse(lines[2])["bio"] == #"likes "quotes""#)
        #expect(try JSONParser.parse(lines[3])["_id"] == "dave")
        #expect(r.err.contains("unknown command \"nonsense\"") && r.err.contains("column 17"))
        #expect(lines.contains("1  put users carol '{\"age\": 40, \"bio\": \"likes \\\"quotes\\\"\"}'"))
        #expect(try Tools.json(try nedb(["head", dir]))["seq"] == 2)
    }

    @Test func demoPrintsTheSeedResultsAndLeavesAVerifiableDatabase() throws {
        let scratch = Scratch()
        let dir = scratch.sub("demo")
        let out = try nedb(["demo", dir])
        #expect(out.contains("# verify: true"))
        // Each query's rows follow its command line: check the stated results.
        func rowsAfter(_ fragment: String) throws -> [String] {
            let lines = out.split(separator: "\n").map(String.init)
            guard let i = lines.firstIndex(where: { $0.hasPrefix("$ nedb") && $0.contains(fragment) }) else { return [] }
            return try lines[(i + 1)...].prefix { !$0.hasPrefix("$ ") && !$0.hasPrefix("#") }
                .compactMap { try JSONParser.parse($0)["_id"]?.stringValue }
        }
        #expect(try rowsAfter("ORDER BY age ASC") == ["bob", "alice"])
        #expect(try rowsAfter("TRACE caused_by'") == ["msg_1"])
        #expect(try rowsAfter("TRACE caused_by REVERSE") == ["dark_mode"])
        #expect(try rowsAfter("TRAVERSE follows") == ["bob"])
        #expect(try rowsAfter("VALID AS OF") == ["rate_2024"])
        #expect(try Tools.run("nedb-verify", [dir]).code == 0)
        // A second run refuses the non-empty directory.
        try nedb(["demo", dir], code: 2)
    }
}
