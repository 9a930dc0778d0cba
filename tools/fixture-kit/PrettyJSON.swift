import NEDBFormat

/// Deterministic, human-readable JSON (sorted keys, two-space indent) for vectors and
/// expectation files.
public enum PrettyJSON {
    public static func render(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out + "\n"
    }

    static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch value {
        case let .array(items) where !items.isEmpty && items.contains(where: { if case .object = $0 { return true }; if case .array = $0 { return true }; return false }):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 1, into: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += close + "]"
        case let .object(members) where !members.isEmpty:
            out += "{\n"
            let keys = members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            for (i, key) in keys.enumerated() {
                out += pad + String(decoding: JCS.serialize(.string(key)), as: UTF8.self) + ": "
                write(members[key]!, indent: indent + 1, into: &out)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += close + "}"
        default:
            out += String(decoding: JCS.serialize(value), as: UTF8.self)
        }
    }
}
