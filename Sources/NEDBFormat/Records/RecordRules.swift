/// Which fields each record type requires and permits (spec/FORMAT.md §3.5).
public struct RecordRules: Sendable {
    public let required: Set<FieldTag>
    public let optional: Set<FieldTag>

    static let provenance: Set<FieldTag> = [.causedBy, .evidence, .confidence, .client, .nonce,
                                            .idempotencyKey, .transaction]

    /// The rules for a plaintext (or opened) record of `type`; nil for unknown types.
    public static func plaintext(_ type: RecordType) -> RecordRules? {
        switch type {
        case .genesis:
            return RecordRules(required: [.storeId, .hashAlgorithm, .encryption], optional: [.origin])
        case .put:
            return RecordRules(required: [.collection, .id, .document],
                               optional: provenance.union([.validFrom, .validTo]))
        case .delete:
            return RecordRules(required: [.collection, .id], optional: provenance)
        case .link, .unlink:
            return RecordRules(required: [.collection, .id, .relation, .targetCollection, .targetId],
                               optional: provenance)
        case .defineIndex:
            return RecordRules(required: [.collection, .indexField, .indexKind],
                               optional: [.client, .nonce, .idempotencyKey, .transaction])
        case .dropIndex:
            return RecordRules(required: [.collection, .indexField],
                               optional: [.client, .nonce, .idempotencyKey, .transaction])
        case .checkpointMarker:
            return RecordRules(required: [.checkpointSeq, .checkpointHash], optional: [])
        case .keyRotation:
            return RecordRules(required: [.keyId], optional: [])
        case .compaction:
            return RecordRules(required: [.retentionSeq, .prunedCount], optional: [.prunedSet])
        case .pruned:
            return RecordRules(required: [.prunedType],
                               optional: [.transaction, .supersededBy, .prunedBy, .keyDigest, .prunedFlags])
        case .annotation:
            return RecordRules(required: [.note], optional: [.client, .transaction])
        default:
            return nil
        }
    }

    /// The outer fields of a sealed record: everything else is inside `sealed`.
    public static let sealedOuter = RecordRules(required: [.keyId, .sealed, .keyCommitment], optional: [.transaction])

    /// Fields that stay outside the ciphertext of a sealed record.
    public static let outerTags: Set<FieldTag> = [.transaction, .keyId, .sealed, .keyCommitment]
}
