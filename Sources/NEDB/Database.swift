/// How to open a database.
public struct DatabaseOptions: Sendable {
    /// Default durability of writes (each call may override it).
    public var durability: Durability = .batch
    /// Create the directory and store when absent.
    public var create = true
    /// For a new store: encrypt it with this key. For an existing encrypted store: its key.
    public var key: KeySource? = nil
    /// Write a checkpoint automatically every this many records (nil: only on demand).
    public var checkpointEvery: UInt64? = 100_000
    public var segmentSize: UInt64 = 64 << 20
    public var compressSealed = false
    public var hashAlgorithm: HashAlgorithm = .blake2b256
    public var origin: String? = nil
    public var recovery: RecoveryPolicy = .truncateTornTail

    public init() {}
}

/// Options of one write.
public struct WriteOptions: Sendable {
    /// Valid time: a date or RFC 3339 instant; [validFrom, validTo).
    public var validFrom: String?
    public var validTo: String?
    public var causedBy: [UInt64] = []
    public var evidence: String?
    public var confidence: Double?
    /// Replay protection: the writer's id and a nonce strictly above its last one.
    public var client: String?
    public var nonce: UInt64?
    /// A repeated key writes nothing and returns the original seq.
    public var idempotencyKey: String?
    public var durability: Durability?

    public init(validFrom: String? = nil, validTo: String? = nil, causedBy: [UInt64] = [], evidence: String? = nil,
                confidence: Double? = nil, client: String? = nil, nonce: UInt64? = nil, idempotencyKey: String? = nil,
                durability: Durability? = nil) {
        self.validFrom = validFrom; self.validTo = validTo; self.causedBy = causedBy; self.evidence = evidence
        self.confidence = confidence; self.client = client; self.nonce = nonce; self.idempotencyKey = idempotencyKey
        self.durability = durability
    }
}

/// What a write did.
public struct WriteResult: Sendable, Equatable {
    /// The seq of the (last) record written, or of the original record for a repeated
    /// idempotency key.
    public var seq: UInt64
    /// True when the idempotency key had been seen: nothing was written.
    public var duplicate: Bool
}

/// A condition an operation of a transaction requires.
public enum Precondition: Sendable, Equatable {
    /// The document's latest version (put or delete) has this seq.
    case lastSeq(UInt64)
    /// The document does not exist (never written, or deleted).
    case mustNotExist
    /// The document exists.
    case mustExist
}

/// One operation of a transaction.
public enum Operation: Sendable {
    case put(collection: String, id: String, document: JSONValue, options: WriteOptions = WriteOptions(), precondition: Precondition? = nil)
    case delete(collection: String, id: String, options: WriteOptions = WriteOptions(), precondition: Precondition? = nil)
    case link(from: String, relation: String, to: String, options: WriteOptions = WriteOptions())
    case unlink(from: String, relation: String, to: String, options: WriteOptions = WriteOptions())
}

/// The embedded NEDB engine: a durable (or in-memory) log, the state folded from it, NQL, and
/// every read of `Reader`. Thread-safe: writes are sequenced (one at a time through validation
/// and logging, concurrently through fsync), reads run in parallel with writes.
public final class Database: Reader, @unchecked Sendable {
    let options: DatabaseOptions
    /// `lastCheckpoint` and `writeFailure` are guarded by `writeLock` (one writer at a time
    /// through validation, logging and applying).
    var lastCheckpoint: UInt64
    /// Set when a logged record could not be folded into the state and the state could not be
    /// rebuilt from the log: the database then refuses writes (log and state must not diverge).
    var writeFailure: DatabaseError?

    /// Opens (creating when allowed) the database in `path`.
    public static func open(_ path: String, options: DatabaseOptions = DatabaseOptions()) throws(DatabaseError) -> Database {
        var storeOptions = StoreOptions()
        storeOptions.fileSystem = PosixFileSystem()
        return try open(path, options: options, storeOptions: storeOptions)
    }

    /// A database that lives only in memory (same API; nothing is written to disk).
    public static func inMemory(options: DatabaseOptions = DatabaseOptions()) throws(DatabaseError) -> Database {
        var storeOptions = StoreOptions.inMemory()
        var o = options
        o.checkpointEvery = nil
        o.durability = .none
        storeOptions.durability = .none
        return try open("/nedb", options: o, storeOptions: storeOptions)
    }

    static func open(_ path: String, options: DatabaseOptions, storeOptions base: StoreOptions) throws(DatabaseError) -> Database {
        var storeOptions = base
        storeOptions.create = options.create
        storeOptions.durability = options.durability
        storeOptions.key = options.key
        storeOptions.segmentSize = options.segmentSize
        storeOptions.compressSealed = options.compressSealed
        storeOptions.hashAlgorithm = options.hashAlgorithm
        storeOptions.origin = options.origin
        storeOptions.recovery = options.recovery
        storeOptions.trustCanonicalDocuments = true
        do {
            let store = try LogStore.open(path, options: storeOptions)
            let (state, report) = try Reader.loadState(store)
            return Database(store: store, state: state, path: path, options: options, lastCheckpoint: report.checkpointSeq ?? 0,
                            skipped: report.skipped)
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    init(store: LogStore, state: DatabaseState, path: String, options: DatabaseOptions, lastCheckpoint: UInt64, skipped: [FormatError]) {
        self.options = options
        self.lastCheckpoint = lastCheckpoint
        super.init(store: store, state: state, path: path, skipped: skipped, writable: true)
    }

    /// After records were logged but could not be applied to the state: the state is rebuilt
    /// from the log (without the checkpoint that failed, if that was the cause). If even that
    /// fails, writes stop. Called with the write lock held.
    func recoverState(after error: Error, ticket: AppendTicket) throws {
        do {
            try store.wait(for: ticket)
            try store.flush()
            var failedBase: String? = nil
            var cause = FormatError.malformed(Location(seq: ticket.records.first?.seq), detail: "applying a logged record failed: \(error)")
            if case let StateError.checkpoint(f) = error {
                failedBase = stateLock.reading { state.base?.source }
                cause = f
            }
            try stateLock.writing { () throws in try replaceState(skipping: failedBase, because: cause) }
            rowCache.removeAll()
        } catch let rebuild {
            writeFailure = DatabaseError.wrap(rebuild)
            throw rebuild
        }
    }

    /// Flushes and closes; further calls fail.
    public func close() throws(DatabaseError) {
        do { try store.close() } catch { throw .store(error) }
    }

    // MARK: Writes

    /// Writes a new version of a document (a JSON object).
    @discardableResult
    public func put(_ collection: String, _ id: String, _ document: JSONValue, _ options: WriteOptions = WriteOptions()) throws(DatabaseError) -> WriteResult {
        try transaction([.put(collection: collection, id: id, document: document, options: options)])
    }

    /// Deletes a document (a tombstone: history keeps every earlier version).
    @discardableResult
    public func delete(_ collection: String, _ id: String, _ options: WriteOptions = WriteOptions()) throws(DatabaseError) -> WriteResult {
        try transaction([.delete(collection: collection, id: id, options: options)])
    }

    /// Links `from` to `to` (both `collection:id`) with a relation.
    @discardableResult
    public func link(_ from: String, _ relation: String, _ to: String, _ options: WriteOptions = WriteOptions()) throws(DatabaseError) -> WriteResult {
        try transaction([.link(from: from, relation: relation, to: to, options: options)])
    }

    @discardableResult
    public func unlink(_ from: String, _ relation: String, _ to: String, _ options: WriteOptions = WriteOptions()) throws(DatabaseError) -> WriteResult {
        try transaction([.unlink(from: from, relation: relation, to: to, options: options)])
    }

    /// Declares a secondary index (eq, ordered or search) on a dotted field path.
    @discardableResult
    public func createIndex(_ collection: String, _ field: String, _ kind: IndexKind) throws(DatabaseError) -> WriteResult {
        var r = Record(type: .defineIndex, seq: 0, time: 0)
        r.collection = collection
        r.indexField = field
        r.indexKind = kind
        return try write([r], documents: [nil], durability: nil)
    }

    /// Applies several operations atomically: one log transaction, all or nothing after a crash.
    /// Preconditions are checked first; if one fails nothing is written.
    @discardableResult
    public func transaction(_ operations: [Operation], durability: Durability? = nil) throws(DatabaseError) -> WriteResult {
        guard !operations.isEmpty else { throw .invalid("a transaction needs at least one operation") }
        var records: [Record] = []
        var documents: [JSONValue?] = []
        var preconditions: [(Int, String, String, Precondition)] = []
        var mode = durability
        for (i, op) in operations.enumerated() {
            let (record, document, pre, opts) = try Database.draft(op, head: seq)
            records.append(record)
            documents.append(document)
            if let pre, let c = record.collection, let id = record.id { preconditions.append((i, c, id, pre)) }
            if mode == nil { mode = opts.durability }
        }
        return try write(records, documents: documents, durability: mode, preconditions: preconditions)
    }

    /// Checks operations as a write would check them — names, documents and the `_` rule, valid
    /// times, provenance, sizes — without a store, so a command can refuse bad input before it
    /// opens (or creates) anything. Whether caused_by seqs exist is checked when writing.
    public static func validate(_ operations: [Operation]) throws(DatabaseError) {
        guard !operations.isEmpty else { throw .invalid("a transaction needs at least one operation") }
        for (i, op) in operations.enumerated() {
            var (record, _, _, _) = try draft(op, head: nil)
            // Seqs as they would be after a long log: only order matters for the rules.
            record.seq = UInt64(1) << 48 + UInt64(i)
            do throws(FormatError) { try RecordCodec.validateForWriting(record, checkDocument: false) } catch {
                throw .invalid(operations.count > 1 ? "operation \(i): \(error.detail)" : error.detail)
            }
        }
    }

    static func draft(_ op: Operation, head: UInt64?) throws(DatabaseError) -> (Record, JSONValue?, Precondition?, WriteOptions) {
        switch op {
        case let .put(collection, id, document, options, precondition):
            guard case let .object(members) = document else { throw .invalid("a document must be a JSON object") }
            if let reserved = members.keys.first(where: { $0.hasPrefix("_") }) {
                throw .invalid("field \"\(reserved)\": top-level names starting with '_' are reserved for metadata")
            }
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = collection
            r.id = id
            r.document = JCS.serialize(document)
            try apply(options, to: &r, head: head)
            return (r, document, precondition, options)
        case let .delete(collection, id, options, precondition):
            var r = Record(type: .delete, seq: 0, time: 0)
            r.collection = collection
            r.id = id
            try apply(options, to: &r, head: head)
            guard options.validFrom == nil && options.validTo == nil else { throw .invalid("a delete has no valid time") }
            return (r, nil, precondition, options)
        case let .link(from, relation, to, options), let .unlink(from, relation, to, options):
            var isLink = false
            if case .link = op { isLink = true }
            var r = Record(type: isLink ? .link : .unlink, seq: 0, time: 0)
            let (fc, fi) = try Database.node(from), (tc, ti) = try Database.node(to)
            r.collection = fc; r.id = fi; r.relation = relation; r.targetCollection = tc; r.targetId = ti
            try apply(options, to: &r, head: head)
            guard options.validFrom == nil && options.validTo == nil else { throw .invalid("a link has no valid time") }
            return (r, nil, nil, options)
        }
    }

    /// Splits `collection:id`.
    static func node(_ text: String) throws(DatabaseError) -> (String, String) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else {
            throw .invalid("\"\(text)\" is not collection:id")
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func apply(_ o: WriteOptions, to r: inout Record, head: UInt64?) throws(DatabaseError) {
        if let f = o.validFrom {
            guard let t = Timestamp.parse(f) else { throw .invalid("valid_from \"\(f)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant") }
            r.validFrom = t
        }
        if let e = o.validTo {
            guard let t = Timestamp.parse(e) else { throw .invalid("valid_to \"\(e)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant") }
            r.validTo = t
        }
        r.causedBy = Array(Set(o.causedBy)).sorted()
        r.evidence = o.evidence
        r.confidence = o.confidence
        r.client = o.client
        r.nonce = o.nonce
        r.idempotencyKey = o.idempotencyKey
        if (o.client == nil) != (o.nonce == nil) { throw .invalid("client and nonce go together") }
        if let head, let last = r.causedBy.last, last > head { throw .invalid("caused_by seq \(last) does not exist yet (head is \(head))") }
    }

    /// Validates, logs and applies records under the write lock, then waits for durability
    /// outside it (so concurrent writers share fsyncs).
    func write(_ records: [Record], documents: [JSONValue?], durability: Durability?,
               preconditions: [(Int, String, String, Precondition)] = []) throws(DatabaseError) -> WriteResult {
        let ticket: AppendTicket
        do {
            ticket = try writeLock.locked { () throws -> AppendTicket in
                if let writeFailure { throw writeFailure }
                // Everything that can refuse the write is checked before anything is logged:
                // preconditions here, record rules and replay protection in `enqueue`.
                for (i, c, id, pre) in preconditions { try check(pre, operation: i, collection: c, id: id) }
                let ticket = try store.enqueue(records, durability: durability ?? options.durability)
                try applyLogged(ticket, documents: documents)
                return ticket
            }
            try store.wait(for: ticket)
        } catch let StoreError.invalidRecord(e) {
            throw .invalid(records.count > 1 ? "operation at seq \(e.location.seq.map(String.init) ?? "?"): \(e.detail)" : e.detail)
        } catch {
            throw DatabaseError.wrap(error)
        }
        switch ticket.result {
        case let .duplicate(seq):
            return WriteResult(seq: seq, duplicate: true)
        case let .appended(seqs):
            let last = seqs.last ?? 0
            if let every = options.checkpointEvery, last >= lastCheckpoint + every {
                _ = try? checkpoint()
            }
            return WriteResult(seq: last, duplicate: false)
        }
    }

    /// Folds logged records into the state; if that fails, the state is rebuilt from the log
    /// (or writes stop). Called with the write lock held.
    func applyLogged(_ ticket: AppendTicket, documents: [JSONValue?]) throws {
        do {
            try stateLock.writing { () throws in
                for (i, r) in ticket.records.enumerated() {
                    try state.apply(r, chain: try store.pendingChain(seq: r.seq), document: i < documents.count ? documents[i] : nil)
                }
            }
        } catch {
            try recoverState(after: error, ticket: ticket)
        }
    }

    func check(_ pre: Precondition, operation: Int, collection: String, id: String) throws {
        let versions = try stateLock.reading { () throws -> [Version] in try state.versions(collection: collection, id: id) }
        let last = versions.last
        switch pre {
        case let .lastSeq(expected):
            guard let last, last.seq == expected else {
                throw DatabaseError.preconditionFailed(operation: operation,
                    reason: "\(collection):\(id) was last written at seq \(last.map { String($0.seq) } ?? "never"), not \(expected)")
            }
        case .mustNotExist:
            if let last, !last.deleted { throw DatabaseError.preconditionFailed(operation: operation, reason: "\(collection):\(id) exists (seq \(last.seq))") }
        case .mustExist:
            guard let last, !last.deleted else { throw DatabaseError.preconditionFailed(operation: operation, reason: "\(collection):\(id) does not exist") }
        }
    }

    // MARK: Checkpoints

    /// Writes a checkpoint of the state now (and logs it), so the next open replays only what
    /// follows.
    @discardableResult
    public func checkpoint() throws(DatabaseError) -> CheckpointInfo {
        do {
            return try writeLock.locked { () throws -> CheckpointInfo in
                // Everything sequenced must be durable before a checkpoint may cover it.
                try store.flush()
                let snapshot = try stateLock.reading { () throws -> (bytes: [UInt8], hash: Hash32, seq: UInt64) in
                    guard let s = state.lastSeq else { throw DatabaseError.invalid("nothing to checkpoint") }
                    let built = try StateLoader.buildCheckpoint(state, store: store)
                    return (built.bytes, built.hash, s)
                }
                let info = try StateLoader.saveCheckpoint(snapshot.bytes, hash: snapshot.hash, seq: snapshot.seq, store: store)
                var marker = Record(type: .checkpointMarker, seq: 0, time: 0)
                marker.checkpointSeq = snapshot.seq
                marker.checkpointHash = snapshot.hash
                if let writeFailure { throw writeFailure }
                let ticket = try store.enqueue([marker], durability: .always)
                try applyLogged(ticket, documents: [])
                try store.wait(for: ticket)
                try store.sealForCheckpoint()
                lastCheckpoint = snapshot.seq
                return info
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }
}
