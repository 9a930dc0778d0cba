/// Read access to a store: documents at any point in time, history, relations, NQL queries,
/// verification and proofs. Thread-safe. `Reader.open` opens a store read-only — without the
/// writer's lock, beside a writing process — and `refresh()` picks up what was written since.
/// `Database` builds on the same reader and adds writes.
open class Reader: @unchecked Sendable {
    public package(set) var store: LogStore
    package let state: DatabaseState
    package let stateLock = ReadWriteLock()
    package let path: String
    /// Parsed queries by text (cleared when it reaches `queryCacheLimit` entries).
    let queryCache: Locked<[String: Query]>
    /// Rendered rows by version seq, shared by queries.
    let rowCache: RowCache
    static let queryCacheLimit = 512

    package init(store: LogStore, state: DatabaseState, path: String) {
        self.store = store
        self.state = state
        self.path = path
        self.queryCache = Locked([:])
        self.rowCache = RowCache()
    }

    /// Opens a store read-only (with `key` for an encrypted one).
    public static func open(_ path: String, key: KeySource? = nil, fileSystem: FileSystem = PosixFileSystem()) throws(DatabaseError) -> Reader {
        var options = StoreOptions()
        options.readOnly = true
        options.create = false
        options.key = key
        options.fileSystem = fileSystem
        do {
            let store = try LogStore.open(path, options: options)
            let (state, _) = try StateLoader.load(store: store)
            return Reader(store: store, state: state, path: path)
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Picks up records appended since the reader was opened (read-only readers only).
    public func refresh() throws(DatabaseError) {
        guard store.readOnly else { return }
        do {
            let fresh = try LogStore.open(path, options: store.options)
            try stateLock.writing { () throws in
                var report = LoadReport()
                if let last = state.lastSeq, fresh.lastSeq > last {
                    try StateLoader.replay(store: fresh, into: state, from: last + 1, through: fresh.lastSeq, report: &report)
                }
            }
            store = fresh
            rowCache.removeAll()
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// The seq of the last acknowledged record.
    public var seq: UInt64 { store.lastSeq }

    /// The head commitment: last seq, its chain hash and the Merkle root.
    public var head: LogHead { store.head }

    package func point(_ asOf: UInt64?, _ validAt: String?) throws(DatabaseError) -> ReadPoint {
        var valid: Microseconds? = nil
        if let validAt {
            guard let t = Timestamp.parse(validAt) else { throw .invalid("\"\(validAt)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant") }
            valid = t
        }
        return ReadPoint(asOf: min(asOf ?? seq, seq), validAt: valid)
    }

    /// The document as of `asOf` (default: now), optionally as valid at a date.
    public func get(_ collection: String, _ id: String, asOf: UInt64? = nil, validAt: String? = nil) throws(DatabaseError) -> Document? {
        let p = try point(asOf, validAt)
        do {
            return try stateLock.reading { () throws -> Document? in
                guard let d = try state.document(collection: collection, id: id, at: p), let body = d.document else { return nil }
                return Document(collection: collection, id: id, version: d.version, body: body)
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Every version of a document, oldest first; deletions appear with `"_deleted": true`.
    public func history(_ collection: String, _ id: String) throws(DatabaseError) -> [JSONValue] {
        let limit = seq
        do {
            return try stateLock.reading { () throws -> [JSONValue] in
                try state.versions(collection: collection, id: id).filter { $0.seq <= limit }.map { v in
                    if v.deleted {
                        return .object(["_id": .string(id), "_coll": .string(collection), "_seq": .number(Double(v.seq)),
                                        "_time": .string(Timestamp.format(v.time)), "_hash": .string(v.chain.hex), "_deleted": true])
                    }
                    let body = v.documentBytes.flatMap { try? JSONParser.parse($0) } ?? .object([:])
                    return Document(collection: collection, id: id, version: v, body: body).json
                }
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Nodes (`collection:id`) linked from `node`, at `asOf` (default: now).
    public func neighbors(_ node: String, relation: String? = nil, asOf: UInt64? = nil) throws(DatabaseError) -> [String] {
        let p = try point(asOf, nil)
        do { return try stateLock.reading { () throws -> [String] in try state.outgoing(from: node, relation: relation, at: p.asOf).map(\.to) } } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Nodes linking to `node`.
    public func inbound(_ node: String, relation: String? = nil, asOf: UInt64? = nil) throws(DatabaseError) -> [String] {
        let p = try point(asOf, nil)
        do { return try stateLock.reading { () throws -> [String] in try state.incoming(to: node, relation: relation, at: p.asOf).map(\.from) } } catch {
            throw DatabaseError.wrap(error)
        }
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
        do {
            return try stateLock.reading { () throws in
                try QueryExecutor(state: state, head: head, useIndexes: useIndexes, rowCache: rowCache).run(q)
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Names of the collections that ever held a document, in UTF-8 byte order.
    public func collections() throws(DatabaseError) -> [String] {
        do { return try stateLock.reading { () throws -> [String] in try state.collectionNames() } } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Index definitions existing at `asOf` (default: now).
    public func indexes(asOf: UInt64? = nil) -> [IndexDefinition] {
        let s = asOf ?? seq
        return stateLock.reading { state.indexes(at: s) }
    }

    /// Verifies the store's files up to the acknowledged head (spec/FORMAT.md §14).
    public func verify(mode: VerifyOptions.Mode = .full) -> VerifyReport {
        var options = VerifyOptions(mode: mode)
        options.limitSeq = seq
        options.keyring = store.dataKeys
        options.checkManifest = false
        return StoreVerifier.verify(directory: store.layout.root, fs: store.options.fileSystem, options: options)
    }

    /// A proof that `collection:id` had its value at `asOf` (spec/PROOFS.md).
    public func prove(_ collection: String, _ id: String, asOf: UInt64? = nil, signer: NoteSigner) throws(DatabaseError) -> ProofFile {
        let at = asOf ?? seq
        do {
            return try stateLock.reading { () throws -> ProofFile in
                try ProofBuilder.recordProof(store: store, state: state, collection: collection, id: id, asOf: at, signers: [signer])
            }
        } catch {
            throw DatabaseError.wrap(error)
        }
    }

    /// Every acknowledged record from `from` through `through`, decoded and decrypted.
    public func records(from: UInt64 = 0, through: UInt64? = nil, _ body: (Record) throws -> Bool) throws(DatabaseError) {
        do { try store.scan(from: from, through: through ?? seq, body) } catch { throw DatabaseError.wrap(error) }
    }
}
