/// Decoded parts of the checkpoint base, filled on first use and then kept: the base never
/// changes, so nothing in here goes stale. Opening stays O(1) (nothing is decoded up front), and
/// repeated reads cost what reads of the in-memory overlay cost. Readers share the state, so the
/// cache has its own lock; decoding happens outside it.
final class BaseCache: @unchecked Sendable {
    private let lock = PthreadMutex()
    private var documents: [String: [String: DatabaseState.VersionList]] = [:]
    private var ids: [String: [String]] = [:]
    private var keyed: [IndexID: [[UInt8]: [IdPosting]]] = [:]
    private var ordered: [IndexID: [KeyedPosting]] = [:]

    /// The base versions of a document (nil when the base has none).
    func versions(_ base: StateSnapshot, collection: String, id: String) throws(StateError) -> DatabaseState.VersionList? {
        if let hit = lock.locked({ documents[collection]?[id] }) { return hit.versions.isEmpty ? nil : hit }
        let list = DatabaseState.VersionList()
        for v in try base.versions(collection: collection, id: id) { list.append(v, document: nil) }
        let kept = lock.locked { () -> DatabaseState.VersionList in
            if let raced = documents[collection]?[id] { return raced }
            documents[collection, default: [:]][id] = list
            return list
        }
        return kept.versions.isEmpty ? nil : kept
    }

    /// Every id of a collection in the base, in byte order.
    func ids(_ base: StateSnapshot, collection: String) throws(StateError) -> [String] {
        if let hit = lock.locked({ ids[collection] }) { return hit }
        let decoded = try base.ids(collection: collection)
        lock.locked { ids[collection] = decoded }
        return decoded
    }

    /// An eq or search index's base postings by key, each list in (id, seq) order.
    func keyed(_ base: StateSnapshot, _ index: IndexID) throws(StateError) -> [[UInt8]: [IdPosting]] {
        if let hit = lock.locked({ keyed[index] }) { return hit }
        var byKey: [[UInt8]: [IdPosting]] = [:]
        for p in try base.allPostings(index) { byKey[p.key, default: []].append((p.id, p.seq)) }
        lock.locked { keyed[index] = byKey }
        return byKey
    }

    /// An ordered index's base postings in (key, id, seq) order.
    func ordered(_ base: StateSnapshot, _ index: IndexID) throws(StateError) -> [KeyedPosting] {
        if let hit = lock.locked({ ordered[index] }) { return hit }
        let all = try base.allPostings(index)
        lock.locked { ordered[index] = all }
        return all
    }
}
