/// How a field's value is stored and checked (spec/FORMAT.md §3.4). With `FieldTag.name` and
/// `FieldTag.fixedSize` this is the one table of fields: encoding, decoding, presence, value
/// checks and JSON are written once over it, and `Record.value(_:)` / `Record.set(_:_:)` are the
/// only places that map a tag to a stored property.
public enum FieldKind: Sendable, Equatable {
    /// Non-empty text without control characters, at most `max` bytes; `colon`: `:` allowed.
    case name(max: Int, colon: Bool)
    /// UTF-8 text of at most `max` bytes.
    case text(max: Int)
    /// RFC 8785 canonical JSON text of an object.
    case document
    /// Bytes of at least `minimum` length (the sealed field).
    case opaque(minimum: Int)
    /// One or more `u64` seqs.
    case seqs
    case u64
    /// `i64` microseconds (a JSON view adds an RFC 3339 companion).
    case time
    case f64
    case u32
    /// A one-byte code: an enumeration or flags.
    case code
    case hash
    case storeId
    case transaction
}

/// A decoded field value.
public enum FieldValue: Sendable, Equatable {
    /// Why `value` cannot be stored in field `tag` (a value of another shape than its kind).
    static func mismatch(_ tag: FieldTag, _ value: FieldValue) -> String { "field \(tag.name) cannot hold \(value)" }

    case text(String)
    case bytes([UInt8])
    case seqs([UInt64])
    case u64(UInt64)
    case i64(Int64)
    case f64(Double)
    case u32(UInt32)
    case u8(UInt8)
    case hash(Hash32)
    case transaction(TransactionMark)
}

extension FieldTag {
    /// Every tag in ascending order (computed once: `allCases` builds a new array per call).
    public static let ordered: [FieldTag] = FieldTag.allCases.sorted { $0.rawValue < $1.rawValue }

    public var kind: FieldKind {
        switch self {
        case .collection, .targetCollection: return .name(max: RecordCodec.maxCollectionLength, colon: false)
        case .id, .targetId: return .name(max: RecordCodec.maxIdLength, colon: true)
        case .relation, .indexField: return .name(max: RecordCodec.maxCollectionLength, colon: true)
        case .document: return .document
        case .validFrom, .validTo: return .time
        case .causedBy: return .seqs
        case .evidence, .note: return .text(max: RecordCodec.maxTextLength)
        case .confidence: return .f64
        case .client, .idempotencyKey: return .text(max: RecordCodec.maxIdLength)
        case .origin: return .text(max: RecordCodec.maxCollectionLength)
        case .nonce, .checkpointSeq, .retentionSeq, .prunedCount, .supersededBy, .prunedBy: return .u64
        case .indexKind, .hashAlgorithm, .encryption, .prunedType, .prunedFlags: return .code
        case .transaction: return .transaction
        case .keyId: return .u32
        case .sealed: return .opaque(minimum: AESGCM.nonceLength + AESGCM.tagLength)
        case .keyCommitment, .checkpointHash, .keyDigest, .prunedSet: return .hash
        case .storeId: return .storeId
        }
    }
}

extension Record {
    /// The value of field `tag`, nil when absent (`caused_by` is absent when empty).
    @inline(__always)
    public func value(_ tag: FieldTag) -> FieldValue? {
        switch tag {
        case .collection: if let v = collection { return .text(v) }
        case .id: if let v = id { return .text(v) }
        case .document: if let v = document { return .bytes(v) }
        case .validFrom: if let v = validFrom { return .i64(v) }
        case .validTo: if let v = validTo { return .i64(v) }
        case .causedBy: return causedBy.isEmpty ? nil : .seqs(causedBy)
        case .evidence: if let v = evidence { return .text(v) }
        case .confidence: if let v = confidence { return .f64(v) }
        case .client: if let v = client { return .text(v) }
        case .nonce: if let v = nonce { return .u64(v) }
        case .idempotencyKey: if let v = idempotencyKey { return .text(v) }
        case .relation: if let v = relation { return .text(v) }
        case .targetCollection: if let v = targetCollection { return .text(v) }
        case .targetId: if let v = targetId { return .text(v) }
        case .indexField: if let v = indexField { return .text(v) }
        case .indexKind: if let v = indexKind { return .u8(v.rawValue) }
        case .transaction: if let v = transaction { return .transaction(v) }
        case .keyId: if let v = keyId { return .u32(v) }
        case .sealed: if let v = sealed { return .bytes(v) }
        case .keyCommitment: if let v = keyCommitment { return .hash(v) }
        case .storeId: if let v = storeId { return .bytes(v.bytes) }
        case .hashAlgorithm: if let v = hashAlgorithm { return .u8(v.rawValue) }
        case .origin: if let v = origin { return .text(v) }
        case .encryption: if let v = encryption { return .u8(v.rawValue) }
        case .checkpointSeq: if let v = checkpointSeq { return .u64(v) }
        case .checkpointHash: if let v = checkpointHash { return .hash(v) }
        case .retentionSeq: if let v = retentionSeq { return .u64(v) }
        case .prunedCount: if let v = prunedCount { return .u64(v) }
        case .prunedType: if let v = prunedType { return .u8(v.rawValue) }
        case .note: if let v = note { return .text(v) }
        case .supersededBy: if let v = supersededBy { return .u64(v) }
        case .prunedBy: if let v = prunedBy { return .u64(v) }
        case .keyDigest: if let v = keyDigest { return .hash(v) }
        case .prunedFlags: if let v = prunedFlags { return .u8(v) }
        case .prunedSet: if let v = prunedSet { return .hash(v) }
        }
        return nil
    }

    /// Stores a decoded value of field `tag` (of the shape `tag.kind` gives); returns what is
    /// wrong with it when it is not a value the field may hold (an unknown code).
    public mutating func set(_ tag: FieldTag, _ value: FieldValue) -> String? {
        switch tag {
        case .collection:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            collection = v
        case .id:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            id = v
        case .document:
            guard case let .bytes(v) = value else { return FieldValue.mismatch(tag, value) }
            document = v
        case .validFrom:
            guard case let .i64(v) = value else { return FieldValue.mismatch(tag, value) }
            validFrom = v
        case .validTo:
            guard case let .i64(v) = value else { return FieldValue.mismatch(tag, value) }
            validTo = v
        case .causedBy:
            guard case let .seqs(v) = value else { return FieldValue.mismatch(tag, value) }
            causedBy = v
        case .evidence:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            evidence = v
        case .confidence:
            guard case let .f64(v) = value else { return FieldValue.mismatch(tag, value) }
            confidence = v
        case .client:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            client = v
        case .nonce:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            nonce = v
        case .idempotencyKey:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            idempotencyKey = v
        case .relation:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            relation = v
        case .targetCollection:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            targetCollection = v
        case .targetId:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            targetId = v
        case .indexField:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            indexField = v
        case .indexKind:
            guard case let .u8(v) = value else { return FieldValue.mismatch(tag, value) }
            guard let k = IndexKind(rawValue: v) else { return "unknown index kind \(v)" }
            indexKind = k
        case .transaction:
            guard case let .transaction(v) = value else { return FieldValue.mismatch(tag, value) }
            transaction = v
        case .keyId:
            guard case let .u32(v) = value else { return FieldValue.mismatch(tag, value) }
            keyId = v
        case .sealed:
            guard case let .bytes(v) = value else { return FieldValue.mismatch(tag, value) }
            sealed = v
        case .keyCommitment:
            guard case let .hash(v) = value else { return FieldValue.mismatch(tag, value) }
            keyCommitment = v
        case .storeId:
            guard case let .bytes(v) = value else { return FieldValue.mismatch(tag, value) }
            guard let s = StoreID(bytes: v) else { return "store id must be 16 bytes" }
            storeId = s
        case .hashAlgorithm:
            guard case let .u8(v) = value else { return FieldValue.mismatch(tag, value) }
            guard let h = HashAlgorithm(rawValue: v) else { return "unknown hash algorithm id \(v)" }
            hashAlgorithm = h
        case .origin:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            origin = v
        case .encryption:
            guard case let .u8(v) = value else { return FieldValue.mismatch(tag, value) }
            guard let e = EncryptionMode(rawValue: v) else { return "unknown encryption mode \(v)" }
            encryption = e
        case .checkpointSeq:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            checkpointSeq = v
        case .checkpointHash:
            guard case let .hash(v) = value else { return FieldValue.mismatch(tag, value) }
            checkpointHash = v
        case .retentionSeq:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            retentionSeq = v
        case .prunedCount:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            prunedCount = v
        case .prunedType:
            guard case let .u8(v) = value else { return FieldValue.mismatch(tag, value) }
            prunedType = RecordType(rawValue: v)
        case .note:
            guard case let .text(v) = value else { return FieldValue.mismatch(tag, value) }
            note = v
        case .supersededBy:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            supersededBy = v
        case .prunedBy:
            guard case let .u64(v) = value else { return FieldValue.mismatch(tag, value) }
            prunedBy = v
        case .keyDigest:
            guard case let .hash(v) = value else { return FieldValue.mismatch(tag, value) }
            keyDigest = v
        case .prunedFlags:
            guard case let .u8(v) = value else { return FieldValue.mismatch(tag, value) }
            guard v & ~1 == 0 else { return "pruned_flags has unknown bits set (0x\(String(v, radix: 16)))" }
            prunedFlags = v
        case .prunedSet:
            guard case let .hash(v) = value else { return FieldValue.mismatch(tag, value) }
            prunedSet = v
        }
        return nil
    }
}

extension String {
    /// `target_collection` → `target collection`, for messages.
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
