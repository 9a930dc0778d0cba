/// The one total order of JSON values used by ORDER BY, range comparisons and ordered indexes
/// (spec/STATE.md §5): null < false < true < numbers (numeric) < strings (by Unicode code point,
/// i.e. UTF-8 bytes) < arrays < objects (by canonical JSON bytes). `orderKey` encodes a value
/// into bytes whose lexicographic order is this order, so an ordered index is a sorted byte list.
public enum ValueOrder {
    /// The type class: comparisons with <, <=, >, >= only hold between values of one class.
    public static func rank(_ v: JSONValue) -> UInt8 {
        switch v {
        case .null: return 1
        case .bool: return 2
        case .number: return 3
        case .string: return 4
        case .array: return 5
        case .object: return 6
        }
    }

    /// Total order of two values.
    public static func compare(_ a: JSONValue, _ b: JSONValue) -> Int {
        let ra = rank(a), rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        switch (a, b) {
        case (.null, .null): return 0
        case let (.bool(x), .bool(y)): return x == y ? 0 : (!x ? -1 : 1)
        case let (.number(x), .number(y)): return x < y ? -1 : (x > y ? 1 : 0)
        case let (.string(x), .string(y)): return compareBytes(Array(x.utf8), Array(y.utf8))
        default: return compareBytes(JCS.serialize(a), JCS.serialize(b))
        }
    }

    public static func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// Order-preserving bytes: rank byte, then for numbers the IEEE-754 bits made sortable
    /// (big-endian, sign flipped), for strings the UTF-8 bytes, else canonical JSON.
    public static func orderKey(_ v: JSONValue) -> [UInt8] {
        var out: [UInt8] = [rank(v)]
        switch v {
        case .null: break
        case let .bool(b): out.append(b ? 1 : 0)
        case let .number(n):
            let d = n == 0 ? 0.0 : n   // -0 sorts as 0
            var bits = d.bitPattern
            bits = bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        case let .string(s): out.append(contentsOf: s.utf8)
        default: out.append(contentsOf: JCS.serialize(v))
        }
        return out
    }

    /// Equality key: canonical JSON bytes (so 1 and 1.0 are equal, "1" and 1 are not).
    public static func equalityKey(_ v: JSONValue) -> [UInt8] { JCS.serialize(v) }
}

/// SEARCH tokenisation (spec/STATE.md §6): a token is a maximal run of Unicode letters, marks
/// and digits; tokens are lower-cased with Unicode case folding; a query matches a document
/// when every query token is among the field's tokens.
public enum Tokenizer {
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            let p = scalar.properties
            if p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
                || p.generalCategory == .decimalNumber {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                out.append(fold(current))
                current = ""
            }
        }
        if !current.isEmpty { out.append(fold(current)) }
        return out
    }

    /// Unicode case folding (lower-casing per the Unicode default case mapping).
    public static func fold(_ s: String) -> String { s.lowercased() }

    /// The distinct tokens of every string inside a value (strings in arrays and objects too).
    public static func tokens(of value: JSONValue) -> Set<String> {
        var out = Set<String>()
        func walk(_ v: JSONValue) {
            switch v {
            case let .string(s): out.formUnion(tokens(s))
            case let .array(a): a.forEach(walk)
            case let .object(o): o.values.forEach(walk)
            default: break
            }
        }
        walk(value)
        return out
    }
}
