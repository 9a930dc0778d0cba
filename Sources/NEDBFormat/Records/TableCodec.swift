/// The table-driven codec (`FieldTag.kind`, `Record.value(_:)`, `Record.set(_:_:)`): the reference
/// that the hand-written fast paths of `RecordCodec` are tested against (FieldTableTests), so the
/// field table and the codec cannot drift. Slower (a value enum per field), so not on the hot path.
enum TableCodec {
    /// Writes the fields of `record` whose tag passes `include`, in ascending tag order (the
    /// table's order), interleaving ignorable extra fields at their tag positions.
    static func encodeFields(_ r: Record, into w: inout ByteWriter, include: (FieldTag) -> Bool) {
        var extras = ExtraFieldWriter(r.extraFields)
        for tag in FieldTag.ordered {
            guard let value = r.value(tag), include(tag) else { continue }
            if extras.pending { extras.write(below: Int(tag.rawValue), into: &w) }
            w.u8(tag.rawValue)
            switch value {
            case let .text(s): w.uvarint(UInt64(s.utf8.count)); w.append(s.utf8)
            case let .bytes(b): w.uvarint(UInt64(b.count)); w.append(b)
            case let .seqs(v): w.uvarint(UInt64(v.count * 8)); for c in v { w.u64(c) }
            case let .u64(v): w.uvarint(8); w.u64(v)
            case let .i64(v): w.uvarint(8); w.i64(v)
            case let .f64(v): w.uvarint(8); w.u64(v.bitPattern)
            case let .u32(v): w.uvarint(4); w.u32(v)
            case let .u8(v): w.uvarint(1); w.u8(v)
            case let .hash(h): w.uvarint(32); w.hash(h)
            case let .transaction(t): w.uvarint(12); w.u64(t.firstSeq); w.u32(t.count)
            }
        }
        extras.write(below: 0x100, into: &w)
    }

    /// Decodes one field value by the table into `r` (the reference for `RecordCodec`'s decoding).
    static func assign(_ tag: FieldTag, _ v: ArraySlice<UInt8>, to r: inout Record, checkCanonicalDocuments: Bool = true,
                              fail: (String) -> FormatError) throws(FormatError) {
        try assign(tag, v, to: &r, fail: fail, options: RecordCodec.Options(checkCanonicalDocuments: checkCanonicalDocuments))
    }

    /// Parses one field's value by its kind (the table) and stores it in the record.
    static func assign(_ tag: FieldTag, _ v: ArraySlice<UInt8>, to r: inout Record,
                               fail: (String) -> FormatError, options: RecordCodec.Options) throws(FormatError) {
        if let size = tag.fixedSize, v.count != size { throw fail("field \(tag) must be \(size) bytes, found \(v.count)") }
        let value: FieldValue
        switch tag.kind {
        case let .name(max, _), let .text(max):
            guard let s = String(validating: v, as: UTF8.self) else { throw fail("field \(tag) is not valid UTF-8") }
            guard v.count <= max else { throw fail("field \(tag) is longer than \(max) bytes") }
            value = .text(s)
        case .document:
            let doc = Array(v)
            try RecordCodec.checkDocument(doc, canonical: options.checkCanonicalDocuments, fail: fail)
            value = .bytes(doc)
        case let .opaque(minimum):
            guard v.count >= minimum else { throw fail("sealed field shorter than nonce and tag") }
            value = .bytes(Array(v))
        case .seqs:
            guard v.count % 8 == 0, !v.isEmpty else { throw fail("caused_by must be a non-empty multiple of 8 bytes") }
            value = .seqs(stride(from: v.startIndex, to: v.endIndex, by: 8).map { le64(v[$0..<($0 + 8)]) })
        case .u64: value = .u64(le64(v))
        case .time: value = .i64(Int64(bitPattern: le64(v)))
        case .f64: value = .f64(Double(bitPattern: le64(v)))
        case .u32: value = .u32(le32(v))
        case .code: value = .u8(v[v.startIndex])
        case .hash:
            guard let h = Hash32(bytes: v) else { throw fail("field \(tag) must be 32 bytes") }
            value = .hash(h)
        case .storeId: value = .bytes(Array(v))
        case .transaction:
            value = .transaction(TransactionMark(firstSeq: le64(v[v.startIndex..<(v.startIndex + 8)]), count: le32(v[(v.startIndex + 8)...])))
        }
        if let problem = r.set(tag, value) { throw fail(problem) }
    }

    /// The presence mask by the table.
    static func presentMask(_ r: Record) -> UInt64 {
        var m: UInt64 = 0
        for tag in FieldTag.ordered where r.value(tag) != nil { m |= 1 << UInt64(tag.rawValue & 0x3F) }
        return m
    }
}
