/// Conversions between format timestamps (µs since 1970-01-01T00:00:00Z) and text.
///
/// Accepted input (spec/STATE.md §2): a calendar date `YYYY-MM-DD` (midnight UTC), or an
/// RFC 3339 instant `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a lowercase `t`/`z` or a space
/// instead of `T` are accepted, as RFC 3339 §5.6 allows). Fractions beyond microseconds are
/// truncated. Years 0001–9999.
public enum Timestamp {
    /// Parses a date or instant; nil when the text is not one.
    public static func parse(_ text: String) -> Microseconds? {
        let b = Array(text.utf8)
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= b.count else { return nil }
            var v = 0
            for i in start..<(start + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 10, let year = digits(0, 4), b[4] == 0x2D, let month = digits(5, 2), b[7] == 0x2D,
              let day = digits(8, 2), year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else {
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        if b.count == 10 { return Int64(days) * 86_400_000_000 }
        guard b.count >= 20, b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20,
              let hour = digits(11, 2), b[13] == 0x3A, let minute = digits(14, 2), b[16] == 0x3A, let second = digits(17, 2),
              hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var micros = 0
        if i < b.count && b[i] == 0x2E {
            i += 1
            var n = 0
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 {
                if n < 6 { micros = micros * 10 + Int(b[i] - 0x30) }
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
            if n < 6 { for _ in n..<6 { micros *= 10 } }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            guard let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = digits(i + 4, 2), oh < 24, om < 60 else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 0x2D ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offsetSeconds)
        return seconds * 1_000_000 + Int64(micros)
    }

    /// RFC 3339 in UTC: `2024-01-01T00:00:00Z`, with `.ffffff` only when there are microseconds.
    public static func format(_ micros: Microseconds) -> String {
        let (secondsTotal, fraction) = floorDivide(micros, 1_000_000)
        let (days, secondOfDay) = floorDivide(secondsTotal, 86_400)
        let (year, month, day) = civilFromDays(Int(days))
        let h = Int(secondOfDay / 3600), m = Int(secondOfDay % 3600 / 60), s = Int(secondOfDay % 60)
        guard (0...9999).contains(year) else {
            // Outside RFC 3339's range (only a hostile record can say so): show it as is.
            func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let f = fraction == 0 ? "" : "." + String(String(fraction + 1_000_000).dropFirst())
            return "\(year)-\(two(month))-\(two(day))T\(two(h)):\(two(m)):\(two(s))\(f)Z"
        }
        let yearDigits = 4
        let length = yearDigits + 16 + (fraction != 0 ? 7 : 0)     // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
        return String(unsafeUninitializedCapacity: length) { buffer in
            var i = 0
            func put(_ v: Int, _ width: Int) {
                var n = v
                for k in stride(from: width - 1, through: 0, by: -1) {
                    buffer[i + k] = UInt8(0x30 + n % 10)
                    n /= 10
                }
                i += width
            }
            func put(_ c: UInt8) { buffer[i] = c; i += 1 }
            put(year, yearDigits); put(0x2D); put(month, 2); put(0x2D); put(day, 2); put(0x54)
            put(h, 2); put(0x3A); put(m, 2); put(0x3A); put(s, 2)
            if fraction != 0 { put(0x2E); put(Int(fraction), 6) }
            put(0x5A)
            return i
        }
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b, r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// Days since 1970-01-01 (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
