/// Encodes and decodes record bodies: `seq u64 | time i64 | fields` where each field is
/// `tag u8 | length uvarint | value`, tags strictly ascending (spec/FORMAT.md §3.3–3.4).
public enum RecordCodec {
    /// Largest permitted `type ‖ body` length.
    public static let maxRecordLength = 16 * 1024 * 1024
    public static let maxCollectionLength = 255
    public static let maxIdLength = 1024
    public static let maxTextLength = 65_536

    // MARK: Encoding

    /// The body bytes (without the type byte) of `record`, all fields.
    public static func encodeBody(_ record: Record) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + (record.document?.count ?? 0))
        w.u64(record.seq)
        w.i64(record.time)
        encodeFields(record, into: &w) { _ in true }
        if let raw = record.unknownFieldBytes { w.append(raw) }
        return w.bytes
    }

    /// Writes the fields of `record` whose tag passes `include`, in ascending tag order,
    /// interleaving ignorable extra fields at their tag positions.
    public static func encodeFields(_ r: Record, into w: inout ByteWriter, include: (FieldTag) -> Bool) {
        var extras = r.extraFields.sorted { $0.tag < $1.tag }[...]
        func flushExtras(below tag: UInt8) {
            while let e = extras.first, e.tag < tag {
                w.u8(e.tag); w.uvarint(UInt64(e.value.count)); w.append(e.value)
                extras = extras.dropFirst()
            }
        }
        func field(_ tag: FieldTag, _ value: [UInt8]) {
            guard include(tag) else { return }
            flushExtras(below: tag.rawValue)
            w.u8(tag.rawValue); w.uvarint(UInt64(value.count)); w.append(value)
        }
        func text(_ tag: FieldTag, _ s: String?) { if let s { field(tag, Array(s.utf8)) } }
        func u64(_ tag: FieldTag, _ v: UInt64?) { if let v { field(tag, le64(v)) } }
        func i64(_ tag: FieldTag, _ v: Int64?) { if let v { field(tag, le64(UInt64(bitPattern: v))) } }
        func hash(_ tag: FieldTag, _ h: Hash32?) { if let h { field(tag, h.bytes) } }

        text(.collection, r.collection)
        text(.id, r.id)
        if let d = r.document { field(.document, d) }
        i64(.validFrom, r.validFrom)
        i64(.validTo, r.validTo)
        if !r.causedBy.isEmpty { field(.causedBy, r.causedBy.flatMap(le64)) }
        text(.evidence, r.evidence)
        if let c = r.confidence { field(.confidence, le64(c.bitPattern)) }
        text(.client, r.client)
        u64(.nonce, r.nonce)
        text(.idempotencyKey, r.idempotencyKey)
        text(.relation, r.relation)
        text(.targetCollection, r.targetCollection)
        text(.targetId, r.targetId)
        text(.indexField, r.indexField)
        if let k = r.indexKind { field(.indexKind, [k.rawValue]) }
        if let t = r.transaction { field(.transaction, le64(t.firstSeq) + le32(t.count)) }
        if let k = r.keyId { field(.keyId, le32(k)) }
        if let s = r.sealed { field(.sealed, s) }
        hash(.keyCommitment, r.keyCommitment)
        if let s = r.storeId { field(.storeId, s.bytes) }
        if let h = r.hashAlgorithm { field(.hashAlgorithm, [h.rawValue]) }
        text(.origin, r.origin)
        if let e = r.encryption { field(.encryption, [e.rawValue]) }
        u64(.checkpointSeq, r.checkpointSeq)
        hash(.checkpointHash, r.checkpointHash)
        u64(.retentionSeq, r.retentionSeq)
        u64(.prunedCount, r.prunedCount)
        if let t = r.prunedType { field(.prunedType, [t.rawValue]) }
        text(.note, r.note)
        flushExtras(below: 0xFF)
        if let e = extras.first, e.tag == 0xFF { w.u8(e.tag); w.uvarint(UInt64(e.value.count)); w.append(e.value) }
    }

    // MARK: Decoding

    /// Options for `decode`.
    public struct Options: Sendable {
        /// Re-canonicalise documents and reject any that are not RFC 8785 canonical.
        public var checkCanonicalDocuments: Bool
        public init(checkCanonicalDocuments: Bool = true) { self.checkCanonicalDocuments = checkCanonicalDocuments }
    }

    /// Decodes a record from its type byte and body bytes; `body` is `bytes[bodyStart..<bodyEnd]`.
    /// `location` (file and offset of the frame) is attached to every error.
    public static func decode(type: RecordType, bytes: [UInt8], bodyStart: Int, bodyEnd: Int,
                              location: Location = Location(), options: Options = Options()) throws(FormatError) -> Record {
        var reader = ByteReader(bytes, start: bodyStart, end: bodyEnd)
        let base = location.offset.map { $0 &+ 9 } ?? 0
        func fail(_ detail: String, seq: UInt64? = nil) -> FormatError {
            .malformed(Location(file: location.file, offset: location.offset, seq: seq ?? location.seq), detail: detail)
        }
        let seq: UInt64, time: Int64
        do {
            seq = try reader.u64()
            time = try reader.i64()
        } catch {
            throw FormatError.from(error, file: location.file, base: base &- UInt64(bodyStart), what: "record header")
        }
        var record = Record(type: type, seq: seq, time: time)
        let known = type.isKnown
        if !known {
            guard type.isIgnorable else {
                throw fail("unknown record type 0x\(String(type.rawValue, radix: 16)) is not marked ignorable", seq: seq)
            }
            record.unknownFieldBytes = Array(bytes[reader.position..<bodyEnd])
            return record
        }
        var present = Set<FieldTag>()
        var lastTag: Int = -1
        while !reader.isAtEnd {
            let tagRaw: UInt8, length: UInt64, valueStart: Int
            do {
                tagRaw = try reader.u8()
                length = try reader.uvarint()
                valueStart = reader.position
                guard length <= UInt64(reader.remaining) else {
                    throw fail("field 0x\(String(tagRaw, radix: 16)) claims \(length) bytes, \(reader.remaining) remain", seq: seq)
                }
                try reader.skip(Int(length))
            } catch let failure as ByteReader.Failure {
                throw FormatError.from(failure, file: location.file, base: base &- UInt64(bodyStart), seq: seq, what: "field")
            } catch let error as FormatError {
                throw error
            } catch {
                throw fail("field: \(error)", seq: seq)
            }
            guard Int(tagRaw) > lastTag else {
                throw fail("field tags must be strictly ascending (0x\(String(tagRaw, radix: 16)) after 0x\(String(lastTag, radix: 16)))", seq: seq)
            }
            lastTag = Int(tagRaw)
            let value = Array(bytes[valueStart..<(valueStart + Int(length))])
            guard let tag = FieldTag(rawValue: tagRaw) else {
                guard FieldTag.isIgnorable(tagRaw) else {
                    throw fail("unknown critical field tag 0x\(String(tagRaw, radix: 16))", seq: seq)
                }
                record.extraFields.append(ExtraField(tag: tagRaw, value: value))
                continue
            }
            present.insert(tag)
            try assign(tag, value, to: &record, fail: { fail($0, seq: seq) }, options: options)
        }
        try validate(&record, present: present, fail: { fail($0, seq: seq) })
        return record
    }

    /// Decodes only the inner (sealed) field list of an encrypted record and merges it into `record`.
    public static func mergeOpened(_ inner: [UInt8], into record: inout Record, location: Location,
                                   options: Options = Options()) throws(FormatError) {
        var reader = ByteReader(inner)
        let seq = record.seq
        func fail(_ detail: String) -> FormatError {
            .malformed(Location(file: location.file, offset: location.offset, seq: seq), detail: "sealed content: " + detail)
        }
        var present: Set<FieldTag> = [.keyId, .sealed, .keyCommitment]
        if record.transaction != nil { present.insert(.transaction) }
        var lastTag = -1
        while !reader.isAtEnd {
            let tagRaw: UInt8, value: [UInt8]
            do {
                tagRaw = try reader.u8()
                let length = try reader.uvarint()
                guard length <= UInt64(reader.remaining) else { throw fail("field overruns the sealed content") }
                value = try reader.bytes(Int(length))
            } catch let error as FormatError {
                throw error
            } catch {
                throw fail("\(error)")
            }
            guard Int(tagRaw) > lastTag else { throw fail("field tags must be strictly ascending") }
            lastTag = Int(tagRaw)
            guard let tag = FieldTag(rawValue: tagRaw) else {
                guard FieldTag.isIgnorable(tagRaw) else { throw fail("unknown critical field tag 0x\(String(tagRaw, radix: 16))") }
                record.extraFields.append(ExtraField(tag: tagRaw, value: value))
                continue
            }
            guard !RecordRules.outerTags.contains(tag) else { throw fail("field \(tag) must not be sealed") }
            present.insert(tag)
            try assign(tag, value, to: &record, fail: fail, options: options)
        }
        let saved = record.sealed
        record.sealed = nil
        present.subtract([.keyId, .sealed, .keyCommitment])
        try validate(&record, present: present, fail: fail)
        record.sealed = saved
    }

    private static func assign(_ tag: FieldTag, _ v: [UInt8], to r: inout Record,
                               fail: (String) -> FormatError, options: Options) throws(FormatError) {
        func text(max: Int) throws(FormatError) -> String {
            guard let s = String(validating: v, as: UTF8.self) else { throw fail("field \(tag) is not valid UTF-8") }
            guard v.count <= max else { throw fail("field \(tag) is longer than \(max) bytes") }
            return s
        }
        func fixed(_ n: Int) throws(FormatError) {
            guard v.count == n else { throw fail("field \(tag) must be \(n) bytes, found \(v.count)") }
        }
        switch tag {
        case .collection: r.collection = try text(max: maxCollectionLength)
        case .id: r.id = try text(max: maxIdLength)
        case .document:
            guard String(validating: v, as: UTF8.self) != nil else { throw fail("document is not valid UTF-8") }
            if options.checkCanonicalDocuments {
                let parsed: JSONValue
                do { parsed = try JSONParser.parse(v) } catch { throw fail("document is not valid JSON: \(error)") }
                guard case .object = parsed else { throw fail("document must be a JSON object") }
                guard JCS.serialize(parsed) == v else { throw fail("document is not in RFC 8785 canonical form") }
            }
            r.document = v
        case .validFrom: try fixed(8); r.validFrom = Int64(bitPattern: le64(v))
        case .validTo: try fixed(8); r.validTo = Int64(bitPattern: le64(v))
        case .causedBy:
            guard v.count % 8 == 0, !v.isEmpty else { throw fail("caused_by must be a non-empty multiple of 8 bytes") }
            r.causedBy = stride(from: 0, to: v.count, by: 8).map { le64(Array(v[$0..<($0 + 8)])) }
        case .evidence: r.evidence = try text(max: maxTextLength)
        case .confidence: try fixed(8); r.confidence = Double(bitPattern: le64(v))
        case .client: r.client = try text(max: maxIdLength)
        case .nonce: try fixed(8); r.nonce = le64(v)
        case .idempotencyKey: r.idempotencyKey = try text(max: maxIdLength)
        case .relation: r.relation = try text(max: maxCollectionLength)
        case .targetCollection: r.targetCollection = try text(max: maxCollectionLength)
        case .targetId: r.targetId = try text(max: maxIdLength)
        case .indexField: r.indexField = try text(max: maxCollectionLength)
        case .indexKind:
            try fixed(1)
            guard let k = IndexKind(rawValue: v[0]) else { throw fail("unknown index kind \(v[0])") }
            r.indexKind = k
        case .transaction:
            try fixed(12)
            r.transaction = TransactionMark(firstSeq: le64(Array(v[0..<8])), count: le32(Array(v[8..<12])))
        case .keyId: try fixed(4); r.keyId = le32(v)
        case .sealed:
            guard v.count >= AESGCM.nonceLength + AESGCM.tagLength else { throw fail("sealed field shorter than nonce and tag") }
            r.sealed = v
        case .keyCommitment: try fixed(32); r.keyCommitment = Hash32(bytes: v)
        case .storeId: try fixed(16); r.storeId = StoreID(bytes: v)
        case .hashAlgorithm:
            try fixed(1)
            guard let h = HashAlgorithm(rawValue: v[0]) else { throw fail("unknown hash algorithm id \(v[0])") }
            r.hashAlgorithm = h
        case .origin: r.origin = try text(max: maxCollectionLength)
        case .encryption:
            try fixed(1)
            guard let e = EncryptionMode(rawValue: v[0]) else { throw fail("unknown encryption mode \(v[0])") }
            r.encryption = e
        case .checkpointSeq: try fixed(8); r.checkpointSeq = le64(v)
        case .checkpointHash: try fixed(32); r.checkpointHash = Hash32(bytes: v)
        case .retentionSeq: try fixed(8); r.retentionSeq = le64(v)
        case .prunedCount: try fixed(8); r.prunedCount = le64(v)
        case .prunedType: try fixed(1); r.prunedType = RecordType(rawValue: v[0])
        case .note: r.note = try text(max: maxTextLength)
        }
    }

    /// Checks field presence against the type's rules and every value constraint of §3.5.
    static func validate(_ r: inout Record, present: Set<FieldTag>, fail: (String) -> FormatError) throws(FormatError) {
        let rules: RecordRules
        if present.contains(.sealed) {
            guard r.type.isSealedWhenEncrypted else { throw fail("\(r.type) records are never sealed") }
            rules = RecordRules.sealedOuter
        } else {
            guard let plain = RecordRules.plaintext(r.type) else { return }
            rules = plain
        }
        if let missing = rules.required.subtracting(present).min(by: { $0.rawValue < $1.rawValue }) {
            throw fail("\(r.type) record lacks required field \(missing)")
        }
        if let extra = present.subtracting(rules.required).subtracting(rules.optional).min(by: { $0.rawValue < $1.rawValue }) {
            throw fail("\(r.type) record must not have field \(extra)")
        }
        try checkValues(r, fail: fail)
    }

    /// Value constraints shared by the writer (before encoding) and the reader.
    public static func checkValues(_ r: Record, fail: (String) -> FormatError) throws(FormatError) {
        if let c = r.collection { try checkName(c, what: "collection", allowColon: false, max: maxCollectionLength, fail: fail) }
        if let c = r.targetCollection { try checkName(c, what: "target collection", allowColon: false, max: maxCollectionLength, fail: fail) }
        if let i = r.id { try checkName(i, what: "id", allowColon: true, max: maxIdLength, fail: fail) }
        if let i = r.targetId { try checkName(i, what: "target id", allowColon: true, max: maxIdLength, fail: fail) }
        if let rel = r.relation { try checkName(rel, what: "relation", allowColon: true, max: maxCollectionLength, fail: fail) }
        if let f = r.indexField { try checkName(f, what: "index field", allowColon: true, max: maxCollectionLength, fail: fail) }
        if let from = r.validFrom, let to = r.validTo, from >= to {
            throw fail("valid_from must be before valid_to (half-open interval)")
        }
        var previous: UInt64? = nil
        for cause in r.causedBy {
            if let p = previous, cause <= p { throw fail("caused_by seqs must be strictly ascending") }
            if cause >= r.seq { throw fail("caused_by seq \(cause) is not earlier than the record's own seq \(r.seq)") }
            previous = cause
        }
        if let c = r.confidence, !(c.isFinite && c >= 0 && c <= 1) {
            throw fail("confidence must be a number from 0 to 1")
        }
        if let t = r.transaction {
            guard t.count >= 1, t.firstSeq <= r.seq, r.seq - t.firstSeq < UInt64(t.count) else {
                throw fail("transaction mark (first \(t.firstSeq), count \(t.count)) does not contain seq \(r.seq)")
            }
        }
        if let pt = r.prunedType, pt == .pruned || pt == .genesis {
            throw fail("a \(pt) record cannot be pruned")
        }
        if let cp = r.checkpointSeq, cp >= r.seq { throw fail("checkpoint seq \(cp) must be before the marker's seq \(r.seq)") }
        if let rs = r.retentionSeq, rs >= r.seq { throw fail("retention seq \(rs) must be before the compaction record's seq \(r.seq)") }
    }

    static func checkName(_ s: String, what: String, allowColon: Bool, max: Int,
                          fail: (String) -> FormatError) throws(FormatError) {
        let utf8 = s.utf8
        guard !utf8.isEmpty else { throw fail("\(what) must not be empty") }
        guard utf8.count <= max else { throw fail("\(what) is longer than \(max) bytes") }
        for b in utf8 {
            if b < 0x20 || b == 0x7F { throw fail("\(what) must not contain control characters") }
            if !allowColon && b == 0x3A { throw fail("\(what) must not contain ':'") }
        }
    }
}

@inline(__always) func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
@inline(__always) func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
@inline(__always) func le64(_ b: [UInt8]) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<min(8, b.count) { v |= UInt64(b[i]) << (8 * i) }
    return v
}
@inline(__always) func le32(_ b: [UInt8]) -> UInt32 {
    var v: UInt32 = 0
    for i in 0..<min(4, b.count) { v |= UInt32(b[i]) << (8 * i) }
    return v
}

extension RecordCodec {
    /// The field tags present in `record`.
    public static func presentTags(_ r: Record) -> Set<FieldTag> {
        var s = Set<FieldTag>()
        if r.collection != nil { s.insert(.collection) }
        if r.id != nil { s.insert(.id) }
        if r.document != nil { s.insert(.document) }
        if r.validFrom != nil { s.insert(.validFrom) }
        if r.validTo != nil { s.insert(.validTo) }
        if !r.causedBy.isEmpty { s.insert(.causedBy) }
        if r.evidence != nil { s.insert(.evidence) }
        if r.confidence != nil { s.insert(.confidence) }
        if r.client != nil { s.insert(.client) }
        if r.nonce != nil { s.insert(.nonce) }
        if r.idempotencyKey != nil { s.insert(.idempotencyKey) }
        if r.relation != nil { s.insert(.relation) }
        if r.targetCollection != nil { s.insert(.targetCollection) }
        if r.targetId != nil { s.insert(.targetId) }
        if r.indexField != nil { s.insert(.indexField) }
        if r.indexKind != nil { s.insert(.indexKind) }
        if r.transaction != nil { s.insert(.transaction) }
        if r.keyId != nil { s.insert(.keyId) }
        if r.sealed != nil { s.insert(.sealed) }
        if r.keyCommitment != nil { s.insert(.keyCommitment) }
        if r.storeId != nil { s.insert(.storeId) }
        if r.hashAlgorithm != nil { s.insert(.hashAlgorithm) }
        if r.origin != nil { s.insert(.origin) }
        if r.encryption != nil { s.insert(.encryption) }
        if r.checkpointSeq != nil { s.insert(.checkpointSeq) }
        if r.checkpointHash != nil { s.insert(.checkpointHash) }
        if r.retentionSeq != nil { s.insert(.retentionSeq) }
        if r.prunedCount != nil { s.insert(.prunedCount) }
        if r.prunedType != nil { s.insert(.prunedType) }
        if r.note != nil { s.insert(.note) }
        return s
    }

    /// Checks a plaintext record before it is written, by the same rules a reader applies, so a
    /// writer never produces a record that readers reject. Documents must be canonical objects.
    public static func validateForWriting(_ record: Record, checkDocument: Bool = true) throws(FormatError) {
        var r = record
        let fail: (String) -> FormatError = { .malformed(Location(seq: record.seq), detail: $0) }
        if checkDocument, let d = r.document {
            guard case .object? = try? JSONParser.parse(d) else { throw fail("document must be a JSON object") }
            guard let parsed = try? JSONParser.parse(d), JCS.serialize(parsed) == d else {
                throw fail("document is not in RFC 8785 canonical form")
            }
        }
        guard r.type.isKnown || r.type.isIgnorable else { throw fail("unknown record type \(r.type)") }
        try validate(&r, present: presentTags(record), fail: fail)
        guard encodeBody(record).count + 1 <= maxRecordLength else { throw fail("record exceeds \(maxRecordLength) bytes") }
    }
}
