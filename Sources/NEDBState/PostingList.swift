/// One index posting: a document id and the seq of the version that has the key.
public typealias IdPosting = (id: String, seq: UInt64)
/// An ordered-index posting: the order key, the id and the version seq.
public typealias KeyedPosting = (key: [UInt8], id: String, seq: UInt64)

/// (id, seq) order: ids in UTF-8 byte order, then seq.
@inline(__always)
public func idPostingLess(_ a: IdPosting, _ b: IdPosting) -> Bool {
    a.id != b.id ? utf8Less(a.id, b.id) : a.seq < b.seq
}

/// (key, id, seq) order.
@inline(__always)
public func keyedPostingLess(_ a: KeyedPosting, _ b: KeyedPosting) -> Bool {
    let c = ValueOrder.compareBytes(a.key, b.key)
    if c != 0 { return c < 0 }
    return idPostingLess((a.id, a.seq), (b.id, b.seq))
}

/// Merges two arrays sorted by `less`; with `unique`, an element equal in both appears once.
func merged<T>(_ a: [T], _ b: [T], by less: (T, T) -> Bool, unique: Bool = false) -> [T] {
    var out: [T] = []
    out.reserveCapacity(a.count + b.count)
    var i = 0, j = 0
    while i < a.count || j < b.count {
        if j >= b.count || (i < a.count && less(a[i], b[j])) {
            out.append(a[i]); i += 1
        } else {
            if unique && i < a.count && !less(b[j], a[i]) { i += 1 }
            out.append(b[j]); j += 1
        }
    }
    return out
}

/// Sorts `pending` and merges it into `sorted` (both by `less`).
func mergeSorted<T>(_ sorted: inout [T], _ pending: inout [T], by less: (T, T) -> Bool) {
    guard !pending.isEmpty else { return }
    pending.sort(by: less)
    if sorted.isEmpty || less(sorted[sorted.count - 1], pending[0]) {
        sorted.append(contentsOf: pending)
    } else {
        sorted = merged(sorted, pending, by: less)
    }
    pending.removeAll()
}

/// In-memory postings of one index: every (key, id, version seq) written while the index
/// existed. Stale postings (of versions no longer visible) are filtered by the reader, which
/// checks each candidate against the document's visible version — so one posting list serves
/// reads at any seq.
///
/// Writes (under the engine's exclusive lock) append to unsorted tails; the first read after
/// them sorts the tail into place under `lock` and returns the sorted array, which readers then
/// use without locking (arrays are copy-on-write snapshots).
final class PostingList: @unchecked Sendable {
    let kind: IndexKind
    private let lock = PthreadMutex()

    /// Eq and search kinds: per key, postings in (id, seq) order plus an unsorted tail.
    final class KeyList {
        var sorted: [IdPosting] = []
        var pending: [IdPosting] = []
    }
    private var byKey: [[UInt8]: KeyList] = [:]
    /// Ordered kind: postings in (key, id, seq) order plus an unsorted tail.
    private var sorted: [KeyedPosting] = []
    private var unsorted: [KeyedPosting] = []

    init(kind: IndexKind) { self.kind = kind }

    /// Adds the postings of one document version.
    func add(document: JSONValue, path: [String], id: String, seq: UInt64) {
        guard let value = document.value(atPath: path) else { return }
        lock.locked {
            switch kind {
            case .eq:
                list(ValueOrder.equalityKey(value)).pending.append((id, seq))
            case .ordered:
                unsorted.append((ValueOrder.orderKey(value), id, seq))
            case .search:
                for token in Tokenizer.tokens(of: value) { list(Array(token.utf8)).pending.append((id, seq)) }
            }
        }
    }

    private func list(_ key: [UInt8]) -> KeyList {
        if let l = byKey[key] { return l }
        let l = KeyList()
        byKey[key] = l
        return l
    }

    /// The postings of one key (eq) or token (search), in (id, seq) order.
    func postings(key: [UInt8]) -> [IdPosting] {
        lock.locked {
            guard let l = byKey[key] else { return [] }
            mergeSorted(&l.sorted, &l.pending, by: idPostingLess)
            return l.sorted
        }
    }

    /// Every key of an eq or search index, unordered.
    var keys: [[UInt8]] { lock.locked { Array(byKey.keys) } }

    /// Every posting of an ordered index in (key, id, seq) order.
    func ordered() -> [KeyedPosting] {
        lock.locked {
            mergeSorted(&sorted, &unsorted, by: keyedPostingLess)
            return sorted
        }
    }

    /// Every posting, for writing a checkpoint: sorted by key, id, seq.
    func allSorted() -> [KeyedPosting] {
        switch kind {
        case .ordered:
            return ordered()
        case .eq, .search:
            var out: [KeyedPosting] = []
            for key in keys { for p in postings(key: key) { out.append((key, p.id, p.seq)) } }
            return out.sorted(by: keyedPostingLess)
        }
    }
}
