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
        encodeBody(record, into: &w)
        return w.bytes
    }

    /// Appends the body bytes of `record` to `w`.
    public static func encodeBody(_ record: Record, into w: inout ByteWriter) {
        w.u64(record.seq)
        w.i64(record.time)
        encodeFields(record, into: &w) { _ in true }
        if let raw = record.unknownFieldBytes { w.append(raw) }
    }

    /// Writes the fields of `record` whose tag passes `include`, in ascending tag order,
    /// interleaving ignorable extra fields at their tag positions. Writes straight into `w`.
    public static func encodeFields(_ r: Record, into w: inout ByteWriter, include: (FieldTag) -> Bool) {
        var extras = ExtraFieldWriter(r.extraFields)
        func start(_ tag: FieldTag, _ length: Int, _ w: inout ByteWriter) -> Bool {
            guard include(tag) else { return false }
            if extras.pending { extras.write(below: Int(tag.rawValue), into: &w) }
            w.u8(tag.rawValue); w.uvarint(UInt64(length))
            return true
        }
        func text(_ tag: FieldTag, _ s: String?, _ w: inout ByteWriter) {
            guard let s else { return }
            if start(tag, s.utf8.count, &w) { w.append(s.utf8) }
        }
        func bytes(_ tag: FieldTag, _ b: [UInt8]?, _ w: inout ByteWriter) {
            guard let b else { return }
            if start(tag, b.count, &w) { w.append(b) }
        }
        func u64(_ tag: FieldTag, _ v: UInt64?, _ w: inout ByteWriter) {
            guard let v else { return }
            if start(tag, 8, &w) { w.u64(v) }
        }
        func u8(_ tag: FieldTag, _ v: UInt8?, _ w: inout ByteWriter) {
            guard let v else { return }
            if start(tag, 1, &w) { w.u8(v) }
        }
        func hash(_ tag: FieldTag, _ h: Hash32?, _ w: inout ByteWriter) {
            guard let h else { return }
            if start(tag, 32, &w) { w.hash(h) }
        }
        text(.collection, r.collection, &w)
        text(.id, r.id, &w)
        bytes(.document, r.document, &w)
        u64(.validFrom, r.validFrom.map { UInt64(bitPattern: $0) }, &w)
        u64(.validTo, r.validTo.map { UInt64(bitPattern: $0) }, &w)
        if !r.causedBy.isEmpty, start(.causedBy, r.causedBy.count * 8, &w) { for c in r.causedBy { w.u64(c) } }
        text(.evidence, r.evidence, &w)
        u64(.confidence, r.confidence?.bitPattern, &w)
        text(.client, r.client, &w)
        u64(.nonce, r.nonce, &w)
        text(.idempotencyKey, r.idempotencyKey, &w)
        text(.relation, r.relation, &w)
        text(.targetCollection, r.targetCollection, &w)
        text(.targetId, r.targetId, &w)
        text(.indexField, r.indexField, &w)
        u8(.indexKind, r.indexKind?.rawValue, &w)
        if let t = r.transaction, start(.transaction, 12, &w) { w.u64(t.firstSeq); w.u32(t.count) }
        if let k = r.keyId, start(.keyId, 4, &w) { w.u32(k) }
        bytes(.sealed, r.sealed, &w)
        hash(.keyCommitment, r.keyCommitment, &w)
        bytes(.storeId, r.storeId?.bytes, &w)
        u8(.hashAlgorithm, r.hashAlgorithm?.rawValue, &w)
        text(.origin, r.origin, &w)
        u8(.encryption, r.encryption?.rawValue, &w)
        u64(.checkpointSeq, r.checkpointSeq, &w)
        hash(.checkpointHash, r.checkpointHash, &w)
        u64(.retentionSeq, r.retentionSeq, &w)
        u64(.prunedCount, r.prunedCount, &w)
        u8(.prunedType, r.prunedType?.rawValue, &w)
        text(.note, r.note, &w)
        u64(.supersededBy, r.supersededBy, &w)
        u64(.prunedBy, r.prunedBy, &w)
        hash(.keyDigest, r.keyDigest, &w)
        u8(.prunedFlags, r.prunedFlags, &w)
        hash(.prunedSet, r.prunedSet, &w)
        extras.write(below: 0x100, into: &w)
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
        var present: UInt64 = 0
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
            let value = bytes[valueStart..<(valueStart + Int(length))]
            guard let tag = FieldTag(rawValue: tagRaw) else {
                guard FieldTag.isIgnorable(tagRaw) else {
                    throw fail("unknown critical field tag 0x\(String(tagRaw, radix: 16))", seq: seq)
                }
                record.extraFields.append(ExtraField(tag: tagRaw, value: Array(value)))
                continue
            }
            present |= 1 << UInt64(tag.rawValue & 0x3F)
            try assign(tag, value, to: &record, fail: { fail($0, seq: seq) }, options: options)
        }
        try validate(record, presentMask: present, fail: { fail($0, seq: seq) })
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
        var present: UInt64 = record.transaction != nil ? 1 << UInt64(FieldTag.transaction.rawValue) : 0
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
            present |= 1 << UInt64(tag.rawValue & 0x3F)
            try assign(tag, value[...], to: &record, fail: fail, options: options)
        }
        try validate(record, presentMask: present, fail: fail)
    }

    static func assign(_ tag: FieldTag, _ v: ArraySlice<UInt8>, to r: inout Record,
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
            let doc = Array(v)
            try RecordCodec.checkDocument(doc, canonical: options.checkCanonicalDocuments, fail: fail)
            r.document = doc
        case .validFrom: try fixed(8); r.validFrom = Int64(bitPattern: le64(v))
        case .validTo: try fixed(8); r.validTo = Int64(bitPattern: le64(v))
        case .causedBy:
            guard v.count % 8 == 0, !v.isEmpty else { throw fail("caused_by must be a non-empty multiple of 8 bytes") }
            r.causedBy = stride(from: v.startIndex, to: v.endIndex, by: 8).map { le64(v[$0..<($0 + 8)]) }
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
            guard let k = IndexKind(rawValue: v[v.startIndex]) else { throw fail("unknown index kind \(v[v.startIndex])") }
            r.indexKind = k
        case .transaction:
            try fixed(12)
            r.transaction = TransactionMark(firstSeq: le64(v[v.startIndex..<(v.startIndex + 8)]), count: le32(v[(v.startIndex + 8)...]))
        case .keyId: try fixed(4); r.keyId = le32(v)
        case .sealed:
            guard v.count >= AESGCM.nonceLength + AESGCM.tagLength else { throw fail("sealed field shorter than nonce and tag") }
            r.sealed = Array(v)
        case .keyCommitment: try fixed(32); r.keyCommitment = Hash32(bytes: v)
        case .storeId: try fixed(16); r.storeId = StoreID(bytes: Array(v))
        case .hashAlgorithm:
            try fixed(1)
            guard let h = HashAlgorithm(rawValue: v[v.startIndex]) else { throw fail("unknown hash algorithm id \(v[v.startIndex])") }
            r.hashAlgorithm = h
        case .origin: r.origin = try text(max: maxCollectionLength)
        case .encryption:
            try fixed(1)
            guard let e = EncryptionMode(rawValue: v[v.startIndex]) else { throw fail("unknown encryption mode \(v[v.startIndex])") }
            r.encryption = e
        case .checkpointSeq: try fixed(8); r.checkpointSeq = le64(v)
        case .checkpointHash: try fixed(32); r.checkpointHash = Hash32(bytes: v)
        case .retentionSeq: try fixed(8); r.retentionSeq = le64(v)
        case .prunedCount: try fixed(8); r.prunedCount = le64(v)
        case .prunedType: try fixed(1); r.prunedType = RecordType(rawValue: v[v.startIndex])
        case .note: r.note = try text(max: maxTextLength)
        case .supersededBy: try fixed(8); r.supersededBy = le64(v)
        case .prunedBy: try fixed(8); r.prunedBy = le64(v)
        case .keyDigest: try fixed(32); r.keyDigest = Hash32(bytes: v)
        case .prunedFlags:
            try fixed(1)
            guard v[v.startIndex] & ~1 == 0 else { throw fail("pruned_flags has unknown bits set (0x\(String(v[v.startIndex], radix: 16)))") }
            r.prunedFlags = v[v.startIndex]
        case .prunedSet: try fixed(32); r.prunedSet = Hash32(bytes: v)
        }
    }

    /// Checks field presence against the type's rules and every value constraint of §3.5.
    static func validate(_ r: inout Record, present: Set<FieldTag>, fail: (String) -> FormatError) throws(FormatError) {
        try validate(r, presentMask: StructureCheck.mask(present), fail: fail)
    }

    /// The same check with presence as a bit mask (bit = tag & 0x3F; every tag is below 0x40).
    static func validate(_ r: Record, presentMask: UInt64, fail: (String) -> FormatError) throws(FormatError) {
        let sealed = presentMask & (1 << UInt64(FieldTag.sealed.rawValue)) != 0
        let required: UInt64, allowed: UInt64
        if sealed {
            guard r.type.isSealedWhenEncrypted else { throw fail("\(r.type) records are never sealed") }
            required = StructureCheck.sealedRequiredMask
            allowed = StructureCheck.sealedAllowedMask
        } else {
            guard r.type.isKnown else { return }
            required = StructureCheck.requiredMasks[Int(r.type.rawValue)]
            allowed = StructureCheck.allowedMasks[Int(r.type.rawValue)]
        }
        if presentMask & required != required {
            let missing = FieldTag.allCases.first { required & ~presentMask & (1 << UInt64($0.rawValue)) != 0 }
            throw fail("\(r.type) record lacks required field \(missing.map { "\($0)" } ?? "?")")
        }
        if presentMask & ~allowed != 0 {
            let extra = FieldTag.allCases.first { presentMask & ~allowed & (1 << UInt64($0.rawValue)) != 0 }
            throw fail("\(r.type) record must not have field \(extra.map { "\($0)" } ?? "?")")
        }
        try checkValues(r, fail: fail)
    }

    /// Value constraints shared by the writer (before encoding) and the reader.
    public static func checkValues(_ r: Record, fail: (String) -> FormatError) throws(FormatError) {
        // The fields of kind `.name` (FieldTableTests checks this list against the table), read
        // directly: going through `value(_:)` costs ~100 ns per written record.
        func name(_ tag: FieldTag, _ s: String?) throws(FormatError) {
            guard let s, case let .name(max, colon) = tag.kind else { return }
            try checkName(s, what: tag.name.replacingUnderscores, allowColon: colon, max: max, fail: fail)
        }
        try name(.collection, r.collection)
        try name(.id, r.id)
        try name(.relation, r.relation)
        try name(.targetCollection, r.targetCollection)
        try name(.targetId, r.targetId)
        try name(.indexField, r.indexField)
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
        if r.type == .pruned { try checkPruned(r, fail: fail) }
        if let cp = r.checkpointSeq, cp >= r.seq { throw fail("checkpoint seq \(cp) must be before the marker's seq \(r.seq)") }
        if let rs = r.retentionSeq, rs >= r.seq { throw fail("retention seq \(rs) must be before the compaction record's seq \(r.seq)") }
    }

    /// A pruned record is either of the legacy form (pruned_type alone, §3.7.2) or names its key
    /// digest, the record that hid it and the compaction that pruned it, in order.
    static func checkPruned(_ r: Record, fail: (String) -> FormatError) throws(FormatError) {
        let named = [r.supersededBy != nil, r.prunedBy != nil, r.keyDigest != nil]
        guard named.contains(true) || r.prunedFlags != nil else { return }
        guard !named.contains(false) else {
            throw fail("a pruned record names superseded_by, pruned_by and key_digest together, or none of them")
        }
        guard let s = r.supersededBy, let c = r.prunedBy, r.seq < s, s < c else {
            throw fail("pruned record \(r.seq): superseded_by \(r.supersededBy ?? 0) and pruned_by \(r.prunedBy ?? 0) must follow it, in that order")
        }
        guard r.prunedType == .put || r.prunedType == .delete else {
            throw fail("only put and delete records are pruned, not \(r.prunedType.map { "\($0)" } ?? "?")")
        }
        if r.prunedFlags != nil && r.prunedType != .put { throw fail("pruned_flags belongs to a pruned put") }
    }

    /// A document field: canonical JSON of an object (`canonical`), or at least a UTF-8 text
    /// between braces when the caller checks canonical form elsewhere.
    static func checkDocument(_ doc: [UInt8], canonical: Bool, fail: (String) -> FormatError) throws(FormatError) {
        if canonical {
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(doc) } catch { throw fail("document is not valid JSON: \(error)") }
            guard case .object = parsed else { throw fail("document must be a JSON object") }
            guard JCS.serialize(parsed) == doc else { throw fail("document is not in RFC 8785 canonical form") }
        } else {
            guard doc.first == 0x7B, doc.last == 0x7D, isValidUTF8(doc) else { throw fail("document is not a UTF-8 JSON object") }
        }
    }

    static func checkName(_ s: String, what: @autoclosure () -> String, allowColon: Bool, max: Int,
                          fail: (String) -> FormatError) throws(FormatError) {
        var copy = s
        // The message is built only on failure (`what` is an autoclosure): this runs per write.
        let problem: Int = copy.withUTF8 { utf8 in
            if utf8.isEmpty { return 1 }
            if utf8.count > max { return 2 }
            for b in utf8 {
                if b < 0x20 || b == 0x7F { return 3 }
                if !allowColon && b == 0x3A { return 4 }
            }
            return 0
        }
        switch problem {
        case 1: throw fail("\(what()) must not be empty")
        case 2: throw fail("\(what()) is longer than \(max) bytes")
        case 3: throw fail("\(what()) must not contain control characters")
        case 4: throw fail("\(what()) must not contain ':'")
        default: return
        }
    }
}

@inline(__always) func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
@inline(__always) func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
@inline(__always) func le64<C: Collection>(_ b: C) -> UInt64 where C.Element == UInt8 {
    var v: UInt64 = 0
    for (i, byte) in b.prefix(8).enumerated() { v |= UInt64(byte) << (8 * i) }
    return v
}
@inline(__always) func le32<C: Collection>(_ b: C) -> UInt32 where C.Element == UInt8 {
    var v: UInt32 = 0
    for (i, byte) in b.prefix(4).enumerated() { v |= UInt32(byte) << (8 * i) }
    return v
}

/// Checks UTF-8 validity without building a String.
func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}

extension RecordCodec {
    /// The field tags present in `record`, as a bit mask (bit = tag & 0x3F).
    public static func presentMask(_ r: Record) -> UInt64 {
        var m: UInt64 = 0
        func set(_ t: FieldTag) { m |= 1 << UInt64(t.rawValue & 0x3F) }
        if r.collection != nil { set(.collection) }
        if r.id != nil { set(.id) }
        if r.document != nil { set(.document) }
        if r.validFrom != nil { set(.validFrom) }
        if r.validTo != nil { set(.validTo) }
        if !r.causedBy.isEmpty { set(.causedBy) }
        if r.evidence != nil { set(.evidence) }
        if r.confidence != nil { set(.confidence) }
        if r.client != nil { set(.client) }
        if r.nonce != nil { set(.nonce) }
        if r.idempotencyKey != nil { set(.idempotencyKey) }
        if r.relation != nil { set(.relation) }
        if r.targetCollection != nil { set(.targetCollection) }
        if r.targetId != nil { set(.targetId) }
        if r.indexField != nil { set(.indexField) }
        if r.indexKind != nil { set(.indexKind) }
        if r.transaction != nil { set(.transaction) }
        if r.keyId != nil { set(.keyId) }
        if r.sealed != nil { set(.sealed) }
        if r.keyCommitment != nil { set(.keyCommitment) }
        if r.storeId != nil { set(.storeId) }
        if r.hashAlgorithm != nil { set(.hashAlgorithm) }
        if r.origin != nil { set(.origin) }
        if r.encryption != nil { set(.encryption) }
        if r.checkpointSeq != nil { set(.checkpointSeq) }
        if r.checkpointHash != nil { set(.checkpointHash) }
        if r.retentionSeq != nil { set(.retentionSeq) }
        if r.prunedCount != nil { set(.prunedCount) }
        if r.prunedType != nil { set(.prunedType) }
        if r.note != nil { set(.note) }
        if r.supersededBy != nil { set(.supersededBy) }
        if r.prunedBy != nil { set(.prunedBy) }
        if r.keyDigest != nil { set(.keyDigest) }
        if r.prunedFlags != nil { set(.prunedFlags) }
        if r.prunedSet != nil { set(.prunedSet) }
        return m
    }

    /// The field tags present in `record` (from `presentMask`: one list of fields, not two).
    public static func presentTags(_ r: Record) -> Set<FieldTag> {
        let mask = presentMask(r)
        return Set(FieldTag.allCases.filter { mask & (1 << UInt64($0.rawValue & 0x3F)) != 0 })
    }

    /// Checks a plaintext record before it is written, by the same rules a reader applies, so a
    /// writer never produces a record that readers reject. Documents must be canonical objects.
    public static func validateForWriting(_ record: Record, checkDocument: Bool = true) throws(FormatError) {
        let r = record
        let seq = record.seq
        // A local function capturing only the seq (a closure capturing the record would copy it).
        func fail(_ detail: String) -> FormatError { .malformed(Location(seq: seq), detail: detail) }
        if checkDocument, let d = r.document {
            guard case .object? = try? JSONParser.parse(d) else { throw fail("document must be a JSON object") }
            guard let parsed = try? JSONParser.parse(d), JCS.serialize(parsed) == d else {
                throw fail("document is not in RFC 8785 canonical form")
            }
        }
        guard r.type.isKnown || r.type.isIgnorable else { throw fail("unknown record type \(r.type)") }
        try validate(r, presentMask: presentMask(record), fail: fail)
        // Writer-only rules (§3.4): readers accept what revision 1.0 writers could write.
        if r.client?.isEmpty == true { throw fail("client must not be empty") }
        if r.idempotencyKey?.isEmpty == true { throw fail("idempotency key must not be empty") }
        if let o = r.origin { try checkName(o, what: "origin", allowColon: true, max: maxCollectionLength, fail: fail) }
        var size = 64 + (r.document?.count ?? 0) + (r.evidence?.utf8.count ?? 0) + (r.note?.utf8.count ?? 0) + (r.sealed?.count ?? 0)
        size += r.causedBy.count * 8 + (r.unknownFieldBytes?.count ?? 0) + r.extraFields.reduce(0) { $0 + $1.value.count + 6 }
        if size + 8192 > maxRecordLength, encodeBody(record).count + 1 > maxRecordLength {
            throw fail("record exceeds \(maxRecordLength) bytes")
        }
    }
}
