import ArgumentParser
import NEDB
import NEDBCLI

/// Rows as NDJSON (one canonical JSON object per line) or, with `array`, one JSON array.
func printRows(_ rows: [JSONValue], array: Bool) {
    if array { Output.json(.array(rows), pretty: false) } else { rows.forEach { Output.json($0, pretty: false) } }
}

struct Get: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a document (with its _ metadata) as one JSON object; exit 1 if absent.",
        discussion: """
        Examples:
          nedb get ./data users alice
          nedb get ./data users alice --as-of 4
          nedb get ./data policy rate_2024 --valid-at 2024-06-15
        """)
    static let writes = false

    @OptionGroup var location: Location
    @Argument(help: "Collection.") var collection: String
    @Argument(help: "Document id.") var id: String
    @Option(name: .customLong("as-of"), help: "Read as of this seq (time travel).") var asOf: UInt64?
    @Option(name: .customLong("valid-at"), help: "Only a version valid at this date or instant.") var validAt: String?
    @Flag(help: "Indented output.") var pretty = false

    func validate() throws {
        if let validAt, Timestamp.parse(validAt) == nil {
            throw ValidationError("--valid-at: \"\(validAt)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant")
        }
    }

    func execute(in session: Session) throws {
        guard let doc = try session.reader.get(collection, id, asOf: asOf, validAt: validAt) else {
            let at = asOf.map { " as of seq \($0)" } ?? ""
            throw ToolFailure(.problem, "\(collection):\(id): not found\(at)")
        }
        Output.json(doc.json, pretty: pretty)
    }
}

struct QueryCommand: DatabaseCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run an NQL query (spec/NQL.md); rows as NDJSON, or one array with --json.",
        discussion: """
        Examples:
          nedb query ./data 'FROM users WHERE status = "active" ORDER BY age ASC'
          nedb query ./data 'FROM users AS OF 4 WHERE _id = "alice"'
          nedb query ./data 'FROM policy VALID AS OF "2024-06-15"'
          nedb query ./data 'FROM users GROUP BY status COUNT' --json
        A malformed query exits 2 and names the line, column and expected token.
        """)
    static let writes = false

    @OptionGroup var location: Location
    @Argument(help: "The NQL query.") var nql: String
    @Flag(help: "Print one JSON array instead of NDJSON.") var json = false
    @Flag(help: "Print the plan (index or scan) and timing to stderr.") var explain = false

    /// A malformed query is a usage error before any store is opened.
    func validate() throws {
        do { _ = try QueryParser.parse(nql) } catch { throw ValidationError(error.description) }
    }

    func execute(in session: Session) throws {
        let parsed: Query
        do { parsed = try QueryParser.parse(nql) } catch { throw ToolFailure(.usage, error.description) }
        let started = Clock.now()
        let (rows, plan) = try session.reader.query(parsed)
        if explain {
            Output.error("plan: \(plan.summary); \(rows.count) rows in \(Clock.milliseconds(since: started)) ms")
        }
        printRows(rows, array: json)
    }
}

struct History: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every version of a document, oldest first (NDJSON; deletions carry \"_deleted\": true); exit 1 if never written.",
        discussion: "Example:\n  nedb history ./data users alice")
    static let writes = false

    @OptionGroup var location: Location
    @Argument(help: "Collection.") var collection: String
    @Argument(help: "Document id.") var id: String
    @Flag(help: "Print one JSON array instead of NDJSON.") var json = false

    func execute(in session: Session) throws {
        let versions = try session.reader.history(collection, id)
        guard !versions.isEmpty else { throw ToolFailure(.problem, "\(collection):\(id): never written") }
        printRows(versions, array: json)
    }
}

struct Head: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print {\"seq\", \"head\", \"root\"}: the last record's seq, its chain hash and the Merkle root.",
        discussion: "Example:\n  nedb head ./data")
    static let writes = false

    @OptionGroup var location: Location

    func execute(in session: Session) throws {
        let head = session.reader.head
        // Keys in the documented order (seq, head, root) rather than sorted.
        let damaged = session.reader.damage.isEmpty ? "" : ",\"damaged\":" + ReportJSON.damage(session.reader.damage).canonicalText
        Output.line("{\"seq\":\(head.seq),\"head\":\"\(head.chain.hex)\",\"root\":\"\(head.root.hex)\"\(damaged)}")
    }
}

struct Status: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise the store: seq, head, segments, size, checkpoints, encryption, indexes.",
        discussion: "Example:\n  nedb status ./data --json")
    static let writes = false

    @OptionGroup var location: Location
    @Flag(help: "One JSON object.") var json = false

    func execute(in session: Session) throws {
        var status = session.reader.status
        if case var .object(fields) = status {
            fields["damage"] = .array(session.reader.damage.map(ReportJSON.issue))
            fields["notes"] = .array(session.reader.notes.map(ReportJSON.issue))
            status = .object(fields)
        }
        if json { return Output.json(status, pretty: false) }
        guard case let .object(fields) = status else { return }
        for key in fields.keys.sorted() {
            guard let value = fields[key] else { continue }
            switch value {
            case let .string(s): Output.line("\(key): \(s)")
            case let .array(items) where key == "damage" || key == "notes":
                Output.line("\(key): \(items.isEmpty ? "(none)" : "")")
                for item in items { Output.line("  [\(item["id"]?.stringValue ?? "")] \(item["message"]?.stringValue ?? "")") }
            case let .array(items): Output.line("\(key): \(items.isEmpty ? "(none)" : items.compactMap(\.stringValue).joined(separator: ", "))")
            default: Output.line("\(key): \(value.canonicalText)")
            }
        }
    }
}

struct Export: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print documents as NDJSON (with _ metadata), by collection then id; `nedb import` reads it back.",
        discussion: """
        Examples:
          nedb export ./data > all.ndjson
          nedb export ./data --collection users --as-of 120 > users.ndjson
        """)
    static let writes = false

    @OptionGroup var location: Location
    @Option(help: "Only this collection.") var collection: String?
    @Option(name: .customLong("as-of"), help: "Export the state as of this seq.") var asOf: UInt64?
    @Option(name: .customLong("valid-at"), help: "Only versions valid at this date or instant.") var validAt: String?

    func validate() throws {
        if let validAt, Timestamp.parse(validAt) == nil {
            throw ValidationError("--valid-at: \"\(validAt)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant")
        }
    }

    func execute(in session: Session) throws {
        var valid: Microseconds? = nil
        if let validAt {
            guard let t = Timestamp.parse(validAt) else { throw ToolFailure(.usage, "--valid-at: \"\(validAt)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant") }
            valid = t
        }
        let collections = try collection.map { [$0] } ?? session.reader.collections()
        for name in collections {
            var q = Query(collection: name)
            q.asOf = asOf
            q.validAt = valid
            printRows(try session.reader.query(q).rows, array: false)
        }
    }
}

extension QueryExecutor.Plan {
    /// How the rows were found, for `--explain`.
    var summary: String {
        switch self {
        case .scan: return "full scan"
        case .idLookup: return "lookup by _id"
        case let .eqIndex(f): return "eq index on \(f)"
        case let .rangeIndex(f): return "ordered index range on \(f)"
        case let .searchIndex(f): return "search index on \(f)"
        case let .orderedIndex(f): return "ordered index walk on \(f) (ORDER BY … LIMIT)"
        }
    }
}
