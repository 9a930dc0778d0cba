import NEDBState

/// Runs a `Query` against a `DatabaseState` (semantics in spec/NQL.md §3). Indexes narrow the
/// candidates; every candidate is still checked against the full predicate at the read point,
/// so results are identical with and without indexes.
public struct QueryExecutor {
    public let state: DatabaseState
    /// The seq reads see when the query has no AS OF (the last acknowledged record).
    public let head: UInt64
    public var useIndexes = true
    /// Rendered rows kept across queries (optional).
    public var rowCache: RowCache?

    public init(state: DatabaseState, head: UInt64, useIndexes: Bool = true, rowCache: RowCache? = nil) {
        self.state = state
        self.head = head
        self.useIndexes = useIndexes
        self.rowCache = rowCache
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
        case idLookup
        case eqIndex(String)
        case rangeIndex(String)
        case searchIndex(String)
        case orderedIndex(String)
    }

    public func run(_ text: String) throws -> [JSONValue] { try run(QueryParser.parse(text)).rows }

    public func run(_ q: Query) throws -> (rows: [JSONValue], plan: Plan) {
        let point = ReadPoint(asOf: min(q.asOf ?? head, head), validAt: q.validAt)
        if point.asOf < state.historyFrom {
            throw QueryError(offset: 0, line: 1, column: 1, message: state.prunedHistoryMessage(point.asOf))
        }
        let searchFields = try searchFields(q, point)
        let reshaped = q.group != nil || q.traverse != nil || q.trace != nil
        // ORDER BY one indexed field with LIMIT: walk the index in order and stop early.
        if useIndexes, !reshaped, q.order.count == 1, let limit = q.limit, !q.order[0].path.isMetadata,
           let rows = try orderedWalk(q, point, want: q.offset + limit, searchFields: searchFields) {
            let page = Array(rows.dropFirst(q.offset).prefix(limit))
            return (page.map(render), .orderedIndex(q.order[0].path.description))
        }
        // GROUP BY an eq-indexed field COUNT over the whole collection at HEAD: the live counts.
        if useIndexes, let g = q.group, let counted = try countedGroups(q, g, point) {
            return (finishGroups(counted, q), .eqIndex(g.key.description))
        }
        // Without ORDER BY rows come in id order, so OFFSET + LIMIT rows are enough.
        let stopAfter = !reshaped && q.order.isEmpty ? q.limit.map { q.offset + $0 } : nil
        var (rows, plan) = try candidates(q, point, searchFields: searchFields, stopAfter: stopAfter)
        if let t = q.traverse { rows = try traverse(rows, t, point) }
        if let t = q.trace { rows = try trace(rows, t, point) }
        if let g = q.group { return (finishGroups(group(rows, g), q), plan) }
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
        return matchesSearch(row, q, searchFields)
    }

    /// Whether the row has every search token in the searched fields (true without SEARCH).
    func matchesSearch(_ row: Row, _ q: Query, _ searchFields: [FieldPath]?) -> Bool {
        guard let s = q.search else { return true }
        let wanted = Set(Tokenizer.tokens(s.text))
        guard !wanted.isEmpty else { return false }
        var have = Set<String>()
        if let fields = searchFields {
            for f in fields { if let v = value(row, f) { have.formUnion(Tokenizer.tokens(of: v)) } }
        } else {
            have = Tokenizer.tokens(of: row.document)
        }
        return wanted.isSubset(of: have)
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

    /// A field of a row; `_…` names metadata (spec/NQL.md §4.1).
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
        var frontier = roots.map { "\($0.collection):\($0.id)" }.sorted(by: utf8Less)
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
            let level = next.subtracting(seen).sorted(by: utf8Less)
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
                    guard let written = try state.version(writtenBy: s) else { continue }
                    next.append(written.version)
                    if !written.version.deleted, let doc = written.document {
                        found[s] = Row(collection: written.collection, id: written.id, version: written.version, document: doc)
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

    /// ORDER BY, OFFSET and LIMIT over group rows (ties keep the key order: an explicit
    /// tie-break, since sort is not guaranteed stable).
    func finishGroups(_ groups: [JSONValue], _ q: Query) -> [JSONValue] {
        var grouped = groups
        if !q.order.isEmpty {
            grouped = grouped.enumerated().sorted { a, b in
                compareValues(a.element, b.element, q.order) || (!compareValues(b.element, a.element, q.order) && a.offset < b.offset)
            }.map(\.element)
        }
        return Array(grouped.dropFirst(q.offset).prefix(q.limit ?? Int.max))
    }

    /// Group rows from an eq index's live counts, when the query counts every live document of
    /// the collection at the newest applied seq (no WHERE, SEARCH, TRAVERSE, TRACE or VALID AS
    /// OF); nil otherwise.
    func countedGroups(_ q: Query, _ g: Group, _ point: ReadPoint) throws -> [JSONValue]? {
        guard case .count = g.aggregate, q.filter == nil, q.search == nil, q.traverse == nil, q.trace == nil,
              point.validAt == nil, let last = state.lastSeq, point.asOf >= last, !g.key.isMetadata,
              let def = state.activeIndex(collection: q.collection, field: g.key.description, kind: .eq) else { return nil }
        let counts = try state.liveCounts(IndexID(collection: q.collection, field: def.field, kind: .eq))
        var groups: [(key: JSONValue, count: Int)] = []
        var nullGroup = counts.live        // documents without the field, or with null
        for (key, n) in counts.byKey where n > 0 {
            let value = try JSONParser.parse(key)
            if value == .null { continue }
            nullGroup -= n
            groups.append((value, n))
        }
        if nullGroup > 0 { groups.append((.null, nullGroup)) }
        groups.sort { ValueOrder.compare($0.key, $1.key) < 0 }
        return groups.map { .object([g.key.description: $0.key, "count": .number(Double($0.count))]) }
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
        if a.collection != b.collection { return utf8Less(a.collection, b.collection) }
        if a.id != b.id { return utf8Less(a.id, b.id) }
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

    /// A document with its metadata fields (spec/NQL.md §4.1), from the row cache when there is one.
    func render(_ row: Row) -> JSONValue {
        guard let rowCache else { return renderUncached(row) }
        return rowCache.row(row.version.seq) { renderUncached(row) }
    }

    func renderUncached(_ row: Row) -> JSONValue {
        row.version.rendered(row.document, collection: row.collection, id: row.id)
    }
}

