import NEDBState

/// Rendered result rows by the seq of their version. A version never changes once written, so
/// an entry never goes stale; the cache is emptied when it reaches `limit` entries (and by
/// readers that reopen a store, since compaction may prune old versions' content).
public final class RowCache: @unchecked Sendable {
    private let storage = Locked<[UInt64: JSONValue]>([:])
    private let limit: Int

    public init(limit: Int = 100_000) { self.limit = limit }

    /// The cached row of `seq`, or `make()` (cached).
    func row(_ seq: UInt64, _ make: () -> JSONValue) -> JSONValue {
        if let hit = storage.locked({ $0[seq] }) { return hit }
        let made = make()
        storage.locked { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[seq] = made
        }
        return made
    }

    public func removeAll() { storage.locked { $0.removeAll() } }
}
