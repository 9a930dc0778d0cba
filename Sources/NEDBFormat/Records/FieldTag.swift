/// Field tags of the record body TLV encoding (spec/FORMAT.md §3.4). Tags 0x01–0x7F are
/// critical (a reader that does not know one must reject the record); tags 0x80–0xFF may be
/// skipped by readers that do not know them.
public enum FieldTag: UInt8, CaseIterable, Sendable {
    case collection = 0x01
    case id = 0x02
    case document = 0x03
    case validFrom = 0x04
    case validTo = 0x05
    case causedBy = 0x06
    case evidence = 0x07
    case confidence = 0x08
    case client = 0x09
    case nonce = 0x0A
    case idempotencyKey = 0x0B
    case relation = 0x0C
    case targetCollection = 0x0D
    case targetId = 0x0E
    case indexField = 0x0F
    case indexKind = 0x10
    case transaction = 0x11
    case keyId = 0x12
    case sealed = 0x13
    case keyCommitment = 0x14
    case storeId = 0x20
    case hashAlgorithm = 0x21
    case origin = 0x22
    case encryption = 0x23
    case checkpointSeq = 0x24
    case checkpointHash = 0x25
    case retentionSeq = 0x26
    case prunedCount = 0x27
    case prunedType = 0x28
    case note = 0x29
    case supersededBy = 0x2A
    case prunedBy = 0x2B
    case keyDigest = 0x2C
    case prunedFlags = 0x2D
    case prunedSet = 0x2E

    public static func isIgnorable(_ raw: UInt8) -> Bool { raw & 0x80 != 0 }

    /// The field's name in spec/FORMAT.md §3.4 and in every JSON view of a record.
    public var name: String {
        switch self {
        case .collection: return "collection"
        case .id: return "id"
        case .document: return "document"
        case .validFrom: return "valid_from"
        case .validTo: return "valid_to"
        case .causedBy: return "caused_by"
        case .evidence: return "evidence"
        case .confidence: return "confidence"
        case .client: return "client"
        case .nonce: return "nonce"
        case .idempotencyKey: return "idempotency_key"
        case .relation: return "relation"
        case .targetCollection: return "target_collection"
        case .targetId: return "target_id"
        case .indexField: return "index_field"
        case .indexKind: return "index_kind"
        case .transaction: return "transaction"
        case .keyId: return "key_id"
        case .sealed: return "sealed"
        case .keyCommitment: return "key_commitment"
        case .storeId: return "store_id"
        case .hashAlgorithm: return "hash_algorithm"
        case .origin: return "origin"
        case .encryption: return "encryption"
        case .checkpointSeq: return "checkpoint_seq"
        case .checkpointHash: return "checkpoint_hash"
        case .retentionSeq: return "retention_seq"
        case .prunedCount: return "pruned_count"
        case .prunedType: return "pruned_type"
        case .note: return "note"
        case .supersededBy: return "superseded_by"
        case .prunedBy: return "pruned_by"
        case .keyDigest: return "key_digest"
        case .prunedFlags: return "pruned_flags"
        case .prunedSet: return "pruned_set"
        }
    }

    /// The exact value length of a fixed-size field (§3.4), nil for variable-length ones.
    public var fixedSize: Int? {
        switch self {
        case .validFrom, .validTo, .confidence, .nonce, .checkpointSeq, .retentionSeq, .prunedCount, .supersededBy, .prunedBy: return 8
        case .indexKind, .hashAlgorithm, .encryption, .prunedType, .prunedFlags: return 1
        case .transaction: return 12
        case .keyId: return 4
        case .keyCommitment, .checkpointHash, .keyDigest, .prunedSet: return 32
        case .storeId: return 16
        default: return nil
        }
    }
}
