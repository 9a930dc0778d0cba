import ArgumentParser
import NEDB
import NEDBCLI

struct Put: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new version of a document; prints the new record's seq.",
        discussion: """
        JSON is one object ("-" reads it from stdin). Top-level names starting with "_" are reserved for metadata.
        Examples:
          nedb put ./data users alice '{"name": "Alice", "age": 31}'
          nedb put ./data policy rate_2024 '{"pct": 5.0}' --valid-from 2024-01-01 --valid-to 2024-12-31
          nedb put ./data beliefs dark_mode '{"value": true}' --caused-by 7 --evidence user_message --confidence 0.95
          nedb put ./data orders o-17 '{"total": 12}' --idem order-17 --durability always
        """)
    static let writes = true

    @OptionGroup var location: Location
    @Argument(help: "Collection.") var collection: String
    @Argument(help: "Document id.") var id: String
    @Argument(help: "The document: a JSON object, or - for stdin.") var json: String
    @Option(name: .customLong("valid-from"), help: "Valid time start: YYYY-MM-DD or an RFC 3339 instant (inclusive).") var validFrom: String?
    @Option(name: .customLong("valid-to"), help: "Valid time end (exclusive).") var validTo: String?
    @OptionGroup var write: WriteFlags

    /// The write, checked before the store is opened (a bad put never creates a store).
    func operation() throws -> Operation {
        let document = try Input.json(json, what: "the document")
        let op = Operation.put(collection: collection, id: id, document: document,
                               options: try write.options(validFrom: validFrom, validTo: validTo), precondition: write.precondition)
        try WriteFlags.check([op])
        return op
    }

    func validate() throws { try ValidationError.from { _ = try operation() } }

    func execute(in session: Session) throws {
        write.report(try session.database.transaction([try operation()]))
    }
}

struct Delete: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a document (history keeps every earlier version); prints the seq.",
        discussion: "Exits 1 when the document does not exist.\nExample:\n  nedb delete ./data users bob --expect-seq 12")
    static let writes = true

    @OptionGroup var location: Location
    @Argument(help: "Collection.") var collection: String
    @Argument(help: "Document id.") var id: String
    @OptionGroup var write: WriteFlags

    func validate() throws {
        try WriteFlags.check([.delete(collection: collection, id: id, options: try write.options())])
    }

    func execute(in session: Session) throws {
        do {
            let result = try session.database.transaction([
                .delete(collection: collection, id: id, options: try write.options(), precondition: write.precondition ?? .mustExist),
            ])
            write.report(result)
        } catch DatabaseError.preconditionFailed where write.precondition == nil {
            throw ToolFailure(.problem, "\(collection):\(id): not found (nothing was written)")
        }
    }
}

/// The nodes and relation of a link or unlink.
struct EdgeArguments: ParsableArguments {
    @Argument(help: "Source node, collection:id.") var from: String
    @Argument(help: "Relation name.") var relation: String
    @Argument(help: "Target node, collection:id.") var to: String
}

/// Link and Unlink: the same arguments, one write each.
protocol EdgeCommand: DatabaseCommand {
    var edge: EdgeArguments { get }
    var write: WriteFlags { get }
    static func apply(_ db: Database, _ edge: EdgeArguments, _ options: WriteOptions) throws -> WriteResult
}

extension EdgeCommand {
    static var writes: Bool { true }

    func validate() throws {
        if write.precondition != nil { throw ValidationError("links take no preconditions") }
        try WriteFlags.check([.link(from: edge.from, relation: edge.relation, to: edge.to, options: try write.options())])
    }

    func execute(in session: Session) throws {
        write.report(try Self.apply(try session.database, edge, try write.options()))
    }
}

struct Link: EdgeCommand {
    static let configuration = CommandConfiguration(
        abstract: "Link two documents (collection:id) with a relation; prints the seq.",
        discussion: "Example:\n  nedb link ./data users:alice follows users:bob")

    @OptionGroup var location: Location
    @OptionGroup var edge: EdgeArguments
    @OptionGroup var write: WriteFlags

    static func apply(_ db: Database, _ e: EdgeArguments, _ options: WriteOptions) throws -> WriteResult {
        try db.link(e.from, e.relation, e.to, options)
    }
}

struct Unlink: EdgeCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a link; prints the seq.",
        discussion: "Example:\n  nedb unlink ./data users:alice follows users:bob")

    @OptionGroup var location: Location
    @OptionGroup var edge: EdgeArguments
    @OptionGroup var write: WriteFlags

    static func apply(_ db: Database, _ e: EdgeArguments, _ options: WriteOptions) throws -> WriteResult {
        try db.unlink(e.from, e.relation, e.to, options)
    }
}

struct Index: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a secondary index on a (dotted) field: eq, ordered or search; prints the seq.",
        discussion: """
        Examples:
          nedb index ./data users status eq
          nedb index ./data users age ordered
          nedb index ./data users bio search
        """)
    static let writes = true

    @OptionGroup var location: Location
    @Argument(help: "Collection.") var collection: String
    @Argument(help: "Field path, e.g. status or address.city.") var field: String
    @Argument(help: "eq (=, IN), ordered (ranges, ORDER BY) or search (SEARCH).") var kind: String
    @Flag(help: "Print {\"seq\": N} as JSON.") var json = false

    func validate() throws {
        if IndexKind(name: kind) == nil { throw ValidationError("index kind must be eq, ordered or search, not \"\(kind)\"") }
        var r = Record(type: .defineIndex, seq: 1, time: 0)
        r.collection = collection
        r.indexField = field
        r.indexKind = IndexKind(name: kind)
        do throws(FormatError) { try RecordCodec.validateForWriting(r, checkDocument: false) } catch { throw ValidationError(error.detail) }
    }

    func execute(in session: Session) throws {
        guard let k = IndexKind(name: kind) else { return }
        let result = try session.database.createIndex(collection, field, k)
        if json { Output.json(["seq": .number(Double(result.seq))], pretty: false) } else { Output.line(String(result.seq)) }
    }
}

struct Checkpoint: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint of the state now, so the next open replays only what follows.",
        discussion: "Prints {\"seq\", \"hash\", \"path\", \"bytes\"} as JSON.\nExample:\n  nedb checkpoint ./data")
    static let writes = true

    @OptionGroup var location: Location

    func execute(in session: Session) throws {
        let info = try session.database.checkpoint()
        Output.json(["seq": .number(Double(info.seq)), "hash": .string(info.hash.hex), "path": .string(info.path),
                     "bytes": .number(Double(info.bytes))], pretty: false)
    }
}
