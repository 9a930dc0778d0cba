/// Why JSON text was rejected, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// A strict RFC 8259 parser that also enforces I-JSON (RFC 7493): no duplicate object keys,
/// no lone surrogates, no numbers outside the double range, no integer literal beyond ±2^53
/// that a double cannot hold exactly (it would be stored and hashed rounded). Nesting is limited
/// to `maxDepth` so hostile input cannot exhaust the stack.
public struct JSONParser {
    public static let maxDepth = 256
    /// 2^53: every integer up to it in magnitude is exact in a double.
    public static let maxExactInteger: Double = 9_007_199_254_740_992

    /// Parses one JSON value occupying all of `text` (surrounding whitespace allowed).
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var copy = text
        let result = copy.withUTF8 { buffer in Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) } }
        return try result.get()
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        return try result.get()
    }

    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = Cursor(buffer: buffer)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else { throw parser.fail("unexpected data after the JSON value") }
        return value
    }

    struct Cursor {
        let buffer: UnsafeBufferPointer<UInt8>
        var index = 0
        /// The object keys (and array positions) leading to the value being parsed, for errors.
        var path: [String] = []

        init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

        /// Where the value being parsed is, e.g. `field "a.b[2]"`, or `the value` at the top.
        var place: String {
            guard !path.isEmpty else { return "the value" }
            var text = ""
            for p in path { text += p.hasPrefix("[") || text.isEmpty ? p : "." + p }
            return "field \"\(text)\""
        }

        func fail(_ message: String) -> JSONParseError { JSONParseError(offset: index, message: message) }

        @inline(__always) mutating func skipWhitespace() {
            while index < buffer.count {
                let c = buffer[index]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 } else { return }
            }
        }

        @inline(__always) func peek() -> UInt8? { index < buffer.count ? buffer[index] : nil }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            guard let c = peek() else { throw fail("expected a value, found end of input") }
            switch c {
            case 0x7B: return try object(depth: depth + 1)
            case 0x5B: return try array(depth: depth + 1)
            case 0x22: return .string(try string())
            case 0x74: try literal("true"); return .bool(true)
            case 0x66: try literal("false"); return .bool(false)
            case 0x6E: try literal("null"); return .null
            case 0x2D, 0x30...0x39: return .number(try number())
            default: throw fail("expected a value, found \(describe(c))")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let count = word.utf8CodeUnitCount
            guard buffer.count - index >= count else { throw fail("expected '\(word)'") }
            let p = word.utf8Start
            for i in 0..<count where buffer[index + i] != p[i] { throw fail("expected '\(word)'") }
            index += count
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if peek() == 0x7D { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard peek() == 0x22 else { throw fail("expected '\"' to start an object key") }
                let keyOffset = index
                let key = try string()
                skipWhitespace()
                guard peek() == 0x3A else { throw fail("expected ':' after an object key") }
                index += 1
                skipWhitespace()
                path.append(key)
                let v = try value(depth: depth)
                path.removeLast()
                if members.updateValue(v, forKey: key) != nil {
                    throw JSONParseError(offset: keyOffset, message: "duplicate object key \"\(key)\"")
                }
                skipWhitespace()
                guard let c = peek() else { throw fail("expected ',' or '}', found end of input") }
                index += 1
                if c == 0x7D { return .object(members) }
                guard c == 0x2C else { index -= 1; throw fail("expected ',' or '}', found \(describe(c))") }
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if peek() == 0x5D { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                path.append("[\(elements.count)]")
                elements.append(try value(depth: depth))
                path.removeLast()
                skipWhitespace()
                guard let c = peek() else { throw fail("expected ',' or ']', found end of input") }
                index += 1
                if c == 0x5D { return .array(elements) }
                guard c == 0x2C else { index -= 1; throw fail("expected ',' or ']', found \(describe(c))") }
            }
        }

        mutating func string() throws(JSONParseError) -> String {
            let start = index
            index += 1
            // Fast path: no escapes.
            var scan = index
            while scan < buffer.count {
                let c = buffer[scan]
                if c == 0x22 {
                    let slice = UnsafeBufferPointer(rebasing: buffer[index..<scan])
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw JSONParseError(offset: start, message: "string is not valid UTF-8")
                    }
                    index = scan + 1
                    return s
                }
                if c == 0x5C || c < 0x20 { break }
                scan += 1
            }
            var out: [UInt8] = Array(buffer[index..<scan])
            index = scan
            while true {
                guard index < buffer.count else { throw JSONParseError(offset: start, message: "unterminated string") }
                let c = buffer[index]
                if c == 0x22 {
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw JSONParseError(offset: start, message: "string is not valid UTF-8")
                    }
                    return s
                }
                if c < 0x20 { throw fail("control character \(describe(c)) must be escaped in a string") }
                if c != 0x5C { out.append(c); index += 1; continue }
                index += 1
                guard let e = peek() else { throw JSONParseError(offset: start, message: "unterminated string") }
                index += 1
                switch e {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard buffer.count - index >= 6, buffer[index] == 0x5C, buffer[index + 1] == 0x75 else {
                            throw fail("lone high surrogate \\u\(String(scalar, radix: 16))")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw fail("invalid low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw fail("lone low surrogate \\u\(String(scalar, radix: 16))")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid code point") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    index -= 1
                    throw fail("invalid escape \\\(describe(e))")
                }
            }
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard buffer.count - index >= 4 else { throw fail("expected 4 hex digits after \\u") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buffer[index]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: throw fail("expected a hex digit after \\u")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        mutating func number() throws(JSONParseError) -> Double {
            let start = index
            if peek() == 0x2D { index += 1 }
            guard let first = peek(), first >= 0x30 && first <= 0x39 else { throw fail("expected a digit") }
            index += 1
            if first == 0x30, let c = peek(), c >= 0x30 && c <= 0x39 { throw fail("leading zeros are not allowed") }
            digits()
            var integer = true
            if peek() == 0x2E {
                integer = false
                index += 1
                guard let c = peek(), c >= 0x30 && c <= 0x39 else { throw fail("expected a digit after '.'") }
                digits()
            }
            if let c = peek(), c == 0x65 || c == 0x45 {
                integer = false
                index += 1
                if let s = peek(), s == 0x2B || s == 0x2D { index += 1 }
                guard let d = peek(), d >= 0x30 && d <= 0x39 else { throw fail("expected a digit in the exponent") }
                digits()
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw JSONParseError(offset: start, message: "number \(text) in \(place) is outside the range of a double")
            }
            // Beyond 2^53 an integer is kept only when it is exactly the canonical (RFC 8785) text
            // of its double: anything else would be stored, hashed and read back as another number.
            if integer && value.magnitude >= JSONParser.maxExactInteger {
                let stored = JCS.formatNumber(value)
                if stored != text {
                    throw JSONParseError(offset: start, message: "integer \(text) in \(place) is beyond ±2^53 and a double cannot hold it: it would be stored as \(stored) (I-JSON, RFC 7493 §2.2); write it as a string")
                }
            }
            return value
        }

        @inline(__always) mutating func digits() {
            while let c = peek(), c >= 0x30 && c <= 0x39 { index += 1 }
        }

        func describe(_ c: UInt8) -> String {
            if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
            return "byte 0x" + String(c, radix: 16)
        }
    }
}
