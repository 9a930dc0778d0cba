import NEDBState

/// Runs a `Query` against a `DatabaseState` (semantics in spec/NQL.md §3). Indexes narrow the
/// candidates; every candidate is still checked against the full predicate at the read point,
/// so results are identical with and without indexes.
public struct QueryExecutor {
    public let state: DatabaseState
    /// The seq reads see when the query has no AS OF (the last acknowledged record).
    public let head: UInt64
    public var useIndexes = true

    public init(state: DatabaseState, head: UInt64, useIndexes: Bool = true) {
        self.state = state
        self.head = head
        self.useIndexes = useIndexes
    }

    /// A document at the read point.
    struct Row {
        let collection: String
        let id: String
        let version: Version
        let document: JSONValue
    }

    /// How the candidates were found (for EXPLAIN-style diagnostics and tests).
    public enum Plan: Equatable, Sendable {
        case scan
        case eqIndex(String)
        case rangeIndex(String)
        case searchIndex(String)
        case orderedIndex(String)
    }

    public func run(_ text: String) throws -> [JSONValue] { try run(QueryParser.parse(text)).rows }

    public func run(_ q: Query) throws -> (rows: [JSONValue], plan: Plan) {
        let point = ReadPoint(asOf: min(q.asOf ?? head, head), validAt: q.validAt)
        let searchFields = try searchFields(q, point)
        // Fast path: ORDER BY one indexed field with LIMIT, nothing else reshaping rows.
        if useIndexes, q.group == nil, q.traverse == nil, q.trace == nil, q.order.count == 1, let limit = q.limit,
           !q.order[0].descending, !q.order[0].path.isMetadata,
           let rows = try orderedByIndex(q, point, limit: q.offset + limit, searchFields: searchFields) {
            let page = Array(rows.dropFirst(q.offset).prefix(limit))
            return (page.map(render), .orderedIndex(q.order[0].path.description))
        }
        var (rows, plan) = try candidates(q, point, searchFields: searchFields)
        rows = rows.filter { matches($0, q, point, searchFields) }
        if let t = q.traverse { rows = try traverse(rows, t, point) }
        if let t = q.trace { rows = try trace(rows, t, point) }
        if let g = q.group {
            var grouped = group(rows, g)
            if !q.order.isEmpty {
                // Ties keep the key order (an explicit tie-break: sort is not guaranteed stable).
                grouped = grouped.enumerated().sorted { a, b in
                    compareValues(a.element, b.element, q.order) || (!compareValues(b.element, a.element, q.order) && a.offset < b.offset)
                }.map(\.element)
            }
            return (Array(grouped.dropFirst(q.offset).prefix(q.limit ?? Int.max)), plan)
        }
        if !q.order.isEmpty {
            rows.sort { a, b in
                for key in q.order {
                    let c = orderCompare(sortValue(a, key.path), sortValue(b, key.path))
                    if c != 0 { return key.descending ? c > 0 : c < 0 }
                }
                return tieBreak(a, b)
            }
        }
        return (rows.dropFirst(q.offset).prefix(q.limit ?? Int.max).map(render), plan)
    }

    // MARK: Candidates

    func visible(_ collection: String, _ id: String, _ point: ReadPoint) throws -> Row? {
        guard let d = try state.document(collection: collection, id: id, at: point), let doc = d.document else { return nil }
        return Row(collection: collection, id: id, version: d.version, document: doc)
    }

    /// Documents of the collection visible at the read point: from an index when one narrows
    /// the set, else every id. In (collection, id) order.
    func candidates(_ q: Query, _ point: ReadPoint, searchFields: [FieldPath]?) throws -> ([Row], Plan) {
        if useIndexes, let (ids, plan) = try indexedCandidates(q, point, searchFields: searchFields) {
            var rows: [Row] = []
            for (id, seq) in ids.sorted(by: { utf8Before($0.key, $1.key) }) {
                if let row = try visible(q.collection, id, point), row.version.seq == seq { rows.append(row) }
            }
            return (rows, plan)
        }
        var rows: [Row] = []
        for id in try state.ids(collection: q.collection) {
            if let row = try visible(q.collection, id, point) { rows.append(row) }
        }
        return (rows, .scan)
    }

    /// Candidate (id → version seq) from the best index, or nil to scan.
    func indexedCandidates(_ q: Query, _ point: ReadPoint, searchFields: [FieldPath]?) throws -> ([String: UInt64], Plan)? {
        let c = q.collection
        // Equality (or IN) on an eq index, anywhere in the top-level conjunction.
        for term in conjuncts(q.filter) {
            switch term {
            case let .compare(p, .equal, v) where !p.isMetadata:
                if let def = state.activeIndex(collection: c, field: p.description, kind: .eq) {
                    return (try verified(state.postings(IndexID(collection: c, field: def.field, kind: .eq), equal: ValueOrder.equalityKey(v)), point, c),
                            .eqIndex(p.description))
                }
            case let .isIn(p, values) where !p.isMetadata:
                if let def = state.activeIndex(collection: c, field: p.description, kind: .eq) {
                    var all: [(id: String, seq: UInt64)] = []
                    for v in values { all += try state.postings(IndexID(collection: c, field: def.field, kind: .eq), equal: ValueOrder.equalityKey(v)) }
                    return (try verified(all, point, c), .eqIndex(p.description))
                }
            default: break
            }
        }
        // SEARCH on search-indexed fields.
        if let s = q.search, let fields = searchFields, !fields.isEmpty,
           fields.allSatisfy({ state.activeIndex(collection: c, field: $0.description, kind: .search) != nil }) {
            let tokens = Array(Set(Tokenizer.tokens(s.text)))
            guard !tokens.isEmpty else { return ([:], .searchIndex(fields.map(\.description).joined(separator: ","))) }
            var result: Set<String>? = nil
            for token in tokens {
                var ids = Set<String>()
                for f in fields {
                    for p in try state.postings(IndexID(collection: c, field: f.description, kind: .search), token: token) { ids.insert(p.id) }
                }
                result = result.map { $0.intersection(ids) } ?? ids
            }
            var out: [String: UInt64] = [:]
            for id in result ?? [] { if let seq = try state.visibleSeq(collection: c, id: id, at: point) { out[id] = seq } }
            return (out, .searchIndex(fields.map(\.description).joined(separator: ",")))
        }
        // A range on an ordered index.
        for term in conjuncts(q.filter) {
            guard case let .compare(p, op, v) = term, !p.isMetadata, op != .notEqual,
                  let def = state.activeIndex(collection: c, field: p.description, kind: .ordered) else { continue }
            let key = ValueOrder.orderKey(v)
            let rank = [ValueOrder.rank(v)]
            let next = [ValueOrder.rank(v) + 1]
            let index = IndexID(collection: c, field: def.field, kind: .ordered)
            let postings: [(key: [UInt8], id: String, seq: UInt64)]
            switch op {
            case .equal: postings = try state.postings(index, lower: key, lowerInclusive: true, upper: key, upperInclusive: true)
            case .less: postings = try state.postings(index, lower: rank, lowerInclusive: true, upper: key, upperInclusive: false)
            case .lessOrEqual: postings = try state.postings(index, lower: rank, lowerInclusive: true, upper: key, upperInclusive: true)
            case .greater: postings = try state.postings(index, lower: key, lowerInclusive: false, upper: next, upperInclusive: false)
            case .greaterOrEqual: postings = try state.postings(index, lower: key, lowerInclusive: true, upper: next, upperInclusive: false)
            case .notEqual: continue
            }
            return (try verified(postings.map { ($0.id, $0.seq) }, point, c), .rangeIndex(p.description))
        }
        return nil
    }

    /// Keeps postings whose version is the one visible at the read point.
    func verified(_ postings: [(id: String, seq: UInt64)], _ point: ReadPoint, _ collection: String) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        var checked: [String: UInt64?] = [:]
        for p in postings {
            let visible: UInt64?
            if let cached = checked[p.id] { visible = cached } else {
                visible = try state.visibleSeq(collection: collection, id: p.id, at: point)
                checked[p.id] = visible
            }
            if visible == p.seq { out[p.id] = p.seq }
        }
        return out
    }

    /// ORDER BY an ordered-indexed field ASC with LIMIT: walk the index in order and stop early.
    func orderedByIndex(_ q: Query, _ point: ReadPoint, limit: Int, searchFields: [FieldPath]?) throws -> [Row]? {
        let key = q.order[0].path
        guard let def = state.activeIndex(collection: q.collection, field: key.description, kind: .ordered) else { return nil }
        let postings = try state.postings(IndexID(collection: q.collection, field: def.field, kind: .ordered), lower: nil,
                                          lowerInclusive: true, upper: nil, upperInclusive: true)
        var rows: [Row] = []
        var seen = Set<String>()
        for p in postings {
            if rows.count >= limit { break }
            guard !seen.contains(p.id), let row = try visible(q.collection, p.id, point), row.version.seq == p.seq else { continue }
            seen.insert(p.id)
            if matches(row, q, point, searchFields) { rows.append(row) }
        }
        // Documents without the field sort last: if the index ran out first, take the slow path.
        return rows.count >= limit ? rows : nil
    }

    func conjuncts(_ p: Predicate?) -> [Predicate] {
        guard let p else { return [] }
        if case let .and(a, b) = p { return conjuncts(a) + conjuncts(b) }
        return [p]
    }

    // MARK: Predicates

    func searchFields(_ q: Query, _ point: ReadPoint) throws -> [FieldPath]? {
        guard let s = q.search else { return nil }
        if let f = s.field { return [f] }
        let defs = state.indexes(at: point.asOf).filter { $0.collection == q.collection && $0.kind == .search }
        return defs.isEmpty ? nil : Array(Set(defs.map(\.field))).sorted().map { FieldPath($0.split(separator: ".").map(String.init)) }
    }

    func matches(_ row: Row, _ q: Query, _ point: ReadPoint, _ searchFields: [FieldPath]?) -> Bool {
        if let f = q.filter, !evaluate(f, row) { return false }
        if let s = q.search {
            let wanted = Set(Tokenizer.tokens(s.text))
            guard !wanted.isEmpty else { return false }
            var have = Set<String>()
            if let fields = searchFields {
                for f in fields { if let v = value(row, f) { have.formUnion(Tokenizer.tokens(of: v)) } }
            } else {
                have = Tokenizer.tokens(of: row.document)
            }
            if !wanted.isSubset(of: have) { return false }
        }
        return true
    }

    func evaluate(_ p: Predicate, _ row: Row) -> Bool {
        switch p {
        case let .and(a, b): return evaluate(a, row) && evaluate(b, row)
        case let .or(a, b): return evaluate(a, row) || evaluate(b, row)
        case let .not(a): return !evaluate(a, row)
        case let .exists(path): return value(row, path) != nil
        case let .isIn(path, values):
            if path.isInstant {
                guard let v = instant(row, path) else { return false }
                return values.contains { $0.stringValue.flatMap(Timestamp.parse) == v }
            }
            guard let v = value(row, path) else { return false }
            return values.contains { equal(v, $0) }
        case let .compare(path, op, literal):
            if path.isInstant {
                guard let v = instant(row, path), case let .string(text) = literal, let t = Timestamp.parse(text) else { return false }
                return holds(op, v < t ? -1 : (v > t ? 1 : 0))
            }
            guard let v = value(row, path) else { return false }
            switch op {
            case .equal: return equal(v, literal)
            case .notEqual: return !equal(v, literal)
            default:
                guard ValueOrder.rank(v) == ValueOrder.rank(literal) else { return false }
                return holds(op, ValueOrder.compare(v, literal))
            }
        }
    }

    func holds(_ op: Comparison, _ c: Int) -> Bool {
        switch op {
        case .equal: return c == 0
        case .notEqual: return c != 0
        case .less: return c < 0
        case .lessOrEqual: return c <= 0
        case .greater: return c > 0
        case .greaterOrEqual: return c >= 0
        }
    }

    /// The µs value of an instant metadata field (_time, _valid_from, _valid_to).
    func instant(_ row: Row, _ path: FieldPath) -> Microseconds? {
        switch path.components[0] {
        case "_time": return row.version.time
        case "_valid_from": return row.version.validFrom
        case "_valid_to": return row.version.validTo
        default: return nil
        }
    }

    /// The value ORDER BY sorts on: instants as numbers (so they order in time), else the field.
    func sortValue(_ row: Row, _ path: FieldPath) -> JSONValue? {
        if path.isInstant { return instant(row, path).map { .number(Double($0)) } }
        return value(row, path)
    }

    func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if case let .number(x) = a, case let .number(y) = b { return x == y }
        return ValueOrder.rank(a) == ValueOrder.rank(b) && ValueOrder.compare(a, b) == 0
    }

    /// A field of a row; `_…` names metadata (spec/NQL.md §3.1).
    func value(_ row: Row, _ path: FieldPath) -> JSONValue? {
        if path.isMetadata {
            let v = row.version
            switch path.components[0] {
            case "_id": return .string(row.id)
            case "_coll": return .string(row.collection)
            case "_seq": return .number(Double(v.seq))
            case "_time": return .string(Timestamp.format(v.time))
            case "_hash": return .string(v.chain.hex)
            case "_valid_from": return v.validFrom.map { .string(Timestamp.format($0)) }
            case "_valid_to": return v.validTo.map { .string(Timestamp.format($0)) }
            case "_evidence": return v.evidence.map { .string($0) }
            case "_confidence": return v.confidence.map { .number($0) }
            case "_caused_by": return v.causedBy.isEmpty ? nil : .array(v.causedBy.map { .number(Double($0)) })
            default: return nil
            }
        }
        return row.document.value(atPath: path.components)
    }

    // MARK: Traverse and trace

    func traverse(_ roots: [Row], _ t: Traverse, _ point: ReadPoint) throws -> [Row] {
        var seen = Set(roots.map { "\($0.collection):\($0.id)" })
        var frontier = roots.map { "\($0.collection):\($0.id)" }.sorted(by: utf8Before)
        var out: [Row] = []
        for _ in 0..<t.depth {
            var next = Set<String>()
            for node in frontier {
                if t.direction != .inbound {
                    for e in try state.outgoing(from: node, relation: t.relation, at: point.asOf) { next.insert(e.to) }
                }
                if t.direction != .outbound {
                    for e in try state.incoming(to: node, relation: t.relation, at: point.asOf) { next.insert(e.from) }
                }
            }
            let level = next.subtracting(seen).sorted(by: utf8Before)
            seen.formUnion(level)
            for node in level {
                guard let colon = node.firstIndex(of: ":") else { continue }
                if let row = try visible(String(node[..<colon]), String(node[node.index(after: colon)...]), point) { out.append(row) }
            }
            frontier = level
            if frontier.isEmpty { break }
        }
        return out
    }

    func trace(_ roots: [Row], _ t: Trace, _ point: ReadPoint) throws -> [Row] {
        var seen = Set(roots.map(\.version.seq))
        var frontier = roots.map(\.version)
        var found: [UInt64: Row] = [:]
        var depth = 0
        while !frontier.isEmpty, depth < (t.depth ?? Int.max) {
            var next: [Version] = []
            for v in frontier {
                let seqs = t.reverse ? try state.effects(of: v.seq, asOf: point.asOf) : v.causedBy
                for s in seqs where !seen.contains(s) && s <= point.asOf {
                    seen.insert(s)
                    guard let (c, id) = try state.location(ofSeq: s),
                          let version = try state.versions(collection: c, id: id).first(where: { $0.seq == s }) else { continue }
                    next.append(version)
                    if !version.deleted, let bytes = version.documentBytes, let doc = try? JSONParser.parse(bytes) {
                        found[s] = Row(collection: c, id: id, version: version, document: doc)
                    }
                }
            }
            frontier = next
            depth += 1
        }
        return found.keys.sorted().compactMap { found[$0] }
    }

    // MARK: Grouping and ordering

    func group(_ rows: [Row], _ g: Group) -> [JSONValue] {
        var buckets: [(key: JSONValue, rows: [Row])] = []
        var index: [JSONValue: Int] = [:]
        for row in rows {
            let key = value(row, g.key) ?? .null
            let normalized = normalize(key)
            if let i = index[normalized] { buckets[i].rows.append(row) } else {
                index[normalized] = buckets.count
                buckets.append((key, [row]))
            }
        }
        buckets.sort { ValueOrder.compare($0.key, $1.key) < 0 }
        return buckets.map { bucket in
            var o: [String: JSONValue] = [g.key.description: bucket.key]
            switch g.aggregate {
            case .count:
                o["count"] = .number(Double(bucket.rows.count))
            case let .sum(p):
                o["sum"] = .number(bucket.rows.compactMap { value($0, p)?.numberValue }.reduce(0, +))
            case let .avg(p):
                let numbers = bucket.rows.compactMap { value($0, p)?.numberValue }
                o["avg"] = numbers.isEmpty ? .null : .number(numbers.reduce(0, +) / Double(numbers.count))
            case let .min(p):
                o["min"] = bucket.rows.compactMap { value($0, p) }.min { ValueOrder.compare($0, $1) < 0 } ?? .null
            case let .max(p):
                o["max"] = bucket.rows.compactMap { value($0, p) }.max { ValueOrder.compare($0, $1) < 0 } ?? .null
            }
            return .object(o)
        }
    }

    /// Equal numbers (1 and 1.0, -0 and 0) fall in one group.
    func normalize(_ v: JSONValue) -> JSONValue {
        if case let .number(n) = v, n == 0 { return .number(0) }
        return v
    }

    /// ORDER BY comparison: the value order, with missing values after every value.
    func orderCompare(_ a: JSONValue?, _ b: JSONValue?) -> Int {
        switch (a, b) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case let (x?, y?): return ValueOrder.compare(x, y)
        }
    }

    func tieBreak(_ a: Row, _ b: Row) -> Bool {
        if a.collection != b.collection { return utf8Before(a.collection, b.collection) }
        if a.id != b.id { return utf8Before(a.id, b.id) }
        return a.version.seq < b.version.seq
    }

    func compareValues(_ a: JSONValue, _ b: JSONValue, _ order: [OrderKey]) -> Bool {
        for key in order {
            let c = orderCompare(a.value(atPath: key.path.components), b.value(atPath: key.path.components))
            if c != 0 { return key.descending ? c > 0 : c < 0 }
        }
        return false
    }

    // MARK: Rendering

    /// A document with its metadata fields (spec/NQL.md §3.1).
    func render(_ row: Row) -> JSONValue {
        guard case var .object(o) = row.document else { return row.document }
        let v = row.version
        o["_id"] = .string(row.id)
        o["_coll"] = .string(row.collection)
        o["_seq"] = .number(Double(v.seq))
        o["_time"] = .string(Timestamp.format(v.time))
        o["_hash"] = .string(v.chain.hex)
        if let f = v.validFrom { o["_valid_from"] = .string(Timestamp.format(f)) }
        if let t = v.validTo { o["_valid_to"] = .string(Timestamp.format(t)) }
        if !v.causedBy.isEmpty { o["_caused_by"] = .array(v.causedBy.map { .number(Double($0)) }) }
        if let e = v.evidence { o["_evidence"] = .string(e) }
        if let c = v.confidence { o["_confidence"] = .number(c) }
        return .object(o)
    }
}

@inline(__always)
func utf8Before(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
