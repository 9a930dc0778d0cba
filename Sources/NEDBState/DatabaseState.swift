/// The database state as a pure function of the log (spec/STATE.md): every version of every
/// document, edges with the seqs they existed, causes and their reverse map, index definitions
/// and postings, and the replay tables. It is an optional immutable base (a checkpoint,
/// read lazily from its file) plus an in-memory overlay of the records applied after it.
///
/// Not thread-safe: the engine guards it with a readers-writer lock.
public final class DatabaseState {
    /// The checkpoint this state was loaded from, if any.
    public let base: StateSnapshot?
    /// The seq of the last record applied (nil before the genesis record).
    public private(set) var lastSeq: UInt64?
    /// Reads at a seq below this are refused: a compaction record declared that history before
    /// it may be pruned (spec/STATE.md §2), so an answer there could silently differ.
    public private(set) var historyFrom: UInt64 = 0
    /// Pruned records replayed, by the compaction record they name (checked against its
    /// pruned_set when it is applied), and legacy ones not yet covered by a retention point.
    var prunedPending: [UInt64: [UInt64]] = [:]
    var legacyPrunedPending: [UInt64] = []

    final class VersionList: @unchecked Sendable {
        var versions: [Version] = []
        /// Parsed documents, parallel to `versions`; parsed on first read when the writer did
        /// not supply them (replay), under a small lock since readers share the state.
        private var documents: [JSONValue?] = []
        private let lock = PthreadMutex()

        func append(_ v: Version, document: JSONValue?) {
            versions.append(v)
            documents.append(document)
        }

        func document(at i: Int) -> JSONValue? {
            if let d = lock.locked({ documents[i] }) { return d }
            guard let bytes = versions[i].documentBytes, let parsed = try? JSONParser.parse(bytes) else { return nil }
            lock.locked { documents[i] = parsed }
            return parsed
        }
    }

    final class CollectionOverlay: @unchecked Sendable {
        var docs: [String: VersionList] = [:]
        /// Ids written in the overlay (some may also be in the base): sorted lazily by readers,
        /// hence the lock; `merged` caches base ∪ overlay until the next new id.
        private let lock = PthreadMutex()
        private var sortedIds: [String] = []
        private var pendingIds: [String] = []
        private var merged: [String]? = nil

        func addId(_ id: String) {
            lock.locked {
                pendingIds.append(id)
                merged = nil
            }
        }

        /// Every id of the collection in UTF-8 byte order: the base's and the overlay's, once each.
        func ids(base: () throws(StateError) -> [String]) throws(StateError) -> [String] {
            lock.lock()
            defer { lock.unlock() }
            if let merged { return merged }
            mergeSorted(&sortedIds, &pendingIds, by: utf8Less)
            let out = NEDBState.merged(try base(), sortedIds, by: utf8Less, unique: true)
            merged = out
            return out
        }
    }

    var collections: [String: CollectionOverlay] = [:]
    var seqIndex: [UInt64: (collection: String, id: String)] = [:]
    var edges: [EdgeKey: [EdgeInterval]] = [:]
    var outgoing: [String: [EdgeKey]] = [:]
    var incoming: [String: [EdgeKey]] = [:]
    var effects: [UInt64: [UInt64]] = [:]
    var indexDefinitions: [IndexDefinition] = []
    var postings: [IndexID: PostingList] = [:]
    var nonces: [String: UInt64] = [:]
    var idempotency: [String: UInt64] = [:]
    let baseCache = BaseCache()
    /// Live counts per eq index (LiveCounts.swift), under their own lock: readers fill them.
    var liveCounts: [IndexID: LiveCounts] = [:]
    let liveCountsLock = PthreadMutex()

    /// A state with nothing applied, or continuing from a checkpoint.
    public init(base: StateSnapshot? = nil) throws(StateError) {
        self.base = base
        if let base {
            lastSeq = base.seq
            historyFrom = base.historyFrom
            indexDefinitions = try base.indexDefinitions()
            nonces = try base.nonces()
        }
    }

    /// Why a read at `seq` is refused when it is below `historyFrom`.
    public func prunedHistoryMessage(_ seq: UInt64) -> String {
        "history before seq \(historyFrom) was pruned by compaction: a read AS OF seq \(seq) could differ from what was true then (read AS OF \(historyFrom) or later)"
    }

    /// A compaction record commits to exactly the seqs pruned in its name (FORMAT §3.7): a
    /// pruned record it did not prune is a forgery, and replay refuses it.
    func checkPruned(by c: Record) throws(StateError) {
        if let named = prunedPending.removeValue(forKey: c.seq) {
            guard let set = c.prunedSet, UInt64(named.count) == c.prunedCount, KeyDerivation.prunedSet(named) == set else {
                throw .invalidRecord(seq: named[0], reason: "pruned in the name of compaction record \(c.seq), which did not prune it (FORMAT §3.7)")
            }
        }
        if c.prunedSet == nil, let retention = c.retentionSeq { legacyPrunedPending.removeAll { $0 <= retention } }
    }

    /// What replay found wrong with pruned records once every record is applied: ones naming a
    /// record that was not a compaction record, or legacy ones no retention point covers.
    public func unresolvedPruning() -> StateError? {
        if let (by, seqs) = prunedPending.first {
            return .invalidRecord(seq: seqs[0], reason: "pruned in the name of record \(by), which is not a compaction record (FORMAT §3.7)")
        }
        if let seq = legacyPrunedPending.first {
            return .invalidRecord(seq: seq, reason: "pruned, but no compaction record declares a retention point at or after it (FORMAT §3.7)")
        }
        return nil
    }

    // MARK: Applying records

    /// Folds one record into the state (spec/STATE.md §3). Records must arrive in seq order.
    /// `document` may carry the already-parsed document of a put (it is parsed lazily otherwise).
    public func apply(_ r: Record, chain: Hash32, document parsedDocument: JSONValue? = nil) throws(StateError) {
        if let last = lastSeq, r.seq != last + 1 {
            throw .invalidRecord(seq: r.seq, reason: "expected seq \(last + 1)")
        }
        if lastSeq == nil && r.seq != 0 && base == nil {
            throw .invalidRecord(seq: r.seq, reason: "the first record must be seq 0")
        }
        lastSeq = r.seq
        if r.isSealed { throw .invalidRecord(seq: r.seq, reason: "record is still encrypted") }
        switch r.type {
        case .put, .delete:
            guard let collection = r.collection, let id = r.id else { return }
            var document: JSONValue? = parsedDocument
            if r.type == .put {
                guard let bytes = r.document else { throw .invalidRecord(seq: r.seq, reason: "put without a document") }
                // Parse now only when an index of this collection needs the content.
                if document == nil && indexDefinitions.contains(where: { $0.collection == collection && $0.droppedSeq == nil }) {
                    guard let parsed = try? JSONParser.parse(bytes) else {
                        throw .invalidRecord(seq: r.seq, reason: "document is not valid JSON")
                    }
                    document = parsed
                }
            }
            let version = Version(seq: r.seq, time: r.time, deleted: r.type == .delete, documentBytes: r.document,
                                  validFrom: r.validFrom, validTo: r.validTo, causedBy: r.causedBy, evidence: r.evidence,
                                  confidence: r.confidence, chain: chain)
            try addVersion(version, document: document, collection: collection, id: id)
        case .link, .unlink:
            guard let c = r.collection, let i = r.id, let rel = r.relation, let tc = r.targetCollection, let ti = r.targetId else { return }
            try applyEdge(EdgeKey(from: "\(c):\(i)", relation: rel, to: "\(tc):\(ti)"), seq: r.seq, add: r.type == .link)
        case .defineIndex:
            guard let c = r.collection, let f = r.indexField, let k = r.indexKind else { return }
            if indexDefinitions.contains(where: { $0.collection == c && $0.field == f && $0.kind == k && $0.droppedSeq == nil }) { break }
            indexDefinitions.append(IndexDefinition(collection: c, field: f, kind: k, definedSeq: r.seq, droppedSeq: nil))
            try backfill(IndexID(collection: c, field: f, kind: k))
        case .dropIndex:
            guard let c = r.collection, let f = r.indexField else { return }
            for i in indexDefinitions.indices
            where indexDefinitions[i].collection == c && indexDefinitions[i].field == f && indexDefinitions[i].droppedSeq == nil {
                indexDefinitions[i].droppedSeq = r.seq
                let dropped = IndexID(collection: c, field: f, kind: indexDefinitions[i].kind)
                postings[dropped] = nil
                liveCountsLock.locked { liveCounts[dropped] = nil }
            }
        case .compaction:
            if let retention = r.retentionSeq, (r.prunedCount ?? 0) > 0 { historyFrom = max(historyFrom, retention) }
            try checkPruned(by: r)
        case .pruned:
            if let by = r.prunedBy { prunedPending[by, default: []].append(r.seq) } else { legacyPrunedPending.append(r.seq) }
        default:
            break    // genesis, checkpoint markers, key rotation, annotations, pruned records: no state
        }
        for cause in r.causedBy { effects[cause, default: []].append(r.seq) }
        if let client = r.client, let nonce = r.nonce { nonces[client] = max(nonces[client] ?? 0, nonce) }
        if let key = r.idempotencyKey, idempotency[key] == nil {
            let inBase = try base?.idempotencySeq(key)
            if inBase == nil { idempotency[key] = r.seq }
        }
    }

    func addVersion(_ version: Version, document: JSONValue?, collection: String, id: String) throws(StateError) {
        let overlay: CollectionOverlay
        if let existing = collections[collection] { overlay = existing } else {
            overlay = CollectionOverlay()
            collections[collection] = overlay
        }
        let list: VersionList
        if let existing = overlay.docs[id] { list = existing } else {
            list = VersionList()
            overlay.docs[id] = list
            overlay.addId(id)
        }
        if countsLiveDocuments(of: collection) {
            var previous: (version: Version, document: JSONValue?)? = nil
            if let last = list.versions.indices.last {
                previous = (list.versions[last], list.document(at: last))
            } else if let baseVersions = try baseList(collection, id), let last = baseVersions.versions.indices.last {
                previous = (baseVersions.versions[last], baseVersions.document(at: last))
            }
            let parsed = document ?? version.documentBytes.flatMap { try? JSONParser.parse($0) }
            updateLiveCounts(collection: collection, previous: previous, new: version, document: parsed)
        }
        list.append(version, document: document)
        seqIndex[version.seq] = (collection, id)
        if let document {
            for def in indexDefinitions where def.collection == collection && def.droppedSeq == nil {
                postingList(IndexID(collection: collection, field: def.field, kind: def.kind))
                    .add(document: document, path: def.path, id: id, seq: version.seq)
            }
        }
    }

    func postingList(_ index: IndexID) -> PostingList {
        if let p = postings[index] { return p }
        let p = PostingList(kind: index.kind)
        postings[index] = p
        return p
    }

    /// Adds postings for every existing version when an index is defined.
    func backfill(_ index: IndexID) throws(StateError) {
        let list = postingList(index)
        let path = index.field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let base, try base.indexDefinitions().contains(where: { $0.collection == index.collection && $0.field == index.field && $0.kind == index.kind && $0.droppedSeq == nil }) {
            // The base carries postings for its versions; only overlay versions need adding.
        } else if let base {
            for id in try base.ids(collection: index.collection) {
                for v in try base.versions(collection: index.collection, id: id) where !v.deleted {
                    if let bytes = v.documentBytes, let doc = try? JSONParser.parse(bytes) {
                        list.add(document: doc, path: path, id: id, seq: v.seq)
                    }
                }
            }
        }
        for (id, versions) in collections[index.collection]?.docs ?? [:] {
            for (i, v) in versions.versions.enumerated() where !v.deleted {
                if let doc = versions.document(at: i) { list.add(document: doc, path: path, id: id, seq: v.seq) }
            }
        }
    }

    func applyEdge(_ key: EdgeKey, seq: UInt64, add: Bool) throws(StateError) {
        var intervals = try edgeIntervals(key)
        let open = intervals.last.map { $0.removed == nil } ?? false
        if add {
            if open { return }        // already linked: a repeated link changes nothing
            if edges[key] == nil && intervals.isEmpty {
                outgoing[key.from, default: []].append(key)
                incoming[key.to, default: []].append(key)
            } else if edges[key] == nil {
                outgoing[key.from, default: []].append(key)
                incoming[key.to, default: []].append(key)
            }
            intervals.append(EdgeInterval(added: seq, removed: nil))
        } else {
            guard open else { return }  // unlinking an absent edge changes nothing
            if edges[key] == nil {
                outgoing[key.from, default: []].append(key)
                incoming[key.to, default: []].append(key)
            }
            intervals[intervals.count - 1].removed = seq
        }
        edges[key] = intervals
    }

    // MARK: Reading documents

    /// The base's versions of a document (decoded once, then cached).
    func baseList(_ collection: String, _ id: String) throws(StateError) -> VersionList? {
        guard let base else { return nil }
        return try baseCache.versions(base, collection: collection, id: id)
    }

    /// Every version of a document, oldest first (base then overlay).
    public func versions(collection: String, id: String) throws(StateError) -> [Version] {
        var out = try baseList(collection, id)?.versions ?? []
        if let list = collections[collection]?.docs[id] { out.append(contentsOf: list.versions) }
        return out
    }

    /// The version a read at `point` sees, or nil (never written, or deleted, at that point).
    public func document(collection: String, id: String, at point: ReadPoint) throws(StateError) -> DocumentVersion? {
        // Overlay first: it holds the newest versions; the base answers only when it has none.
        func read(_ list: VersionList, _ i: Int) -> DocumentVersion? {
            let v = list.versions[i]
            return v.deleted ? nil : DocumentVersion(collection: collection, id: id, version: v, document: list.document(at: i))
        }
        if let list = collections[collection]?.docs[id], let i = DatabaseState.visibleIndex(list, point) { return read(list, i) }
        if let list = try baseList(collection, id), let i = DatabaseState.visibleIndex(list, point) { return read(list, i) }
        return nil
    }

    /// The index in `list` of the newest version visible at `point`, if any.
    @inline(__always)
    static func visibleIndex(_ list: VersionList, _ point: ReadPoint) -> Int? {
        let vs = list.versions
        var i = vs.count - 1
        while i >= 0 {
            let v = vs[i]
            if v.seq <= point.asOf && (point.validAt.map { v.isValid(at: $0) } ?? true) { return i }
            i -= 1
        }
        return nil
    }

    /// The seq of the version a read at `point` sees (nil if none or a tombstone).
    public func visibleSeq(collection: String, id: String, at point: ReadPoint) throws(StateError) -> UInt64? {
        func seq(_ list: VersionList, _ i: Int) -> UInt64? { list.versions[i].deleted ? nil : list.versions[i].seq }
        if let list = collections[collection]?.docs[id], let i = DatabaseState.visibleIndex(list, point) { return seq(list, i) }
        if let list = try baseList(collection, id), let i = DatabaseState.visibleIndex(list, point) { return seq(list, i) }
        return nil
    }

    /// Collection names (any that ever held a document), in byte order.
    public func collectionNames() throws(StateError) -> [String] {
        var names = Set(collections.keys)
        if let base { names.formUnion(try base.collectionNames()) }
        return names.sorted(by: utf8Less)
    }

    /// Every id ever written in a collection, in UTF-8 byte order.
    public func ids(collection: String) throws(StateError) -> [String] {
        let baseIds = { () throws(StateError) -> [String] in
            guard let base = self.base else { return [] }
            return try self.baseCache.ids(base, collection: collection)
        }
        guard let overlay = collections[collection] else { return try baseIds() }
        return try overlay.ids(base: baseIds)
    }

    /// The version a put or delete record wrote, with its parsed document (nil for other records).
    public func version(writtenBy seq: UInt64) throws(StateError) -> DocumentVersion? {
        guard let (collection, id) = try location(ofSeq: seq) else { return nil }
        for list in [collections[collection]?.docs[id], try baseList(collection, id)].compactMap({ $0 }) {
            guard let i = list.versions.firstIndex(where: { $0.seq == seq }) else { continue }
            return DocumentVersion(collection: collection, id: id, version: list.versions[i], document: list.document(at: i))
        }
        return nil
    }

    /// The document a record (put or delete) wrote, by seq.
    public func location(ofSeq seq: UInt64) throws(StateError) -> (collection: String, id: String)? {
        if let l = seqIndex[seq] { return l }
        return try base?.location(ofSeq: seq)
    }

    // MARK: Relations

    func edgeIntervals(_ key: EdgeKey) throws(StateError) -> [EdgeInterval] {
        if let e = edges[key] { return e }
        return try base?.intervals(key) ?? []
    }

    /// Edges out of `node` (`collection:id`) that exist at `seq`, optionally of one relation,
    /// in (relation, target) byte order.
    public func outgoing(from node: String, relation: String?, at seq: UInt64) throws(StateError) -> [EdgeKey] {
        var keys = Set(outgoing[node] ?? [])
        if let base { keys.formUnion(try base.edges(from: node)) }
        var out: [EdgeKey] = []
        for k in keys where relation == nil || k.relation == relation {
            if try edgeIntervals(k).contains(where: { $0.contains(seq) }) { out.append(k) }
        }
        return out.sorted()
    }

    /// Edges into `node` that exist at `seq`, in (relation, source) byte order.
    public func incoming(to node: String, relation: String?, at seq: UInt64) throws(StateError) -> [EdgeKey] {
        var keys = Set(incoming[node] ?? [])
        if let base { keys.formUnion(try base.edges(to: node)) }
        var out: [EdgeKey] = []
        for k in keys where relation == nil || k.relation == relation {
            if try edgeIntervals(k).contains(where: { $0.contains(seq) }) { out.append(k) }
        }
        return out.sorted { ($0.relation, $0.from, $0.to) < ($1.relation, $1.from, $1.to) }
    }

    /// The intervals of one edge.
    public func intervals(of edge: EdgeKey) throws(StateError) -> [EdgeInterval] { try edgeIntervals(edge) }

    // MARK: Causes

    /// Seqs of records that name `seq` in their caused_by, up to `asOf`, ascending.
    public func effects(of seq: UInt64, asOf: UInt64) throws(StateError) -> [UInt64] {
        var out = try base?.effects(of: seq) ?? []
        out.append(contentsOf: effects[seq] ?? [])
        return out.filter { $0 <= asOf }.sorted()
    }

    // MARK: Indexes

    /// Index definitions that exist at `seq` (all when nil).
    public func indexes(at seq: UInt64? = nil) -> [IndexDefinition] {
        guard let seq else { return indexDefinitions }
        return indexDefinitions.filter { $0.isDefined(at: seq) }
    }

    /// The currently defined index for a collection, field and kind.
    public func activeIndex(collection: String, field: String, kind: IndexKind) -> IndexDefinition? {
        indexDefinitions.first { $0.collection == collection && $0.field == field && $0.kind == kind && $0.droppedSeq == nil }
    }

    /// The postings of one key of an eq index (its canonical JSON) or one token of a search
    /// index: one list from the base and one from the overlay, each in (id, seq) order.
    public func postingLists(_ index: IndexID, key: [UInt8]) throws(StateError) -> [[IdPosting]] {
        var out: [[IdPosting]] = []
        if let base, let list = try baseCache.keyed(base, index)[key], !list.isEmpty { out.append(list) }
        if let list = postings[index]?.postings(key: key), !list.isEmpty { out.append(list) }
        return out
    }

    /// Every key of an eq or search index (base and overlay), unordered.
    public func postingKeys(_ index: IndexID) throws(StateError) -> [[UInt8]] {
        var keys = Set(postings[index]?.keys ?? [])
        if let base { keys.formUnion(try baseCache.keyed(base, index).keys) }
        return Array(keys)
    }

    /// An ordered index's postings: one list from the base and one from the overlay, each in
    /// (key, id, seq) order.
    public func orderedPostingLists(_ index: IndexID) throws(StateError) -> [[KeyedPosting]] {
        var out: [[KeyedPosting]] = []
        if let base {
            let list = try baseCache.ordered(base, index)
            if !list.isEmpty { out.append(list) }
        }
        if let list = postings[index]?.ordered(), !list.isEmpty { out.append(list) }
        return out
    }

    // MARK: Replay tables

    public func lastNonce(client: String) -> UInt64? { nonces[client] }

    public func idempotencySeq(_ key: String) throws(StateError) -> UInt64? {
        if let s = idempotency[key] { return s }
        return try base?.idempotencySeq(key)
    }
}
