/// In-memory postings of one index: every (key, id, version seq) ever written while the index
/// existed. Stale postings (of versions no longer visible) are filtered by the reader, which
/// checks each candidate against the document's visible version — so one posting list serves
/// reads at any seq.
final class PostingList {
    let kind: IndexKind
    var byKey: [[UInt8]: [(id: String, seq: UInt64)]] = [:]
    /// Ordered kind: sorted entries plus an unsorted tail merged on the next range read.
    var sorted: [(key: [UInt8], id: String, seq: UInt64)] = []
    var unsorted: [(key: [UInt8], id: String, seq: UInt64)] = []

    init(kind: IndexKind) { self.kind = kind }

    /// Adds the postings of one document version.
    func add(document: JSONValue, path: [String], id: String, seq: UInt64) {
        guard let value = document.value(atPath: path) else { return }
        switch kind {
        case .eq:
            byKey[ValueOrder.equalityKey(value), default: []].append((id, seq))
        case .ordered:
            unsorted.append((ValueOrder.orderKey(value), id, seq))
        case .search:
            for token in Tokenizer.tokens(of: value) { byKey[Array(token.utf8), default: []].append((id, seq)) }
        }
    }

    func equal(_ key: [UInt8]) -> [(id: String, seq: UInt64)] { byKey[key] ?? [] }

    func token(_ token: String) -> [(id: String, seq: UInt64)] { byKey[Array(token.utf8)] ?? [] }

    static func less(_ a: (key: [UInt8], id: String, seq: UInt64), _ b: (key: [UInt8], id: String, seq: UInt64)) -> Bool {
        let c = ValueOrder.compareBytes(a.key, b.key)
        if c != 0 { return c < 0 }
        if a.id != b.id { return utf8Less(a.id, b.id) }
        return a.seq < b.seq
    }

    func mergePending() {
        guard !unsorted.isEmpty else { return }
        unsorted.sort(by: PostingList.less)
        if sorted.isEmpty {
            sorted = unsorted
        } else {
            var merged: [(key: [UInt8], id: String, seq: UInt64)] = []
            merged.reserveCapacity(sorted.count + unsorted.count)
            var i = 0, j = 0
            while i < sorted.count || j < unsorted.count {
                if j >= unsorted.count || (i < sorted.count && PostingList.less(sorted[i], unsorted[j])) {
                    merged.append(sorted[i]); i += 1
                } else {
                    merged.append(unsorted[j]); j += 1
                }
            }
            sorted = merged
        }
        unsorted.removeAll()
    }

    /// Entries with lower ≤ key ≤ upper (bounds optional, inclusive or not), in key order.
    func range(lower: [UInt8]?, lowerInclusive: Bool, upper: [UInt8]?, upperInclusive: Bool) -> [(key: [UInt8], id: String, seq: UInt64)] {
        mergePending()
        var start = 0
        if let lower {
            var lo = 0, hi = sorted.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let c = ValueOrder.compareBytes(sorted[mid].key, lower)
                if c < 0 || (c == 0 && !lowerInclusive) { lo = mid + 1 } else { hi = mid }
            }
            start = lo
        }
        var out: [(key: [UInt8], id: String, seq: UInt64)] = []
        var i = start
        while i < sorted.count {
            if let upper {
                let c = ValueOrder.compareBytes(sorted[i].key, upper)
                if c > 0 || (c == 0 && !upperInclusive) { break }
            }
            out.append(sorted[i])
            i += 1
        }
        return out
    }

    /// Every posting, for writing a checkpoint: (key, id, seq) sorted by key, id, seq.
    func allSorted() -> [(key: [UInt8], id: String, seq: UInt64)] {
        switch kind {
        case .ordered:
            mergePending()
            return sorted
        case .eq, .search:
            var out: [(key: [UInt8], id: String, seq: UInt64)] = []
            for (k, list) in byKey { for p in list { out.append((k, p.id, p.seq)) } }
            return out.sorted(by: PostingList.less)
        }
    }
}
