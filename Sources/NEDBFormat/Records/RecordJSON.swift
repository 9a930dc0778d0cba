/// A JSON view of a record, used by `nedb-dump` NDJSON output and by the spec vectors. Field
/// names are the spec's; byte strings are lowercase hex; times are µs integers with an RFC 3339
/// companion (`time_iso`, `valid_from_iso`, `valid_to_iso`).
public enum RecordJSON {
    public static func encode(_ r: Record) -> JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(r.type.name),
            "seq": .number(Double(r.seq)),
            "time": .number(Double(r.time)),
            "time_iso": .string(Timestamp.format(r.time)),
        ]
        func set(_ key: String, _ value: String?) { if let value { o[key] = .string(value) } }
        set(FieldTag.collection.name, r.collection)
        set(FieldTag.id.name, r.id)
        if let d = r.document { o[FieldTag.document.name] = (try? JSONParser.parse(d)) ?? .string(Hex.encode(d)) }
        if let v = r.validFrom { o[FieldTag.validFrom.name] = .number(Double(v)); o["valid_from_iso"] = .string(Timestamp.format(v)) }
        if let v = r.validTo { o[FieldTag.validTo.name] = .number(Double(v)); o["valid_to_iso"] = .string(Timestamp.format(v)) }
        if !r.causedBy.isEmpty { o[FieldTag.causedBy.name] = .array(r.causedBy.map { .number(Double($0)) }) }
        set(FieldTag.evidence.name, r.evidence)
        if let c = r.confidence { o[FieldTag.confidence.name] = .number(c) }
        set(FieldTag.client.name, r.client)
        if let n = r.nonce { o[FieldTag.nonce.name] = .number(Double(n)) }
        set(FieldTag.idempotencyKey.name, r.idempotencyKey)
        set(FieldTag.relation.name, r.relation)
        set(FieldTag.targetCollection.name, r.targetCollection)
        set(FieldTag.targetId.name, r.targetId)
        set(FieldTag.indexField.name, r.indexField)
        set(FieldTag.indexKind.name, r.indexKind?.description)
        if let t = r.transaction { o[FieldTag.transaction.name] = .object(["first_seq": .number(Double(t.firstSeq)), "count": .number(Double(t.count))]) }
        if let k = r.keyId { o[FieldTag.keyId.name] = .number(Double(k)) }
        if let s = r.sealed { o[FieldTag.sealed.name] = .string(Hex.encode(s)) }
        set(FieldTag.keyCommitment.name, r.keyCommitment?.hex)
        set(FieldTag.storeId.name, r.storeId?.hex)
        set(FieldTag.hashAlgorithm.name, r.hashAlgorithm?.description)
        set(FieldTag.origin.name, r.origin)
        set(FieldTag.encryption.name, r.encryption?.description)
        if let c = r.checkpointSeq { o[FieldTag.checkpointSeq.name] = .number(Double(c)) }
        set(FieldTag.checkpointHash.name, r.checkpointHash?.hex)
        if let v = r.retentionSeq { o[FieldTag.retentionSeq.name] = .number(Double(v)) }
        if let v = r.prunedCount { o[FieldTag.prunedCount.name] = .number(Double(v)) }
        set(FieldTag.prunedType.name, r.prunedType?.name)
        set(FieldTag.note.name, r.note)
        if let v = r.supersededBy { o[FieldTag.supersededBy.name] = .number(Double(v)) }
        if let v = r.prunedBy { o[FieldTag.prunedBy.name] = .number(Double(v)) }
        set(FieldTag.keyDigest.name, r.keyDigest?.hex)
        if let v = r.prunedFlags { o[FieldTag.prunedFlags.name] = .number(Double(v)) }
        set(FieldTag.prunedSet.name, r.prunedSet?.hex)
        if !r.extraFields.isEmpty {
            o["extra_fields"] = .array(r.extraFields.map { .object(["tag": .number(Double($0.tag)), "value": .string(Hex.encode($0.value))]) })
        }
        if let u = r.unknownFieldBytes { o["unknown_fields"] = .string(Hex.encode(u)) }
        return .object(o)
    }
}
