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
        set("collection", r.collection)
        set("id", r.id)
        if let d = r.document { o["document"] = (try? JSONParser.parse(d)) ?? .string(Hex.encode(d)) }
        if let v = r.validFrom { o["valid_from"] = .number(Double(v)); o["valid_from_iso"] = .string(Timestamp.format(v)) }
        if let v = r.validTo { o["valid_to"] = .number(Double(v)); o["valid_to_iso"] = .string(Timestamp.format(v)) }
        if !r.causedBy.isEmpty { o["caused_by"] = .array(r.causedBy.map { .number(Double($0)) }) }
        set("evidence", r.evidence)
        if let c = r.confidence { o["confidence"] = .number(c) }
        set("client", r.client)
        if let n = r.nonce { o["nonce"] = .number(Double(n)) }
        set("idempotency_key", r.idempotencyKey)
        set("relation", r.relation)
        set("target_collection", r.targetCollection)
        set("target_id", r.targetId)
        set("index_field", r.indexField)
        set("index_kind", r.indexKind?.description)
        if let t = r.transaction { o["transaction"] = .object(["first_seq": .number(Double(t.firstSeq)), "count": .number(Double(t.count))]) }
        if let k = r.keyId { o["key_id"] = .number(Double(k)) }
        if let s = r.sealed { o["sealed"] = .string(Hex.encode(s)) }
        set("key_commitment", r.keyCommitment?.hex)
        set("store_id", r.storeId?.hex)
        set("hash_algorithm", r.hashAlgorithm?.description)
        set("origin", r.origin)
        set("encryption", r.encryption?.description)
        if let c = r.checkpointSeq { o["checkpoint_seq"] = .number(Double(c)) }
        set("checkpoint_hash", r.checkpointHash?.hex)
        if let v = r.retentionSeq { o["retention_seq"] = .number(Double(v)) }
        if let v = r.prunedCount { o["pruned_count"] = .number(Double(v)) }
        set("pruned_type", r.prunedType?.name)
        set("note", r.note)
        if let v = r.supersededBy { o["superseded_by"] = .number(Double(v)) }
        if let v = r.prunedBy { o["pruned_by"] = .number(Double(v)) }
        set("key_digest", r.keyDigest?.hex)
        if let v = r.prunedFlags { o["pruned_flags"] = .number(Double(v)) }
        set("pruned_set", r.prunedSet?.hex)
        if !r.extraFields.isEmpty {
            o["extra_fields"] = .array(r.extraFields.map { .object(["tag": .number(Double($0.tag)), "value": .string(Hex.encode($0.value))]) })
        }
        if let u = r.unknownFieldBytes { o["unknown_fields"] = .string(Hex.encode(u)) }
        return .object(o)
    }
}
