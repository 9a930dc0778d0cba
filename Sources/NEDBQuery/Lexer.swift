import NEDBState

/// Tokens of NQL. Keywords are case-insensitive and recognised by the parser from identifiers.
struct Token: Sendable, Equatable {
    enum Kind: Equatable, Sendable {
        case word(String)          // identifiers and keywords
        case quotedName(String)    // `any name`: never a keyword
        case string(String)        // "text" or 'text'
        case number(Double)
        case symbol(String)        // = != < <= > >= ( ) , . *
        case end
    }
    let kind: Kind
    let offset: Int

    var describe: String {
        switch kind {
        case let .word(w): return "'\(w)'"
        case let .quotedName(w): return "`\(w)`"
        case let .string(s): return "\"\(s)\""
        case let .number(n): return JCS.formatNumber(n)
        case let .symbol(s): return "'\(s)'"
        case .end: return "the end of the query"
        }
    }
}

enum Lexer {
    /// Unicode White_Space, with an ASCII fast path.
    @inline(__always)
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c == " " || c == "\t" || c == "\n" || c == "\r" || c.value == 0x0B || c.value == 0x0C }
        return c.properties.isWhitespace
    }

    /// Unicode Alphabetic, with an ASCII fast path.
    @inline(__always)
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        return c.properties.isAlphabetic
    }

    static func tokens(_ text: String) throws(QueryError) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        func fail(_ at: Int, _ message: String) -> QueryError { QueryParser.error(text, at, message) }
        while i < scalars.count {
            let c = scalars[i]
            if Lexer.isWhitespace(c) { i += 1; continue }
            let start = i
            if c == "\"" || c == "'" {
                let quote = c
                var value = ""
                i += 1
                var closed = false
                while i < scalars.count {
                    let d = scalars[i]
                    if d == "\\" && i + 1 < scalars.count {
                        let e = scalars[i + 1]
                        switch e {
                        case "n": value += "\n"
                        case "t": value += "\t"
                        case "\\", "\"", "'": value.unicodeScalars.append(e)
                        default: throw fail(i, "unknown escape \\\(e) in a string")
                        }
                        i += 2
                        continue
                    }
                    if d == quote { closed = true; i += 1; break }
                    value.unicodeScalars.append(d)
                    i += 1
                }
                guard closed else { throw fail(start, "unterminated string") }
                out.append(Token(kind: .string(value), offset: start))
            } else if c == "`" {
                var value = ""
                i += 1
                while i < scalars.count && scalars[i] != "`" { value.unicodeScalars.append(scalars[i]); i += 1 }
                guard i < scalars.count else { throw fail(start, "unterminated `quoted name`") }
                i += 1
                guard !value.isEmpty else { throw fail(start, "empty `quoted name`") }
                guard !value.contains(".") else { throw fail(start, "a `quoted name` cannot contain '.' (paths are dotted: `a`.`b`)") }
                out.append(Token(kind: .quotedName(value), offset: start))
            } else if c.properties.numericType != nil && c.isASCII || (c == "-" && i + 1 < scalars.count && scalars[i + 1].isASCII && ("0"..."9").contains(scalars[i + 1])) {
                var j = i + 1
                while j < scalars.count, scalars[j].isASCII, ("0"..."9").contains(scalars[j]) || scalars[j] == "." || scalars[j] == "e" || scalars[j] == "E"
                        || ((scalars[j] == "+" || scalars[j] == "-") && (scalars[j - 1] == "e" || scalars[j - 1] == "E")) {
                    j += 1
                }
                let literal = String(String.UnicodeScalarView(scalars[i..<j]))
                guard let n = Double(literal), n.isFinite else { throw fail(i, "invalid number \(literal)") }
                out.append(Token(kind: .number(n), offset: start))
                i = j
            } else if Lexer.isLetter(c) || c == "_" {
                var j = i + 1
                while j < scalars.count, Lexer.isLetter(scalars[j]) || scalars[j] == "_" || (scalars[j].isASCII && ("0"..."9").contains(scalars[j])) { j += 1 }
                out.append(Token(kind: .word(String(String.UnicodeScalarView(scalars[i..<j]))), offset: start))
                i = j
            } else {
                let two = i + 1 < scalars.count ? String(String.UnicodeScalarView([c, scalars[i + 1]])) : ""
                if ["!=", "<=", ">=", "<>"].contains(two) {
                    out.append(Token(kind: .symbol(two == "<>" ? "!=" : two), offset: start))
                    i += 2
                } else if "=<>(),.*".unicodeScalars.contains(c) {
                    out.append(Token(kind: .symbol(String(c)), offset: start))
                    i += 1
                } else {
                    throw fail(i, "unexpected character '\(c)'")
                }
            }
        }
        out.append(Token(kind: .end, offset: scalars.count))
        return out
    }
}
