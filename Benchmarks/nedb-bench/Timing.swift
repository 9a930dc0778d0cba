#if canImport(Glibc)
import Glibc
#endif

/// Monotonic wall-clock timing.
enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Runs `body` and returns the elapsed seconds.
    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = now()
        try body()
        return now() - start
    }
}

/// Median and spread of repeated measurements.
struct Samples {
    var values: [Double] = []
    mutating func add(_ v: Double) { values.append(v) }
    var median: Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { values.min() ?? 0 }
    var max: Double { values.max() ?? 0 }
    /// Half the range as a percentage of the median.
    var spreadPercent: Double { median == 0 ? 0 : (max - min) / 2 / median * 100 }
}

/// A results table printed as Markdown.
struct ResultTable {
    var title: String
    var columns: [String]
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    var markdown: String {
        var out = "### \(title)\n\n| " + columns.joined(separator: " | ") + " |\n|"
        out += columns.map { _ in "---" }.joined(separator: "|") + "|\n"
        for r in rows { out += "| " + r.joined(separator: " | ") + " |\n" }
        return out
    }
}

func fmt(_ v: Double, _ digits: Int = 1) -> String {
    var s = String(Int((v * pow(10, Double(digits))).rounded()))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return s
}

func fmtCount(_ v: Double) -> String {
    let n = Int(v.rounded())
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}
