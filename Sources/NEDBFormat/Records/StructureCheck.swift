/// A fast structural check of a record body that allocates nothing: seq and time present, tags
/// strictly ascending, no unknown critical tag, lengths inside the body, fixed-size fields the
/// right size, and the type's required fields present. Used by full verification; decoding
/// (`RecordCodec.decode`) checks everything else.
public enum StructureCheck {
    /// Returns nil when the body is well-formed, else what is wrong.
    public static func check(type: RecordType, body: UnsafeRawBufferPointer) -> String? {
        guard body.count >= 16 else { return "record body shorter than seq and time" }
        if !type.isKnown {
            return type.isIgnorable ? nil : "unknown record type 0x\(String(type.rawValue, radix: 16)) is not marked ignorable"
        }
        var position = 16
        var last = -1
        var present: UInt64 = 0      // bit per known tag below 64
        var sealed = false
        while position < body.count {
            let tag = body[position]
            position += 1
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < body.count else { return "field 0x\(String(tag, radix: 16)) length runs past the body" }
                let b = body[position]
                position += 1
                length |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                if shift > 28 { return "field 0x\(String(tag, radix: 16)) length is too long" }
            }
            guard length <= UInt64(body.count - position) else { return "field 0x\(String(tag, radix: 16)) overruns the body" }
            guard Int(tag) > last else { return "field tags must be strictly ascending" }
            last = Int(tag)
            if let known = FieldTag(rawValue: tag) {
                if let size = fixedSize(known), Int(length) != size {
                    return "field \(known) must be \(size) bytes, found \(length)"
                }
                if known == .sealed { sealed = true }
                present |= 1 << UInt64(tag & 0x3F)
            } else if !FieldTag.isIgnorable(tag) {
                return "unknown critical field tag 0x\(String(tag, radix: 16))"
            }
            position += Int(length)
        }
        let required = sealed ? sealedRequiredMask : requiredMasks[Int(type.rawValue)]
        if present & required != required, let rules = sealed ? RecordRules.sealedOuter : RecordRules.plaintext(type) {
            for tag in rules.required.sorted(by: { $0.rawValue < $1.rawValue })
            where present & (1 << UInt64(tag.rawValue & 0x3F)) == 0 {
                return "\(type) record lacks required field \(tag)"
            }
        }
        return nil
    }

    /// The transaction mark of a body that passed `check`, read in place (nil when it has none).
    public static func transactionMark(body: UnsafeRawBufferPointer) -> TransactionMark? {
        var position = 16
        while position < body.count {
            let tag = body[position]
            position += 1
            var length = 0
            var shift = 0
            while position < body.count {
                let b = body[position]
                position += 1
                length |= Int(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                if shift > 28 { return nil }
            }
            if tag == FieldTag.transaction.rawValue {
                guard length == 12, position + 12 <= body.count else { return nil }
                var first: UInt64 = 0, count: UInt32 = 0
                for i in 0..<8 { first |= UInt64(body[position + i]) << (8 * UInt64(i)) }
                for i in 0..<4 { count |= UInt32(body[position + 8 + i]) << (8 * UInt32(i)) }
                return TransactionMark(firstSeq: first, count: count)
            }
            if tag > FieldTag.transaction.rawValue { return nil }
            guard length <= body.count - position else { return nil }
            position += length
        }
        return nil
    }

    static func mask(_ tags: Set<FieldTag>) -> UInt64 {
        tags.reduce(0) { $0 | 1 << UInt64($1.rawValue & 0x3F) }
    }

    /// Required-field bit masks by record type byte (tags are below 0x40, one bit each).
    static let requiredMasks: [UInt64] = (0..<256).map { raw in
        RecordRules.plaintext(RecordType(rawValue: UInt8(raw))).map { mask($0.required) } ?? 0
    }
    static let sealedRequiredMask = mask(RecordRules.sealedOuter.required)
    static let sealedAllowedMask = mask(RecordRules.sealedOuter.required.union(RecordRules.sealedOuter.optional))
    /// Allowed-field (required or optional) masks by type byte.
    static let allowedMasks: [UInt64] = (0..<256).map { raw in
        RecordRules.plaintext(RecordType(rawValue: UInt8(raw))).map { mask($0.required.union($0.optional)) } ?? 0
    }

    static func fixedSize(_ tag: FieldTag) -> Int? { tag.fixedSize }
}
