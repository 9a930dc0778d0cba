/// JSON Canonicalization Scheme (RFC 8785): the exact bytes NEDB hashes for a document.
///
/// Objects: members sorted by the UTF-16 code units of their names. Strings: only `"` and `\`
/// and control characters are escaped (`\b \t \n \f \r` or `\u00xx` in lowercase hex), all other
/// characters are written as UTF-8. Numbers: the ECMAScript `Number.prototype.toString` form.
/// No whitespace anywhere.
public enum JCS {
    /// Canonical bytes of `value`.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// Parses any JSON text and returns its canonical bytes.
    public static func canonicalize(_ text: String) throws(JSONParseError) -> [UInt8] {
        serialize(try JSONParser.parse(text))
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case let .bool(b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case let .number(n): out.append(contentsOf: formatNumber(n).utf8)
        case let .string(s): writeString(s, into: &out)
        case let .array(elements):
            out.append(0x5B)
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(0x2C) }
                write(e, into: &out)
            }
            out.append(0x5D)
        case let .object(members):
            out.append(0x7B)
            let keys = members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(0x2C) }
                writeString(key, into: &out)
                out.append(0x3A)
                write(members[key]!, into: &out)
            }
            out.append(0x7D)
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x00..<0x20:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3). Non-finite values
    /// cannot occur in a parsed document; they are written as `null` defensively.
    public static func formatNumber(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == 0 { return "0" }
        // Swift's description is the shortest decimal that round-trips; take its digits.
        var text = value.magnitude.description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits: [UInt8]
        var pointPosition: Int
        if let dot = text.firstIndex(of: ".") {
            pointPosition = text.distance(from: text.startIndex, to: dot)
            digits = Array(text.utf8.filter { $0 != 0x2E })
        } else {
            pointPosition = text.count
            digits = Array(text.utf8)
        }
        // Normalise: strip leading zeros (adjusting the point) and trailing zeros.
        while digits.count > 1, digits.first == 0x30 { digits.removeFirst(); pointPosition -= 1 }
        while digits.count > 1, digits.last == 0x30 { digits.removeLast() }
        let k = digits.count
        let n = pointPosition + exponent   // value = 0.d1d2...dk × 10^n
        var out = value < 0 ? "-" : ""
        let digitString = String(decoding: digits, as: UTF8.self)
        if k <= n && n <= 21 {
            out += digitString + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            let head = digitString.prefix(n)
            let tail = digitString.dropFirst(n)
            out += head + "." + tail
        } else if -6 < n && n <= 0 {
            out += "0." + String(repeating: "0", count: -n) + digitString
        } else {
            let e = n - 1
            let sign = e < 0 ? "-" : "+"
            if k == 1 {
                out += digitString + "e" + sign + String(e.magnitude)
            } else {
                out += String(digitString.prefix(1)) + "." + digitString.dropFirst() + "e" + sign + String(e.magnitude)
            }
        }
        return out
    }
}
