import ArgumentParser
import NEDB
import NEDBCLI

struct Import: DatabaseCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load documents from NDJSON (one object with \"_id\" per line), in atomic batches.",
        discussion: """
        The whole file is checked before anything is written: a bad line exits 2 naming the line and nothing is imported.
        "_coll" picks the collection when --collection is absent; "_valid_from", "_valid_to", "_evidence" and "_confidence" are kept; "_seq", "_time", "_hash" and "_caused_by" describe the exporting store and are dropped. So `nedb export` output imports as is.
        Prints {"imported": N, "first_seq": A, "last_seq": B}.
        Examples:
          nedb import ./data users.ndjson --collection users
          nedb export ./old | nedb import ./new -
        """)
    static let writes = true

    static let kept: Set<String> = ["_id", "_coll", "_valid_from", "_valid_to", "_evidence", "_confidence"]
    static let dropped: Set<String> = ["_seq", "_time", "_hash", "_caused_by"]

    @OptionGroup var location: Location
    @Argument(help: "NDJSON file, or - for stdin.") var file: String
    @Option(help: "Collection for every line (else each line's \"_coll\").") var collection: String?
    @Option(help: "none, batch (default) or always.") var durability: String?
    @Option(help: "Documents per transaction.") var batch = 1000

    func validate() throws {
        if let durability, Durability(rawValue: durability) == nil {
            throw ValidationError("--durability must be none, batch or always, not \"\(durability)\"")
        }
        if batch < 1 || batch > 1_000_000 { throw ValidationError("--batch must be 1…1000000") }
        // The whole file is checked before the store is opened: a bad line imports nothing and
        // creates nothing.
        try ValidationError.from { _ = try parse(try Input.bytes(file)) }
    }

    func execute(in session: Session) throws {
        let operations = try parse(try Input.bytes(file))
        let db = try session.database
        let progress = Progress("importing", unit: .records)
        defer { progress.finish() }
        var first: UInt64? = nil, last: UInt64? = nil
        var done = 0
        while done < operations.count {
            let slice = Array(operations[done..<min(operations.count, done + batch)])
            let result: WriteResult
            do { result = try db.transaction(slice, durability: durability.flatMap(Durability.init(rawValue:))) } catch {
                // Every line was checked first: what fails now is the store (a full disk, an I/O
                // error). Say exactly what is in it: whole batches, each atomic.
                throw Import.failure(error, imported: done, first: first, last: last)
            }
            if first == nil { first = result.seq + 1 - UInt64(slice.count) }
            last = result.seq
            done += slice.count
            progress.update(done: UInt64(done), total: UInt64(operations.count))
        }
        var report: [String: JSONValue] = ["imported": .number(Double(operations.count))]
        if let first, let last { report["first_seq"] = .number(Double(first)); report["last_seq"] = .number(Double(last)) }
        Output.json(.object(report), pretty: false)
    }

    /// A failed batch, saying which lines are in the store.
    static func failure(_ error: Error, imported: Int, first: UInt64?, last: UInt64?) -> ToolFailure {
        let base: ToolFailure
        if let e = error as? DatabaseError { base = Session.failure(e) } else { base = ToolFailure(.environment, "\(error)") }
        let committed = imported == 0 ? "nothing was imported"
            : "lines 1…\(imported) were imported (seqs \(first ?? 0)…\(last ?? 0)), the rest was not"
        return ToolFailure(base.code, "\(base.message) (\(committed))")
    }

    /// Every line as a put; the first bad line is a usage error naming it.
    func parse(_ bytes: [UInt8]) throws -> [Operation] {
        var operations: [Operation] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            func bad(_ why: String) -> ToolFailure { ToolFailure(.usage, "\(file), line \(lineNumber): \(why) (nothing was imported)") }
            let value: JSONValue
            do { value = try JSONParser.parse(Array(line)) } catch { throw bad("\(error)") }
            guard case var .object(members) = value else { throw bad("expected a JSON object") }
            guard case let .string(id)? = members["_id"], !id.isEmpty else { throw bad("\"_id\" (a non-empty string) is required") }
            let target: String
            if let collection { target = collection } else if case let .string(c)? = members["_coll"], !c.isEmpty { target = c } else {
                throw bad("no collection: give --collection or a \"_coll\" field")
            }
            var options = WriteOptions()
            // Metadata of the wrong type is an error, never dropped.
            func text(_ key: String) throws -> String? {
                guard let v = members[key], v != .null else { return nil }
                guard case let .string(s) = v else { throw bad("\"\(key)\" must be a string, found \(v.canonicalText)") }
                return s
            }
            options.validFrom = try text("_valid_from")
            options.validTo = try text("_valid_to")
            options.evidence = try text("_evidence")
            if let v = members["_confidence"], v != .null {
                guard case let .number(n) = v else { throw bad("\"_confidence\" must be a number from 0 to 1, found \(v.canonicalText)") }
                options.confidence = n
            }
            for date in [options.validFrom, options.validTo].compactMap({ $0 }) where Timestamp.parse(date) == nil {
                throw bad("\"\(date)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant")
            }
            for key in members.keys where key.hasPrefix("_") {
                guard Import.kept.contains(key) || Import.dropped.contains(key) else { throw bad("unknown metadata field \"\(key)\"") }
                members[key] = nil
            }
            let op = Operation.put(collection: target, id: id, document: .object(members), options: options)
            // Every rule the write checks (names, sizes, valid times, confidence), line by line.
            do { try Database.validate([op]) } catch { throw bad("\(error)") }
            operations.append(op)
        }
        return operations
    }
}
