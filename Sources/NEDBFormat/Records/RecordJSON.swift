/// A JSON view of a record, used by `nedb-dump` NDJSON output and by the spec vectors. Field
/// names are the spec's (`FieldTag.name`); byte strings are lowercase hex; times are µs integers
/// with an RFC 3339 companion (`time_iso`, `valid_from_iso`, `valid_to_iso`); codes by name.
public enum RecordJSON {
    public static func encode(_ r: Record) -> JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(r.type.name),
            "seq": .number(Double(r.seq)),
            "time": .number(Double(r.time)),
            "time_iso": .string(Timestamp.format(r.time)),
        ]
        for tag in FieldTag.ordered {
            guard let value = r.value(tag) else { continue }
            o[tag.name] = json(tag, value)
            if case .time = tag.kind, case let .i64(t) = value { o[tag.name + "_iso"] = .string(Timestamp.format(t)) }
        }
        if !r.extraFields.isEmpty {
            o["extra_fields"] = .array(r.extraFields.map { .object(["tag": .number(Double($0.tag)), "value": .string(Hex.encode($0.value))]) })
        }
        if let u = r.unknownFieldBytes { o["unknown_fields"] = .string(Hex.encode(u)) }
        return .object(o)
    }

    /// One field's value by its kind; one-byte codes by the name of what they code.
    static func json(_ tag: FieldTag, _ value: FieldValue) -> JSONValue {
        switch value {
        case let .bytes(b) where tag.kind == .document: return (try? JSONParser.parse(b)) ?? .string(Hex.encode(b))
        case let .bytes(b): return .string(Hex.encode(b))
        case let .text(s): return .string(s)
        case let .seqs(v): return .array(v.map { .number(Double($0)) })
        case let .u64(v): return .number(Double(v))
        case let .i64(v): return .number(Double(v))
        case let .f64(v): return .number(v)
        case let .u32(v): return .number(Double(v))
        case let .hash(h): return .string(h.hex)
        case let .transaction(t): return .object(["first_seq": .number(Double(t.firstSeq)), "count": .number(Double(t.count))])
        case let .u8(v):
            switch tag {
            case .indexKind: return IndexKind(rawValue: v).map { .string($0.description) } ?? .number(Double(v))
            case .hashAlgorithm: return HashAlgorithm(rawValue: v).map { .string($0.description) } ?? .number(Double(v))
            case .encryption: return EncryptionMode(rawValue: v).map { .string($0.description) } ?? .number(Double(v))
            case .prunedType: return .string(RecordType(rawValue: v).name)
            default: return .number(Double(v))
            }
        }
    }
}
