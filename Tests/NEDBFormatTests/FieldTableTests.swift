import Testing
import Foundation
@testable import NEDBFormat

/// The record fields are defined once in `FieldTag` (tag, name, fixed size); these tests tie that
/// table to the spec's table (spec/FORMAT.md §3.4) and to every path a field takes — encoding,
/// decoding, presence, JSON — through the vectors, so a field added in one place only fails here.
@Suite struct FieldTableTests {
    /// The rows of the field table of spec/FORMAT.md §3.4: tag → (name, value text).
    static func specTable() throws -> [UInt8: (name: String, value: String)] {
        let text = try String(contentsOfFile: Repo.root + "/spec/FORMAT.md", encoding: .utf8)
        guard let start = text.range(of: "### 3.4 Fields"), let end = text.range(of: "### 3.5", range: start.upperBound..<text.endIndex) else {
            Issue.record("spec/FORMAT.md has no §3.4 field table"); return [:]
        }
        var rows: [UInt8: (String, String)] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| `0x") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let tag = UInt8(cells[1].dropFirst(3).dropLast(), radix: 16) else { continue }
            #expect(rows[tag] == nil, "tag \(cells[1]) appears twice in the spec")
            rows[tag] = (cells[2], cells[3])
        }
        return rows
    }

    /// The fixed size the spec's value column states, nil for variable-length values.
    static func specSize(_ value: String) -> Int? {
        if value.contains("(12 bytes)") { return 12 }
        for (prefix, size) in [("`u64`", 8), ("`i64`", 8), ("IEEE-754 `f64`", 8), ("`u32`", 4), ("`u8`", 1), ("32 bytes", 32), ("16 bytes", 16)]
        where value.hasPrefix(prefix) { return size }
        return nil
    }

    @Test func theSpecTableIsTheCodeTable() throws {
        let spec = try Self.specTable()
        #expect(Set(spec.keys) == Set(FieldTag.allCases.map(\.rawValue)), "tags in the spec and in FieldTag differ")
        for tag in FieldTag.allCases {
            guard let row = spec[tag.rawValue] else { continue }
            #expect(row.name == tag.name, "0x\(String(tag.rawValue, radix: 16)): spec says \(row.name), code says \(tag.name)")
            #expect(Self.specSize(row.value) == tag.fixedSize, "\(tag.name): spec value \"\(row.value)\" vs fixed size \(tag.fixedSize.map(String.init) ?? "none")")
            #expect(tag.rawValue < 0x40, "presence masks hold tags below 0x40")
        }
    }

    /// Every record of the vectors decodes, re-encodes to the same bytes and shows every field it
    /// has in JSON under the table's name; together the vectors use every field.
    @Test func everyFieldTakesEveryPath() throws {
        var bodies: [(RecordType, [UInt8])] = []
        for v in try VectorTests.load("records.json").arrayValue ?? [] {
            bodies.append((RecordType(rawValue: UInt8(v["type_byte"]!.numberValue!)), VectorTests.bytes(v["body_hex"])))
        }
        let pruning = try VectorTests.load("pruning.json")
        bodies.append((.pruned, VectorTests.bytes(pruning["pruned_body_hex"])))
        let encryption = try VectorTests.load("encryption.json")
        bodies.append((.put, VectorTests.bytes(encryption["body_hex"])))
        var used = Set<FieldTag>()
        for (type, body) in bodies {
            let record = try RecordCodec.decode(type: type, bytes: body, bodyStart: 0, bodyEnd: body.count)
            #expect(RecordCodec.encodeBody(record) == body, "seq \(record.seq) does not re-encode to its bytes")
            let tags = RecordCodec.presentTags(record)
            let json = RecordJSON.encode(record)
            for tag in tags { #expect(json[tag.name] != nil, "\(type) record: JSON lacks \(tag.name)") }
            used.formUnion(tags)
        }
        #expect(used == Set(FieldTag.allCases), "no vector uses \(Set(FieldTag.allCases).subtracting(used).map(\.name).sorted())")
    }
}

/// The hand-written fast codec agrees with the table-driven reference on every field: random
/// values of every field's kind encode to the same bytes, decode to the same record, and have
/// the same presence mask. A field added to the table but not to the fast paths fails here.
@Suite struct FastCodecMatchesTheTableTests {
    static func randomValue(_ tag: FieldTag, _ g: inout SystemRandomNumberGenerator) -> FieldValue {
        func text(_ n: Int) -> String { String((0..<Int.random(in: 1...n, using: &g)).map { _ in "abcé:_-7".randomElement(using: &g)! }) }
        switch tag.kind {
        case let .name(max, _): return .text(text(min(max, 12)).replacingOccurrences(of: ":", with: tag == .collection || tag == .targetCollection ? "c" : ":"))
        case let .text(max): return .text(text(min(max, 40)))
        case .document: return .bytes(JCS.serialize(["k": .number(Double(Int.random(in: 0...1000, using: &g)))]))
        case let .opaque(minimum): return .bytes((0..<(minimum + Int.random(in: 0...20, using: &g))).map { _ in UInt8.random(in: 0...255, using: &g) })
        case .seqs: return .seqs((0..<Int.random(in: 1...4, using: &g)).map { UInt64($0) * 3 + 1 })
        case .u64: return .u64(UInt64.random(in: 0...UInt64.max, using: &g))
        case .time: return .i64(Int64.random(in: Int64.min...Int64.max, using: &g))
        case .f64: return .f64(Double.random(in: 0...1, using: &g))
        case .u32: return .u32(UInt32.random(in: 0...UInt32.max, using: &g))
        case .code:
            switch tag {
            case .indexKind: return .u8(UInt8.random(in: 1...3, using: &g))
            case .hashAlgorithm: return .u8(UInt8.random(in: 1...2, using: &g))
            case .encryption: return .u8(UInt8.random(in: 0...1, using: &g))
            case .prunedFlags: return .u8(UInt8.random(in: 0...1, using: &g))
            default: return .u8([0x02, 0x03, 0x04].randomElement(using: &g)!)
            }
        case .hash: return .hash(Hash32(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) })!)
        case .storeId: return .bytes((0..<16).map { _ in UInt8.random(in: 0...255, using: &g) })
        case .transaction: return .transaction(TransactionMark(firstSeq: UInt64.random(in: 0...1000, using: &g), count: UInt32.random(in: 1...9, using: &g)))
        }
    }

    @Test func randomRecordsAgreeFieldByField() throws {
        var g = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var r = Record(type: .put, seq: UInt64(round), time: Int64(round))
            var chosen: [FieldTag] = []
            for tag in FieldTag.ordered where round < 2 || Bool.random(using: &g) {
                #expect(r.set(tag, Self.randomValue(tag, &g)) == nil)
                chosen.append(tag)
            }
            if round % 3 == 0 { r.extraFields = [ExtraField(tag: 0x90, value: [1, 2]), ExtraField(tag: 0x85, value: [])] }
            var fast = ByteWriter(), table = ByteWriter()
            RecordCodec.encodeFields(r, into: &fast) { _ in true }
            TableCodec.encodeFields(r, into: &table) { _ in true }
            #expect(fast.bytes == table.bytes, "round \(round): \(chosen.map(\.name))")
            #expect(RecordCodec.presentMask(r) == TableCodec.presentMask(r))
            #expect(Set(chosen) == RecordCodec.presentTags(r))
            // Field by field, both decoders build the same record from the same bytes.
            var reader = ByteReader(fast.bytes)
            var a = Record(type: .put, seq: r.seq, time: r.time), b = a
            while !reader.isAtEnd {
                let raw = try reader.u8(), length = Int(try reader.uvarint()), start = reader.position
                try reader.skip(length)
                guard let tag = FieldTag(rawValue: raw) else { continue }
                let value = fast.bytes[start..<(start + length)]
                let fail = { (m: String) in FormatError.malformed(Location(), detail: m) }
                try RecordCodec.assign(tag, value, to: &a, fail: fail, options: RecordCodec.Options())
                try TableCodec.assign(tag, value, to: &b, fail: fail)
            }
            var expected = r
            expected.extraFields = []
            #expect(a == b && a == expected, "round \(round)")
        }
    }
}

/// Every field of kind `.name` is checked by `RecordCodec.checkValues` (empty, control
/// characters, too long, `:` where not allowed) — the fast check lists them by hand.
@Suite struct NameRulesFollowTheTableTests {
    @Test func everyNameFieldIsChecked() {
        for tag in FieldTag.ordered {
            guard case let .name(max, colon) = tag.kind else { continue }
            var bad = ["", "a\u{1}b", String(repeating: "x", count: max + 1)]
            if !colon { bad.append("a:b") }
            for text in bad {
                var r = Record(type: .put, seq: 1, time: 0)
                _ = r.set(tag, .text(text))
                #expect(throws: FormatError.self, "\(tag.name) = \(text.debugDescription)") {
                    try RecordCodec.checkValues(r) { .malformed(Location(), detail: $0) }
                }
            }
            var good = Record(type: .put, seq: 1, time: 0)
            _ = good.set(tag, .text(colon ? "a:b" : "ab"))
            #expect(throws: Never.self) { try RecordCodec.checkValues(good) { .malformed(Location(), detail: $0) } }
        }
    }
}
