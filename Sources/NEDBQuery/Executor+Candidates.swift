import NEDBState

/// Finding candidate rows: from an index when one narrows the set, else by scanning every id.
/// Each path yields visible rows in (collection, id) order — the order of spec/NQL.md §8.5 — so
/// a query without ORDER BY can stop as soon as it has OFFSET + LIMIT rows.
extension QueryExecutor {
    /// Rows that pass WHERE and SEARCH, in id order; at most `stopAfter` when given.
    func candidates(_ q: Query, _ point: ReadPoint, searchFields: [FieldPath]?, stopAfter: Int?) throws -> ([Row], Plan) {
        var rows: [Row] = []
        var searchChecked = false
        func take(_ row: Row) -> Bool {
            if let f = q.filter, !evaluate(f, row) { return true }
            if !searchChecked, q.search != nil, !matchesSearch(row, q, searchFields) { return true }
            rows.append(row)
            if let stopAfter, rows.count >= stopAfter { return false }
            return true
        }
        if useIndexes {
            if let plan = try idCandidates(q, point, take) { return (rows, plan) }
            if let plan = try eqCandidates(q, point, take) { return (rows, plan) }
            searchChecked = true
            if let plan = try searchCandidates(q, point, searchFields, take) { return (rows, plan) }
            searchChecked = false
            if let plan = try rangeCandidates(q, point, take) { return (rows, plan) }
        }
        for id in try state.ids(collection: q.collection) {
            guard let row = try visible(q.collection, id, point) else { continue }
            if !take(row) { break }
        }
        return (rows, .scan)
    }

    /// Visits the visible rows among id-ordered postings: for each id, the row whose visible
    /// version is one of its postings. Stops when `body` returns false.
    func walkById(_ lists: [[IdPosting]], _ collection: String, _ point: ReadPoint, _ body: (Row) throws -> Bool) throws {
        var positions = Array(repeating: 0, count: lists.count)
        while true {
            // The smallest id at the heads of the lists.
            var next: String? = nil
            for (l, list) in lists.enumerated() where positions[l] < list.count {
                let id = list[positions[l]].id
                if next.map({ utf8Less(id, $0) }) ?? true { next = id }
            }
            guard let id = next else { return }
            let row = try visible(collection, id, point)
            var posted = false
            for (l, list) in lists.enumerated() {
                while positions[l] < list.count && list[positions[l]].id == id {
                    if list[positions[l]].seq == row?.version.seq { posted = true }
                    positions[l] += 1
                }
            }
            if posted, let row, try !body(row) { return }
        }
    }

    /// `_id = "x"` or `_id IN (…)` in the top-level conjunction: direct lookups.
    func idCandidates(_ q: Query, _ point: ReadPoint, _ take: (Row) -> Bool) throws -> Plan? {
        for term in conjuncts(q.filter) {
            let values: [JSONValue]
            switch term {
            case let .compare(p, .equal, v) where p.components == ["_id"]: values = [v]
            case let .isIn(p, vs) where p.components == ["_id"]: values = vs
            default: continue
            }
            let ids = Set(values.compactMap(\.stringValue)).sorted(by: utf8Less)
            for id in ids {
                guard let row = try visible(q.collection, id, point) else { continue }
                if !take(row) { break }
            }
            return .idLookup
        }
        return nil
    }

    /// Equality or IN on an eq index, anywhere in the top-level conjunction.
    func eqCandidates(_ q: Query, _ point: ReadPoint, _ take: (Row) -> Bool) throws -> Plan? {
        let c = q.collection
        for term in conjuncts(q.filter) {
            let path: FieldPath, values: [JSONValue]
            switch term {
            case let .compare(p, .equal, v) where !p.isMetadata: path = p; values = [v]
            case let .isIn(p, vs) where !p.isMetadata: path = p; values = vs
            default: continue
            }
            guard let def = state.activeIndex(collection: c, field: path.description, kind: .eq) else { continue }
            let index = IndexID(collection: c, field: def.field, kind: .eq)
            var lists: [[IdPosting]] = []
            for v in values { lists += try state.postingLists(index, key: ValueOrder.equalityKey(v)) }
            try walkById(lists, c, point, take)
            return .eqIndex(path.description)
        }
        return nil
    }

    /// SEARCH over search-indexed fields: walk the rarest token's postings in id order and keep
    /// ids whose visible version has every other token too (binary search in their lists).
    func searchCandidates(_ q: Query, _ point: ReadPoint, _ fields: [FieldPath]?, _ take: (Row) -> Bool) throws -> Plan? {
        let c = q.collection
        guard let s = q.search, let fields, !fields.isEmpty,
              fields.allSatisfy({ state.activeIndex(collection: c, field: $0.description, kind: .search) != nil }) else { return nil }
        let plan = Plan.searchIndex(fields.map(\.description).joined(separator: ","))
        let tokens = Array(Set(Tokenizer.tokens(s.text))).sorted()
        guard !tokens.isEmpty else { return plan }
        // Per token: its lists over every searched field.
        var perToken: [[[IdPosting]]] = []
        for token in tokens {
            var lists: [[IdPosting]] = []
            for f in fields { lists += try state.postingLists(IndexID(collection: c, field: f.description, kind: .search), key: Array(token.utf8)) }
            perToken.append(lists)
        }
        let sizes = perToken.map { $0.reduce(0) { $0 + $1.count } }
        guard let rarest = sizes.indices.min(by: { sizes[$0] < sizes[$1] }) else { return plan }
        let others = perToken.indices.filter { $0 != rarest }.map { perToken[$0] }
        try walkById(perToken[rarest], c, point) { row in
            for lists in others where !lists.contains(where: { QueryExecutor.contains($0, (row.id, row.version.seq)) }) { return true }
            return take(row)
        }
        return plan
    }

    /// Binary search for a posting in a list in (id, seq) order.
    static func contains(_ list: [IdPosting], _ p: IdPosting) -> Bool {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let m = list[mid]
            if m.id == p.id && m.seq == p.seq { return true }
            if idPostingLess(m, p) { lo = mid + 1 } else { hi = mid }
        }
        return false
    }

    /// A range (or =) on an ordered index: the ids in range, sorted. When the range covers
    /// much of the collection a scan in id order is cheaper (and can stop early), so nil.
    func rangeCandidates(_ q: Query, _ point: ReadPoint, _ take: (Row) -> Bool) throws -> Plan? {
        let c = q.collection
        for term in conjuncts(q.filter) {
            guard case let .compare(p, op, _) = term, !p.isMetadata, op != .notEqual,
                  let def = state.activeIndex(collection: c, field: p.description, kind: .ordered),
                  let bounds = rangeBounds(q.filter, p) else { continue }
            let lists = try state.orderedPostingLists(IndexID(collection: c, field: def.field, kind: .ordered))
            var inRange: [IdPosting] = []
            var total = 0
            for list in lists {
                let (start, end) = QueryExecutor.span(list, bounds)
                total += list.count
                for i in start..<end { inRange.append((list[i].id, list[i].seq)) }
            }
            if inRange.count * 4 > total && inRange.count > 256 { return nil }
            inRange.sort(by: idPostingLess)
            try walkById([inRange], c, point, take)
            return .rangeIndex(p.description)
        }
        return nil
    }

    /// Order-key bounds on `path` from the comparisons of the top-level conjunction (each
    /// comparison only holds within its value's type class), or nil when there is none.
    func rangeBounds(_ filter: Predicate?, _ path: FieldPath) -> KeyBounds? {
        var bounds: KeyBounds? = nil
        for term in conjuncts(filter) {
            guard case let .compare(p, op, v) = term, p == path, op != .notEqual else { continue }
            let key = ValueOrder.orderKey(v)
            let classStart = [ValueOrder.rank(v)], nextClass = [ValueOrder.rank(v) + 1]
            var b = KeyBounds(lower: classStart, lowerInclusive: true, upper: nextClass, upperInclusive: false)
            switch op {
            case .equal: b = KeyBounds(lower: key, lowerInclusive: true, upper: key, upperInclusive: true)
            case .less: b.upper = key
            case .lessOrEqual: b.upper = key; b.upperInclusive = true
            case .greater: b.lower = key; b.lowerInclusive = false
            case .greaterOrEqual: b.lower = key
            case .notEqual: continue
            }
            bounds = bounds.map { $0.intersected(with: b) } ?? b
        }
        return bounds
    }

    /// The index range [start, end) of `list` inside `bounds`.
    static func span(_ list: [KeyedPosting], _ bounds: KeyBounds) -> (Int, Int) {
        func firstIndex(where after: ([UInt8]) -> Bool) -> Int {
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if after(list[mid].key) { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        let start = firstIndex { k in
            let c = ValueOrder.compareBytes(k, bounds.lower)
            return c > 0 || (c == 0 && bounds.lowerInclusive)
        }
        let end = firstIndex { k in
            let c = ValueOrder.compareBytes(k, bounds.upper)
            return c > 0 || (c == 0 && !bounds.upperInclusive)
        }
        return (start, max(start, end))
    }

    /// ORDER BY one ordered-indexed field with LIMIT: walk the index in order from the range
    /// bounds and stop at `want` rows. Ties (equal keys) come in id order, ascending even for
    /// DESC. Missing values sort last ascending and first descending, so the walk is used
    /// descending only when the filter requires the field, and ascending falls back (nil) when
    /// the index runs out before `want` unless the filter requires the field.
    func orderedWalk(_ q: Query, _ point: ReadPoint, want: Int, searchFields: [FieldPath]?) throws -> [Row]? {
        let key = q.order[0].path
        let descending = q.order[0].descending
        guard let def = state.activeIndex(collection: q.collection, field: key.description, kind: .ordered) else { return nil }
        let required = conjuncts(q.filter).contains { term in
            switch term {
            case let .compare(p, _, _), let .isIn(p, _), let .exists(p): return p == key
            default: return false
            }
        }
        if descending && !required { return nil }
        let lists = try state.orderedPostingLists(IndexID(collection: q.collection, field: def.field, kind: .ordered))
        let bounds = rangeBounds(q.filter, key) ?? KeyBounds(lower: [], lowerInclusive: true, upper: [0xFF], upperInclusive: true)
        var spans = lists.map { QueryExecutor.span($0, bounds) }
        var rows: [Row] = []
        func visit(_ p: KeyedPosting) throws -> Bool {
            guard let row = try visible(q.collection, p.id, point), row.version.seq == p.seq,
                  matches(row, q, point, searchFields) else { return true }
            rows.append(row)
            return rows.count < want
        }
        if !descending {
            // A merge of the lists in (key, id, seq) order.
            while true {
                var best: Int? = nil
                for l in lists.indices where spans[l].0 < spans[l].1 {
                    if let b = best, !keyedPostingLess(lists[l][spans[l].0], lists[b][spans[b].0]) { continue }
                    best = l
                }
                guard let l = best else { break }
                let p = lists[l][spans[l].0]
                spans[l].0 += 1
                if try !visit(p) { return rows }
            }
            return required ? rows : nil
        }
        // Descending by key; within one key, ascending by id.
        while true {
            var top: [UInt8]? = nil
            for l in lists.indices where spans[l].0 < spans[l].1 {
                let k = lists[l][spans[l].1 - 1].key
                if top.map({ ValueOrder.compareBytes(k, $0) > 0 }) ?? true { top = k }
            }
            guard let k = top else { return rows }
            var group: [KeyedPosting] = []
            for l in lists.indices where spans[l].0 < spans[l].1 {
                var start = spans[l].1
                while start > spans[l].0 && lists[l][start - 1].key == k { start -= 1 }
                group += lists[l][start..<spans[l].1]
                spans[l].1 = start
            }
            group.sort(by: keyedPostingLess)
            for p in group where try !visit(p) { return rows }
        }
    }
}

/// Bounds on order keys.
struct KeyBounds {
    var lower: [UInt8]
    var lowerInclusive: Bool
    var upper: [UInt8]
    var upperInclusive: Bool

    func intersected(with o: KeyBounds) -> KeyBounds {
        var r = self
        let l = ValueOrder.compareBytes(o.lower, lower)
        if l > 0 || (l == 0 && !o.lowerInclusive) { r.lower = o.lower; r.lowerInclusive = o.lowerInclusive }
        let u = ValueOrder.compareBytes(o.upper, upper)
        if u < 0 || (u == 0 && !o.upperInclusive) { r.upper = o.upper; r.upperInclusive = o.upperInclusive }
        return r
    }
}
