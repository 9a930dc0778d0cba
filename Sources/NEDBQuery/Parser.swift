import NEDBState

/// Parses NQL text into a `Query` (grammar in spec/NQL.md §2). Clauses may come in any order,
/// each at most once; keywords are case-insensitive; every error names its position and what
/// was expected.
public struct QueryParser {
    let text: String
    let tokens: [Token]
    var index = 0
    var seen = Set<String>()
    /// Parentheses and NOTs open around the condition being parsed.
    var depth = 0
    /// Comparisons, IN lists and EXISTS tests so far.
    var terms = 0

    /// Limits that keep parsing, evaluating and freeing a query within a bounded stack
    /// (spec/NQL.md §3.2).
    public static let maxLength = 65_536
    public static let maxDepth = 64
    public static let maxTerms = 4_096

    public static func parse(_ text: String) throws(QueryError) -> Query {
        guard text.utf8.count <= maxLength else {
            throw QueryError(offset: 0, line: 1, column: 1, message: "the query is \(text.utf8.count) bytes long; at most \(maxLength) are accepted")
        }
        var p = QueryParser(text: text, tokens: try Lexer.tokens(text))
        return try p.query()
    }

    init(text: String, tokens: [Token]) {
        self.text = text
        self.tokens = tokens
    }

    static func error(_ text: String, _ offset: Int, _ message: String) -> QueryError {
        var line = 1, column = 1
        for (i, c) in text.unicodeScalars.enumerated() {
            if i >= offset { break }
            if c == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return QueryError(offset: offset, line: line, column: column, message: message)
    }

    var current: Token { tokens[index] }

    func fail(_ expected: String) -> QueryError {
        QueryParser.error(text, current.offset, "expected \(expected), found \(current.describe)")
    }

    func isKeyword(_ word: String, at i: Int? = nil) -> Bool {
        if case let .word(w) = tokens[min(i ?? index, tokens.count - 1)].kind { return w.uppercased() == word }
        return false
    }

    mutating func keyword(_ word: String) throws(QueryError) {
        guard isKeyword(word) else { throw fail(word) }
        index += 1
    }

    mutating func accept(_ word: String) -> Bool {
        if isKeyword(word) { index += 1; return true }
        return false
    }

    mutating func symbol(_ s: String) -> Bool {
        if case let .symbol(x) = current.kind, x == s { index += 1; return true }
        return false
    }

    static let reserved: Set<String> = ["FROM", "AS", "OF", "VALID", "WHERE", "SEARCH", "ORDER", "BY", "ASC", "DESC", "TRAVERSE",
                                        "TRACE", "REVERSE", "LIMIT", "OFFSET", "GROUP", "COUNT", "SUM", "AVG", "MIN", "MAX",
                                        "AND", "OR", "NOT", "IN", "DEPTH", "INBOUND", "OUTBOUND", "BOTH", "EXISTS"]

    mutating func name(_ what: String) throws(QueryError) -> String {
        switch current.kind {
        case let .word(w), let .quotedName(w):
            index += 1
            return w
        default:
            throw fail(what)
        }
    }

    /// A dotted field path. A first component starting with "_" must be one metadata name, alone.
    mutating func path() throws(QueryError) -> FieldPath {
        let start = current.offset
        var components = [try name("a field name")]
        while symbol(".") { components.append(try name("a field name after '.'")) }
        if components[0].hasPrefix("_") {
            guard FieldPath.metadataNames.contains(components[0]) else {
                throw QueryParser.error(text, start, "unknown metadata field '\(components[0])' (names starting with _ are metadata: "
                                        + FieldPath.metadataNames.joined(separator: ", ") + ")")
            }
            guard components.count == 1 else { throw QueryParser.error(text, start, "metadata field '\(components[0])' has no sub-fields") }
        }
        return FieldPath(components)
    }

    mutating func integer(_ what: String) throws(QueryError) -> Int {
        guard case let .number(n) = current.kind, n >= 0, n == n.rounded(), n < 1e15 else { throw fail(what) }
        index += 1
        return Int(n)
    }

    mutating func value() throws(QueryError) -> JSONValue {
        switch current.kind {
        case let .string(s): index += 1; return .string(s)
        case let .number(n): index += 1; return .number(n)
        case let .word(w) where ["TRUE", "FALSE", "NULL"].contains(w.uppercased()):
            index += 1
            return w.uppercased() == "NULL" ? .null : .bool(w.uppercased() == "TRUE")
        default: throw fail("a value (a \"string\", a number, true, false or null)")
        }
    }

    /// Records that clause `name` (starting at `offset`) was seen; a second occurrence is an error there.
    mutating func clause(_ name: String, at offset: Int) throws(QueryError) {
        guard !seen.contains(name) else { throw QueryParser.error(text, offset, "\(name) may appear only once") }
        seen.insert(name)
    }

    mutating func query() throws(QueryError) -> Query {
        try keyword("FROM")
        var q = Query(collection: try name("a collection name after FROM"))
        while true {
            let at = current
            if case .end = at.kind { break }
            if isKeyword("AS") {
                try clause("AS OF", at: at.offset)
                index += 1
                try keyword("OF")
                q.asOf = UInt64(try integer("a seq (a whole number) after AS OF"))
            } else if isKeyword("VALID") {
                try clause("VALID AS OF", at: at.offset)
                index += 1
                try keyword("AS")
                try keyword("OF")
                guard case let .string(date) = current.kind else { throw fail("a date string after VALID AS OF") }
                guard let t = Timestamp.parse(date) else {
                    throw QueryParser.error(text, current.offset, "\"\(date)\" is not a date (YYYY-MM-DD) or an RFC 3339 instant")
                }
                index += 1
                q.validAt = t
            } else if accept("WHERE") {
                try clause("WHERE", at: at.offset)
                q.filter = try orExpression()
            } else if accept("SEARCH") {
                try clause("SEARCH", at: at.offset)
                var field: FieldPath? = nil
                switch current.kind {
                case .word, .quotedName: field = try path()
                default: break
                }
                guard case let .string(s) = current.kind else { throw fail("the search text in quotes after SEARCH") }
                index += 1
                q.search = Search(field: field, text: s)
            } else if accept("TRAVERSE") {
                try clause("TRAVERSE", at: at.offset)
                guard !seen.contains("TRACE") else { throw QueryParser.error(text, at.offset, "TRAVERSE and TRACE cannot be combined") }
                var t = Traverse(relation: nil, depth: 1, direction: .outbound)
                if symbol("*") { t.relation = nil } else { t.relation = try name("a relation name (or *) after TRAVERSE") }
                while true {
                    if accept("DEPTH") {
                        t.depth = try integer("a depth after DEPTH")
                        guard t.depth >= 1 && t.depth <= 64 else { throw QueryParser.error(text, current.offset, "DEPTH must be 1…64") }
                    } else if accept("INBOUND") { t.direction = .inbound } else if accept("OUTBOUND") { t.direction = .outbound } else if accept("BOTH") {
                        t.direction = .both
                    } else { break }
                }
                q.traverse = t
            } else if accept("TRACE") {
                try clause("TRACE", at: at.offset)
                guard !seen.contains("TRAVERSE") else { throw QueryParser.error(text, at.offset, "TRAVERSE and TRACE cannot be combined") }
                let field = try name("caused_by after TRACE")
                guard field.lowercased() == "caused_by" else { throw QueryParser.error(text, tokens[index - 1].offset, "expected caused_by after TRACE, found '\(field)'") }
                var t = Trace(reverse: false, depth: nil)
                while true {
                    if accept("REVERSE") { t.reverse = true } else if accept("DEPTH") {
                        let d = try integer("a depth after DEPTH")
                        guard d >= 1 else { throw QueryParser.error(text, current.offset, "DEPTH must be at least 1") }
                        t.depth = d
                    } else { break }
                }
                q.trace = t
            } else if accept("GROUP") {
                try clause("GROUP BY", at: at.offset)
                try keyword("BY")
                let key = try path()
                var aggregate = Group.Aggregate.count
                if accept("COUNT") { aggregate = .count } else if accept("SUM") { aggregate = .sum(try path()) } else if accept("AVG") {
                    aggregate = .avg(try path())
                } else if accept("MIN") { aggregate = .min(try path()) } else if accept("MAX") { aggregate = .max(try path()) }
                q.group = Group(key: key, aggregate: aggregate)
            } else if accept("ORDER") {
                try clause("ORDER BY", at: at.offset)
                try keyword("BY")
                repeat {
                    let p = try path()
                    var desc = false
                    if accept("DESC") { desc = true } else { _ = accept("ASC") }
                    q.order.append(OrderKey(path: p, descending: desc))
                } while symbol(",")
            } else if accept("LIMIT") {
                try clause("LIMIT", at: at.offset)
                q.limit = try integer("a whole number after LIMIT")
            } else if accept("OFFSET") {
                try clause("OFFSET", at: at.offset)
                q.offset = try integer("a whole number after OFFSET")
            } else {
                throw fail("a clause (AS OF, VALID AS OF, WHERE, SEARCH, TRAVERSE, TRACE, GROUP BY, ORDER BY, LIMIT, OFFSET)")
            }
        }
        return q
    }

    mutating func orExpression() throws(QueryError) -> Predicate {
        var terms = [try andExpression()]
        while accept("OR") { terms.append(try andExpression()) }
        return QueryParser.balanced(terms, Predicate.or)
    }

    mutating func andExpression() throws(QueryError) -> Predicate {
        var terms = [try notExpression()]
        while accept("AND") { terms.append(try notExpression()) }
        return QueryParser.balanced(terms, Predicate.and)
    }

    /// `a AND b AND c …` as a balanced tree (AND and OR are associative), so a long chain is
    /// log₂(n) deep rather than n deep when it is evaluated and freed.
    static func balanced(_ terms: [Predicate], _ join: (Predicate, Predicate) -> Predicate) -> Predicate {
        if terms.count == 1 { return terms[0] }
        let middle = terms.count / 2
        return join(balanced(Array(terms[..<middle]), join), balanced(Array(terms[middle...]), join))
    }

    /// Enters a parenthesis or NOT.
    mutating func nest() throws(QueryError) {
        depth += 1
        guard depth <= QueryParser.maxDepth else {
            throw QueryParser.error(text, current.offset, "conditions nest more than \(QueryParser.maxDepth) deep (parentheses and NOT)")
        }
    }

    mutating func notExpression() throws(QueryError) -> Predicate {
        if accept("NOT") {
            try nest()
            defer { depth -= 1 }
            return .not(try notExpression())
        }
        if symbol("(") {
            try nest()
            defer { depth -= 1 }
            let inner = try orExpression()
            guard symbol(")") else { throw fail("')'") }
            return inner
        }
        terms += 1
        guard terms <= QueryParser.maxTerms else {
            throw QueryParser.error(text, current.offset, "the query has more than \(QueryParser.maxTerms) conditions")
        }
        if accept("EXISTS") { return .exists(try path()) }
        if case let .word(w) = current.kind, QueryParser.reserved.contains(w.uppercased()) {
            throw fail("a field name or NOT, EXISTS or '('")
        }
        let p = try path()
        if accept("IN") {
            guard symbol("(") else { throw fail("'(' after IN") }
            var values = [try value()]
            while symbol(",") { values.append(try value()) }
            guard symbol(")") else { throw fail("',' or ')'") }
            if p.isInstant, values.contains(where: { $0.stringValue.flatMap(Timestamp.parse) == nil }) {
                throw QueryParser.error(text, tokens[index - 1].offset, "\(p) is an instant: IN takes date strings")
            }
            return .isIn(p, values)
        }
        if accept("NOT") {
            try keyword("IN")
            guard symbol("(") else { throw fail("'(' after NOT IN") }
            var values = [try value()]
            while symbol(",") { values.append(try value()) }
            guard symbol(")") else { throw fail("',' or ')'") }
            return .not(.isIn(p, values))
        }
        guard case let .symbol(s) = current.kind, let op = Comparison(rawValue: s) else {
            throw fail("a comparison (=, !=, <, <=, >, >=) or IN after '\(p)'")
        }
        index += 1
        let at = current.offset
        let literal = try value()
        if p.isInstant {
            guard case let .string(date) = literal, Timestamp.parse(date) != nil else {
                throw QueryParser.error(text, at, "\(p) is an instant: compare it with a date string (\"YYYY-MM-DD\" or RFC 3339)")
            }
        }
        return .compare(p, op, literal)
    }
}
