/// One log record, decoded (spec/FORMAT.md §3). Which fields are present depends on `type`;
/// `RecordCodec` enforces the rules. In an encrypted store the user-visible fields of sealed
/// types are absent until the record is opened with its key; `sealed`, `keyId` and
/// `keyCommitment` carry the encrypted form.
public struct Record: Sendable, Equatable {
    public var type: RecordType
    public var seq: UInt64
    /// Transaction time: when the record was written, µs since the Unix epoch.
    public var time: Microseconds

    public var collection: String?
    public var id: String?
    /// The document as RFC 8785 canonical JSON bytes (a JSON object).
    public var document: [UInt8]?
    /// Valid time, half-open [validFrom, validTo), µs since the epoch.
    public var validFrom: Microseconds?
    public var validTo: Microseconds?
    /// Seqs of earlier records that caused this one, ascending.
    public var causedBy: [UInt64] = []
    public var evidence: String?
    /// 0.0 ... 1.0
    public var confidence: Double?
    public var client: String?
    public var nonce: UInt64?
    public var idempotencyKey: String?
    public var relation: String?
    public var targetCollection: String?
    public var targetId: String?
    public var indexField: String?
    public var indexKind: IndexKind?
    public var transaction: TransactionMark?
    public var keyId: UInt32?
    public var sealed: [UInt8]?
    public var keyCommitment: Hash32?
    public var storeId: StoreID?
    public var hashAlgorithm: HashAlgorithm?
    public var origin: String?
    public var encryption: EncryptionMode?
    public var checkpointSeq: UInt64?
    public var checkpointHash: Hash32?
    public var retentionSeq: UInt64?
    public var prunedCount: UInt64?
    public var prunedType: RecordType?
    public var note: String?
    /// Pruned records: the seq of the record that hid this version at every instant (§3.7).
    public var supersededBy: UInt64?
    /// Pruned records: the seq of the compaction record that pruned this one.
    public var prunedBy: UInt64?
    /// Pruned records: the keyed digest of the pruned version's collection and id (§3.7).
    public var keyDigest: Hash32?
    /// Pruned records: bit 0 = the pruned version was a put without valid time.
    public var prunedFlags: UInt8?
    /// Compaction records: the hash of the seqs this compaction prunes (§3.7).
    public var prunedSet: Hash32?
    /// Ignorable fields (tag ≥ 0x80) this reader does not know, kept so bytes re-encode exactly.
    public var extraFields: [ExtraField] = []
    /// For a record type this reader does not know (ignorable types only): the raw field bytes.
    public var unknownFieldBytes: [UInt8]?

    public init(type: RecordType, seq: UInt64, time: Microseconds) {
        self.type = type
        self.seq = seq
        self.time = time
    }

    /// True when the user-visible content is still encrypted.
    public var isSealed: Bool { sealed != nil }

    /// `collection:id` for display.
    public var key: String? {
        guard let collection, let id else { return nil }
        return "\(collection):\(id)"
    }
}

/// A field with an ignorable tag that this reader does not understand.
public struct ExtraField: Sendable, Equatable {
    public var tag: UInt8
    public var value: [UInt8]
    public init(tag: UInt8, value: [UInt8]) { self.tag = tag; self.value = value }
}

/// Writes a record's ignorable extra fields in tag order, each just before the first known
/// field with a higher tag (so a re-encoded record keeps its bytes).
struct ExtraFieldWriter {
    let extras: [ExtraField]
    var index = 0

    init(_ fields: [ExtraField]) { extras = fields.count > 1 ? fields.sorted { $0.tag < $1.tag } : fields }

    var pending: Bool { index < extras.count }

    /// Writes the extra fields with tags below `tag` not yet written.
    mutating func write(below tag: Int, into w: inout ByteWriter) {
        while index < extras.count, Int(extras[index].tag) < tag {
            let e = extras[index]
            w.u8(e.tag); w.uvarint(UInt64(e.value.count)); w.append(e.value)
            index += 1
        }
    }
}
