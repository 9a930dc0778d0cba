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
