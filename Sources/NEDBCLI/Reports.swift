import NEDBFormat

/// JSON views shared by the tools.
public enum ReportJSON {
    public static func issue(_ e: FormatError) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(e.id), "verdict": .string(e.verdict.rawValue), "message": .string(e.detail)]
        if let f = e.location.file { o["file"] = .string(f) }
        if let off = e.location.offset { o["offset"] = .number(Double(off)) }
        if let seq = e.location.seq { o["seq"] = .number(Double(seq)) }
        return .object(o)
    }

    public static func head(_ h: LogHead) -> JSONValue {
        .object(["seq": .number(Double(h.seq)), "chain": .string(h.chain.hex), "root": .string(h.root.hex),
                 "tree_size": .number(Double(h.treeSize))])
    }

    /// A damaged store's condition, as JSON outputs carry it: `{"issues": [...]}`.
    public static func damage(_ issues: [FormatError]) -> JSONValue {
        .object(["issues": .array(issues.map(issue))])
    }

    /// One human line for an issue: `[id] file, offset N, seq S: detail`.
    public static func line(_ e: FormatError) -> String {
        "[\(e.id)] \(e.location): \(e.detail)"
    }
}
