/// Live documents per key of an eq index at the newest applied seq: what `GROUP BY field
/// COUNT` at HEAD returns, without visiting documents. Counted once on first use (one pass over
/// the collection), then kept current by every applied version of the collection.
public struct LiveCounts: Sendable {
    /// Documents whose newest version has the field, by the value's equality key.
    public var byKey: [[UInt8]: Int] = [:]
    /// Documents whose newest version is not a tombstone.
    public var live = 0
}

extension DatabaseState {
    /// The live counts of an eq index, counting them first if needed.
    public func liveCounts(_ index: IndexID) throws(StateError) -> LiveCounts {
        if let counts = liveCountsLock.locked({ liveCounts[index] }) { return counts }
        let path = index.field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let point = ReadPoint(asOf: lastSeq ?? 0)
        var counts = LiveCounts()
        for id in try ids(collection: index.collection) {
            guard let d = try document(collection: index.collection, id: id, at: point), let doc = d.document else { continue }
            counts.live += 1
            if let v = doc.value(atPath: path) { counts.byKey[ValueOrder.equalityKey(v), default: 0] += 1 }
        }
        return liveCountsLock.locked {
            if let raced = liveCounts[index] { return raced }
            liveCounts[index] = counts
            return counts
        }
    }

    /// Updates the counted indexes of `collection` for a new version replacing `previous`.
    func updateLiveCounts(collection: String, previous: (version: Version, document: JSONValue?)?, new version: Version, document: JSONValue?) {
        liveCountsLock.locked {
            for (index, var counts) in liveCounts where index.collection == collection {
                let path = index.field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                if let previous, !previous.version.deleted {
                    counts.live -= 1
                    if let v = previous.document?.value(atPath: path) { counts.byKey[ValueOrder.equalityKey(v), default: 0] -= 1 }
                }
                if !version.deleted {
                    counts.live += 1
                    if let v = document?.value(atPath: path) { counts.byKey[ValueOrder.equalityKey(v), default: 0] += 1 }
                }
                liveCounts[index] = counts
            }
        }
    }

    /// Whether any index of `collection` has live counts to keep current.
    func countsLiveDocuments(of collection: String) -> Bool {
        liveCountsLock.locked { liveCounts.keys.contains { $0.collection == collection } }
    }
}
