/// Read access to a store: documents at any point in time, history, relations, NQL queries,
/// verification and proofs. Thread-safe. `Reader.open` opens a store read-only — without the
/// writer's lock, beside a writing process — and `refresh()` picks up what was written since.
/// `Database` builds on the same reader and adds writes.
///
/// Every read is a checked read (spec/FORMAT.md §13.2): opening checks the active segment record
/// by record, every sealed segment's link and footer, and every witness of the log's length;
/// records are checked again as they are read. A damaged store is refused with
/// `DatabaseError.store(.damaged(…))` naming the issue, file, offset and seq — unless the reader
/// was opened with `allowDamaged`, when it reads the verified prefix and `damage` says why.
open class Reader: @unchecked Sendable {
    // `currentStore` is guarded by `storeLock`; `state` and `stateGeneration` by `stateLock`
    // (read under `reading`, replaced under `writing`); `skipped` by `storeLock`.
    private let storeLock = PthreadMutex()
    private var currentStore: LogStore
    package var state: DatabaseState
    /// Incremented whenever `state` is replaced (a dropped checkpoint, a rebuilt state).
    package var stateGeneration = 0
    package let stateLock = ReadWriteLock()
    package let path: String
    /// Checkpoints found unusable since open (skipped when loading, or failed when read).
    private var skipped: [FormatError]
    /// Parsed queries by text (cleared when it reaches `queryCacheLimit` entries).
    let queryCache: Locked<[String: Query]>
    /// Rendered rows by version seq, shared by queries.
    package let rowCache: RowCache
    /// Serialises writers (`Database`) with each other and with rebuilding the state.
    package let writeLock = PthreadMutex()
    /// A writer's state may be ahead of what is readable from the log (records logged, not yet
    /// durable): rebuilding it flushes first.
    let writable: Bool
    static let queryCacheLimit = 512

    /// The log this reader reads (replaced by `refresh`).
    package var store: LogStore { storeLock.locked { currentStore } }

    package init(store: LogStore, state: DatabaseState, path: String, skipped: [FormatError], writable: Bool = false) {
        self.writable = writable
        self.currentStore = store
        self.state = state
        self.path = path
        self.skipped = skipped
        self.queryCache = Locked([:])
        self.rowCache = RowCache()
    }

    /// Opens a store read-only (with `key` for an encrypted one). A damaged store is refused
    /// unless `allowDamaged` is set: then the reader reads the verified prefix of the log and
    /// `damage` lists what is wrong.
    public static func open(_ path: String, key: KeySource? = nil, fileSystem: FileSystem = PosixFileSystem(),
                            allowDamaged: Bool = false) throws(DatabaseError) -> Reader {
        var options = StoreOptions()
        options.readOnly = true
        options.create = false
        options.key = key
        options.fileSystem = fileSystem
        options.allowDamaged = allowDamaged
        do {
            let store = try LogStore.open(path, options: options)
            let (state, report) = try loadState(store)
            return Reader(store: store, state: state, path: path, skipped: report.skipped)
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Loads the state of a freshly opened store. A read-only store opened with `allowDamaged`
    /// whose records turn out damaged while they are replayed is cut back to the records
    /// before the damage, which is then part of `damage`.
    package static func loadState(_ store: LogStore, skipping: Set<String> = []) throws -> (DatabaseState, LoadReport) {
        while true {
            do {
                return try StateLoader.load(store: store, skipping: skipping)
            } catch let StoreError.damaged(e) where store.readOnly && store.options.allowDamaged {
                guard let seq = e.location.seq, seq <= store.lastSeq, store.restrictToPrefix(endingBefore: seq, because: e) else {
                    throw StoreError.damaged(e)
                }
            }
        }
    }

    /// Picks up records appended since the reader was opened (read-only readers only). The log
    /// must still hold what this reader read: one that now ends earlier, or differs, is damage.
    public func refresh() throws(DatabaseError) {
        let old = store
        guard old.readOnly else { return }
        do {
            let fresh = try LogStore.open(path, options: old.options)
            let seen = try stateLock.reading { () throws -> UInt64? in state.lastSeq }
            if let seen {
                guard fresh.storeId == old.storeId else {
                    throw StoreError.damaged(.reorderedSegment(Location(file: path), detail: "the directory now holds store \(fresh.storeId), not \(old.storeId)"))
                }
                guard fresh.count > seen else {
                    throw StoreError.damaged(.missingData(Location(file: path, seq: seen),
                        detail: "the log now ends at seq \(fresh.lastSeq), before seq \(seen), which this reader had read"))
                }
                if try fresh.chainHash(seq: seen) != old.chainHash(seq: seen) {
                    throw StoreError.damaged(.chainBreak(Location(file: path, seq: seen),
                        detail: "the log was rewritten: seq \(seen) has another chain hash than when this reader read it"))
                }
            }
            try stateLock.writing { () throws in
                var report = LoadReport()
                if let last = state.lastSeq, fresh.lastSeq > last {
                    try StateLoader.replay(store: fresh, into: state, from: last + 1, through: fresh.lastSeq, report: &report)
                }
                storeLock.locked { currentStore = fresh }
            }
            rowCache.removeAll()
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// The seq of the last acknowledged record.
    public var seq: UInt64 { store.lastSeq }

    /// The head commitment: last seq, its chain hash and the Merkle root.
    public var head: LogHead { store.head }

    /// What makes the store damaged, when it was opened with `allowDamaged` (empty otherwise):
    /// every answer then comes from the verified prefix of the log, which ends before the
    /// first of these.
    public var damage: [FormatError] { store.damage }

    /// What was found and tolerated: an interrupted write at the end of the log, derived files
    /// that could not be used (a damaged or foreign MANIFEST or REPLAY, a checkpoint that was
    /// skipped). None of it changes an answer.
    public var notes: [FormatError] {
        let report = store.openReport
        return (report.tornTail.map { [$0] } ?? []) + report.notes + storeLock.locked { skipped }
    }

    // MARK: Reading the state

    /// Runs a read on the state. When the checkpoint under the state turns out to be damaged
    /// (its pages are checked as they are first read), the reader drops it — the state is
    /// rebuilt from an older checkpoint or the log — notes why, and reads again: a derived file
    /// never stops a read.
    package func reading<T>(_ body: (DatabaseState) throws -> T) throws(DatabaseError) -> T {
        var attempts = 0
        while true {
            var generation = 0
            do {
                return try stateLock.reading { () throws -> T in
                    generation = stateGeneration
                    return try body(state)
                }
            } catch let StateError.checkpoint(failure) where attempts < 3 {
                attempts += 1
                try dropCheckpoint(failed: failure, generation: generation)
            } catch {
                throw DatabaseError.wrap(error)
            }
        }
    }

    /// Replaces a state whose checkpoint failed with one loaded without it. Does nothing when
    /// another thread already replaced the state since `generation`.
    package func dropCheckpoint(failed failure: FormatError, generation: Int) throws(DatabaseError) {
        do {
            try writeLock.locked { () throws in
                if writable { try store.flush() }
                try stateLock.writing { () throws in
                    guard stateGeneration == generation, let base = state.base else { return }
                    try replaceState(skipping: base.source, because: failure)
                }
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
        rowCache.removeAll()
    }

    /// Loads the state again without the checkpoint `name` (and any skipped before), up to the
    /// seq the current state reached. Called with the state lock held for writing.
    package func replaceState(skipping name: String?, because failure: FormatError) throws {
        let note = FormatError.checkpointMismatch(failure.location.file == nil ? Location(file: name) : failure.location,
                                                  detail: "skipped, the state is rebuilt without it: \(failure.detail)")
        let names = storeLock.locked { () -> Set<String> in
            skipped.append(note)
            return Set(skipped.compactMap { $0.location.file.map(PathUtil.lastComponent) })
        }
        let (fresh, report) = try Reader.loadState(store, skipping: names.union(name.map { [PathUtil.lastComponent($0)] } ?? []))
        storeLock.locked { for s in report.skipped where !skipped.contains(s) { skipped.append(s) } }
        state = fresh
        stateGeneration += 1
    }

    package func point(_ asOf: UInt64?, _ validAt: String?) throws(DatabaseError) -> ReadPoint {
        var valid: Microseconds? = nil
        if let validAt {
            guard let t = Timestamp.parse(validAt) else { throw .invalid("\"\(validAt)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant") }
            valid = t
        }
        let point = ReadPoint(asOf: min(asOf ?? seq, seq), validAt: valid)
        // Only an explicit AS OF can fall below a retention point (the head is always above it).
        if asOf != nil, point.asOf < stateLock.reading({ state.historyFrom }) {
            throw .invalid(stateLock.reading { state.prunedHistoryMessage(point.asOf) })
        }
        return point
    }

    /// The document as of `asOf` (default: now), optionally as valid at a date.
    public func get(_ collection: String, _ id: String, asOf: UInt64? = nil, validAt: String? = nil) throws(DatabaseError) -> Document? {
        let p = try point(asOf, validAt)
        return try reading { state throws -> Document? in
            guard let d = try state.document(collection: collection, id: id, at: p), let body = d.document else { return nil }
            return Document(collection: collection, id: id, version: d.version, body: body)
        }
    }

    /// Every version of a document, oldest first; deletions appear with `"_deleted": true`.
    public func history(_ collection: String, _ id: String) throws(DatabaseError) -> [JSONValue] {
        let limit = seq
        return try reading { state throws -> [JSONValue] in
            try state.versions(collection: collection, id: id).filter { $0.seq <= limit }.map { v in
                if v.deleted {
                    return .object(["_id": .string(id), "_coll": .string(collection), "_seq": .number(Double(v.seq)),
                                    "_time": .string(Timestamp.format(v.time)), "_hash": .string(v.chain.hex), "_deleted": true])
                }
                let body = v.documentBytes.flatMap { try? JSONParser.parse($0) } ?? .object([:])
                return Document(collection: collection, id: id, version: v, body: body).json
            }
        }
    }

    /// Nodes (`collection:id`) linked from `node`, at `asOf` (default: now).
    public func neighbors(_ node: String, relation: String? = nil, asOf: UInt64? = nil) throws(DatabaseError) -> [String] {
        let p = try point(asOf, nil)
        return try reading { state throws -> [String] in try state.outgoing(from: node, relation: relation, at: p.asOf).map(\.to) }
    }

    /// Nodes linking to `node`.
    public func inbound(_ node: String, relation: String? = nil, asOf: UInt64? = nil) throws(DatabaseError) -> [String] {
        let p = try point(asOf, nil)
        return try reading { state throws -> [String] in try state.incoming(to: node, relation: relation, at: p.asOf).map(\.from) }
    }

    /// Runs an NQL query (spec/NQL.md); rows are JSON objects. Parsed queries are cached by
    /// their text, so repeating a query costs no parsing.
    public func query(_ nql: String) throws(DatabaseError) -> [JSONValue] {
        try query(try parsed(nql)).rows
    }

    /// The parsed form of `nql`, from the cache when it was parsed before.
    package func parsed(_ nql: String) throws(DatabaseError) -> Query {
        if let hit = queryCache.locked({ $0[nql] }) { return hit }
        let parsed: Query
        do { parsed = try QueryParser.parse(nql) } catch { throw .query(error) }
        queryCache.locked { cache in
            if cache.count >= Reader.queryCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[nql] = parsed
        }
        return parsed
    }

    /// Runs a parsed query; also tells how candidates were found.
    public func query(_ q: Query, useIndexes: Bool = true) throws(DatabaseError) -> (rows: [JSONValue], plan: QueryExecutor.Plan) {
        let head = seq
        let rowCache = self.rowCache
        return try reading { state throws in
            try QueryExecutor(state: state, head: head, useIndexes: useIndexes, rowCache: rowCache).run(q)
        }
    }

    /// Names of the collections that ever held a document, in UTF-8 byte order.
    public func collections() throws(DatabaseError) -> [String] {
        try reading { state throws -> [String] in try state.collectionNames() }
    }

    /// Index definitions existing at `asOf` (default: now).
    public func indexes(asOf: UInt64? = nil) -> [IndexDefinition] {
        let s = asOf ?? seq
        return stateLock.reading { state.indexes(at: s) }
    }

    /// Verifies the store's files up to the acknowledged head (spec/FORMAT.md §14).
    public func verify(mode: VerifyOptions.Mode = .full) -> VerifyReport {
        let store = self.store
        var options = VerifyOptions(mode: mode)
        options.limitSeq = store.lastSeq
        options.keyring = store.dataKeys
        options.checkManifest = false
        var report = StoreVerifier.verify(directory: store.layout.root, fs: store.options.fileSystem, options: options)
        // What opening found counts too (a verifier limited to the head cannot see a rollback).
        for d in store.damage where !report.issues.contains(d) { report.issues.append(d) }
        return report
    }

    /// A proof that `collection:id` had its value at `asOf` (spec/PROOFS.md).
    public func prove(_ collection: String, _ id: String, asOf: UInt64? = nil, signer: NoteSigner) throws(DatabaseError) -> ProofFile {
        let at = asOf ?? seq
        let store = self.store
        return try reading { state throws -> ProofFile in
            try ProofBuilder.recordProof(store: store, state: state, collection: collection, id: id, asOf: at, signers: [signer])
        }
    }

    /// Every acknowledged record from `from` through `through`, decoded and decrypted.
    public func records(from: UInt64 = 0, through: UInt64? = nil, _ body: (Record) throws -> Bool) throws(DatabaseError) {
        do { try store.scan(from: from, through: through ?? seq, body) } catch { throw DatabaseError.wrap(error) }
    }
}
