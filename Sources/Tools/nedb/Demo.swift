#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NEDB
import NEDBCLI

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the product description's example data and run its queries, printing each result.",
        discussion: """
        Uses DIR (which must be new or empty) or, without it, a new directory under /tmp. Afterwards the directory is an ordinary database: query it, verify it with nedb-verify, prove documents with nedb-prove.
        Example:
          nedb demo ./demo && nedb query ./demo 'FROM users ORDER BY age DESC'
        """)

    @Argument(help: "Directory for the demo database (default: a new one under /tmp).") var directory: String?
    @OptionGroup var keys: KeyOptions

    func run() throws {
        let dir = try directory ?? Demo.temporaryDirectory()
        var options = DatabaseOptions()
        options.key = keys.source
        options.durability = .always
        let db = try Session.reporting { try Database.open(dir, options: options) }
        defer { try? db.close() }
        guard db.seq == 0 else { throw ToolFailure(.usage, "\(dir) already holds data (seq \(db.seq)); the demo needs a new or empty directory") }
        Output.line("# NEDB demo: the examples of the product description, in \(dir)")
        let verified = try Session.reporting { try Demo.run(on: db, directory: dir) }
        if !verified { throw ToolFailure(.problem, "verification failed") }
    }

    /// The seed's examples, each printed as the `nedb` command that does it and its result.
    /// Returns whether the database verified.
    static func run(on db: Database, directory dir: String) throws(DatabaseError) -> Bool {
        func step(_ command: String, _ result: String) { Output.line("$ nedb \(command)\n\(result)") }
        func wrote(_ command: String, _ body: () throws(DatabaseError) -> WriteResult) throws(DatabaseError) {
            step(command, String(try body().seq))
        }
        func query(_ nql: String, _ note: String) throws(DatabaseError) {
            let rows = try db.query(nql)
            step("query \(dir) '\(nql)'    # \(note)", rows.map(\.canonicalText).joined(separator: "\n"))
        }
        try wrote("index \(dir) users status eq") { () throws(DatabaseError) in try db.createIndex("users", "status", .eq) }
        try wrote("index \(dir) users bio search") { () throws(DatabaseError) in try db.createIndex("users", "bio", .search) }
        try wrote(#"put \#(dir) users alice '{"name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"}'"#) { () throws(DatabaseError) in
            try db.put("users", "alice", ["name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"])
        }
        try wrote(#"put \#(dir) users bob '{"name": "Bob", "age": 24, "status": "active", "bio": "python dev"}'"#) { () throws(DatabaseError) in
            try db.put("users", "bob", ["name": "Bob", "age": 24, "status": "active", "bio": "python dev"])
        }
        try query(#"FROM users WHERE status = "active" ORDER BY age ASC"#, "bob, then alice")
        try query(#"FROM users SEARCH "rust""#, "alice")
        try query("FROM users GROUP BY status COUNT", "active: 2")

        let snap = db.seq
        try wrote(#"put \#(dir) users alice '{"name": "Alice", "age": 32, "status": "retired"}'"#) { () throws(DatabaseError) in
            try db.put("users", "alice", ["name": "Alice", "age": 32, "status": "retired"])
        }
        step("get \(dir) users alice --as-of \(snap)    # age 31, status active", try db.get("users", "alice", asOf: snap)?.json.canonicalText ?? "(absent)")

        try wrote(#"put \#(dir) policy rate_2024 '{"pct": 5.0}' --valid-from 2024-01-01 --valid-to 2024-12-31"#) { () throws(DatabaseError) in
            try db.put("policy", "rate_2024", ["pct": 5.0], WriteOptions(validFrom: "2024-01-01", validTo: "2024-12-31"))
        }
        try wrote(#"put \#(dir) policy rate_2025 '{"pct": 6.0}' --valid-from 2025-01-01"#) { () throws(DatabaseError) in
            try db.put("policy", "rate_2025", ["pct": 6.0], WriteOptions(validFrom: "2025-01-01"))
        }
        try query(#"FROM policy VALID AS OF "2024-06-15""#, "rate 5.0")

        try wrote(#"put \#(dir) inputs msg_1 '{"text": "user prefers dark mode"}'"#) { () throws(DatabaseError) in
            try db.put("inputs", "msg_1", ["text": "user prefers dark mode"])
        }
        let seqMsg = db.seq
        try wrote(#"put \#(dir) beliefs dark_mode '{"value": true}' --caused-by \#(seqMsg) --evidence user_message --confidence 0.95"#) { () throws(DatabaseError) in
            try db.put("beliefs", "dark_mode", ["value": true], WriteOptions(causedBy: [seqMsg], evidence: "user_message", confidence: 0.95))
        }
        try query(#"FROM beliefs WHERE _id = "dark_mode" TRACE caused_by"#, "msg_1")
        try query(#"FROM inputs WHERE _id = "msg_1" TRACE caused_by REVERSE"#, "dark_mode")

        try wrote("link \(dir) users:alice follows users:bob") { () throws(DatabaseError) in try db.link("users:alice", "follows", "users:bob") }
        try query(#"FROM users WHERE _id = "alice" TRAVERSE follows"#, "bob")

        let report = db.verify()
        step("head \(dir)", "{\"seq\":\(db.head.seq),\"head\":\"\(db.head.chain.hex)\",\"root\":\"\(db.head.root.hex)\"}")
        Output.line("# verify: \(report.ok ? "true — every record, hash chain link and Merkle root checks out" : "FALSE")")
        Output.line("# next: nedb-verify \(dir)")
        Output.line("#       nedb-prove keygen --out prover.key && nedb-prove \(dir) --doc users:alice --sign-key prover.key --out alice.proof")
        Output.line("#       nedb-prove verify alice.proof --pubkey prover.key.pub")
        Output.line("#       nedb shell \(dir)")
        return report.ok
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/nedb-demo-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let path = mkdtemp(base) else { return nil }
            return String(cString: path)
        }
        guard let made else { throw ToolFailure(.environment, "cannot create a directory under /tmp") }
        return made
    }
}
