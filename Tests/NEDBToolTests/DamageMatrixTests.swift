import Testing
import Foundation
import NEDB

/// The damage matrix (issue: every read is a checked read). Each kind of change to the files of
/// a store — in a sealed and in the active segment, with and without a checkpoint — is applied
/// to a copy of a cleanly closed store; then every read command of `nedb` and the `Reader` API
/// must give either exactly the answer of the undamaged store or exit 3 (a thrown damage error)
/// naming a spec error id. Never a different answer.
@Suite(.serialized) struct DamageMatrixTests {
    /// Where a change is made.
    enum Target: String, CaseIterable, Sendable { case sealed, active }

    /// What a cell of the matrix must do.
    enum Outcome: Equatable, CustomStringConvertible {
        /// The same answer as the undamaged store.
        case answers
        /// Exit 3 naming one of these ids.
        case refuses(Set<String>)
        var description: String {
            switch self {
            case .answers: return "answers"
            case let .refuses(ids): return "refuses \(ids.sorted())"
            }
        }
    }

    /// The read commands, each with the arguments after the directory.
    static let commands: [[String]] = [
        ["get", "users", "u3"], ["get", "users", "u17"], ["get", "users", "u29"],
        ["query", #"FROM users WHERE status = "active" ORDER BY n DESC"#],
        ["query", "FROM users GROUP BY status COUNT", "--json"],
        ["query", #"FROM users WHERE _id = "u1" TRAVERSE follows"#],
        ["export"], ["history", "users", "u5"], ["history", "users", "u22"], ["head"], ["status", "--json"],
    ]

    static let ids = (0..<30).map { "u\($0)" }

    /// Builds the base store: ~7 sealed segments and an active one, closed cleanly (so MANIFEST
    /// and REPLAY describe all of it), with a checkpoint after the second segment if asked.
    static func makeBase(_ dir: String, checkpoint: Bool) throws {
        var options = DatabaseOptions()
        options.segmentSize = 6 * 1024
        options.checkpointEvery = nil
        options.durability = .none
        let db = try Database.open(dir, options: options)
        try db.createIndex("users", "status", .eq)
        for i in 0..<160 {
            let id = ids[(i * 7) % ids.count]
            try db.put("users", id, ["n": .number(Double(i)), "status": .string(i % 3 == 0 ? "active" : "idle"),
                                     "note": .string(String(repeating: "x", count: i % 40))])
            if i % 23 == 22 { try db.delete("users", ids[(i * 5) % ids.count]) }
            if i % 31 == 30 { try db.link("users:u1", "follows", "users:\(ids[i % ids.count])") }
            if checkpoint && i == 45 { try db.checkpoint() }
        }
        try db.close()
    }

    /// A copy of a base store to damage.
    final class DamagedStore: @unchecked Sendable {
        let dir: String
        init(dir: String) { self.dir = dir }
        var segments: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/segments")) ?? []).filter { $0.hasSuffix(".nseg") }.sorted()
        }
        func segmentPath(_ target: Target) -> String {
            let names = segments
            // The active segment is the last; the sealed target the second (a middle one).
            return dir + "/segments/" + (target == .active ? names[names.count - 1] : names[1])
        }
        func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
        func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
        /// (offset, length) of every frame of a plain segment.
        func frames(_ path: String) throws -> [(offset: Int, length: Int)] {
            let segment = try SegmentFile.open(fs: PosixFileSystem(), path: path)
            var scanner = segment.scanner()
            var out: [(Int, Int)] = []
            while let event = try scanner.next() {
                if case let .record(f) = event { out.append((Int(f.offset), f.view.frameLength)) }
            }
            return out
        }
        func edit(_ path: String, _ body: (inout [UInt8], [(offset: Int, length: Int)]) throws -> Void) throws {
            var bytes = try read(path)
            try body(&bytes, path.hasSuffix(".nseg") ? try frames(path) : [])
            try write(bytes, path)
        }
    }

    static func fixCRC(_ b: inout [UInt8], _ offset: Int, _ length: Int) {
        let crc = b.withUnsafeBytes { Frame.crc32(frame: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)])) }
        for i in 0..<4 { b[offset + 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    /// Recomputes the chain hash (from `previous`) and CRC of the frame at `offset`; returns the hash.
    @discardableResult
    static func rehash(_ b: inout [UInt8], _ offset: Int, _ length: Int, previous: [UInt8]) -> [UInt8] {
        let bodyEnd = offset + length - 32
        let chain = b.withUnsafeBytes { raw in
            ChainHasher(.blake2b256).chain(previous: Hash32(bytes: previous)!, typeAndBody: UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<bodyEnd]))
        }
        for (i, byte) in chain.bytes.enumerated() { b[bodyEnd + i] = byte }
        fixCRC(&b, offset, length)
        return chain.bytes
    }

    /// Every damage to one target segment, with the id every read must refuse it with.
    static func damages(_ target: Target) -> [(String, Outcome, @Sendable (DamagedStore) throws -> Void)] {
        let sealed = target == .sealed
        return [
            ("flip", .refuses(["checksum_mismatch"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in b[f[f.count / 2].offset + 30] ^= 0x10 }
            }),
            // Sealed: the footer goes with the cut, so the segment looks unsealed but is not the
            // last. Active: the REPLAY and MANIFEST written at close show the log reached further.
            ("cut mid-frame", .refuses(sealed ? ["malformed"] : ["missing_data"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in b.removeLast(b.count - (f[f.count / 2].offset + 20)) }
            }),
            ("cut at a frame boundary", .refuses(sealed ? ["malformed"] : ["missing_data"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in b.removeLast(b.count - f[f.count / 2].offset) }
            }),
            ("cut in the middle, valid frames after", .refuses(sealed ? ["malformed", "footer_mismatch"] : ["checksum_mismatch"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let m = f.count / 2
                    b.removeSubrange((f[m].offset + 20)..<(f[m + 1].offset + 20))
                }
            }),
            ("512 zero bytes in the middle", .refuses(["checksum_mismatch"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let start = f[f.count / 3].offset + 5
                    for i in start..<min(b.count - 64, start + 512) { b[i] = 0 }
                }
            }),
            ("frame copied over the next", .refuses(["chain_break"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let m = f.count / 2
                    let copy = Array(b[f[m].offset..<(f[m].offset + f[m].length)])
                    for (i, byte) in copy.enumerated() where f[m + 1].offset + i < b.count { b[f[m + 1].offset + i] = byte }
                }
            }),
            ("record re-hashed with its CRC fixed", .refuses(["hash_mismatch"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let m = f.count / 2
                    b[f[m].offset + f[m].length - 40] ^= 0x01      // a byte of the body
                    let previous = Array(b[(f[m - 1].offset + f[m - 1].length - 32)..<(f[m - 1].offset + f[m - 1].length)])
                    rehash(&b, f[m].offset, f[m].length, previous: previous)
                }
            }),
            // Nothing follows the record in its segment: the footer (sealed) or the chain hash
            // REPLAY and MANIFEST recorded (active) shows it.
            ("last record edited, re-hashed, CRC fixed", .refuses(["chain_break"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let m = f.count - 1
                    b[f[m].offset + f[m].length - 40] ^= 0x01
                    let previous = Array(b[(f[m - 1].offset + f[m - 1].length - 32)..<(f[m - 1].offset + f[m - 1].length)])
                    rehash(&b, f[m].offset, f[m].length, previous: previous)
                }
            }),
            ("segment rewritten consistently after an edit", .refuses(["chain_break"]), { s in
                try s.edit(s.segmentPath(target)) { b, f in
                    let m = f.count / 2
                    b[f[m].offset + f[m].length - 40] ^= 0x01
                    var previous = Array(b[(f[m - 1].offset + f[m - 1].length - 32)..<(f[m - 1].offset + f[m - 1].length)])
                    for k in m..<f.count { previous = rehash(&b, f[k].offset, f[k].length, previous: previous) }
                }
            }),
            ("segment deleted", .refuses(sealed ? ["missing_segment"] : ["missing_data"]), { s in
                try FileManager.default.removeItem(atPath: s.segmentPath(target))
            }),
            ("segment duplicated", .refuses(sealed ? ["missing_segment"] : ["malformed"]), { s in
                let path = s.segmentPath(target)
                let first = UInt64(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)! + 1
                try FileManager.default.copyItem(atPath: path, toPath: s.dir + "/segments/" + SegmentName.make(firstSeq: first))
            }),
            ("segments swapped", .refuses(["missing_segment"]), { s in
                let names = s.segments
                let a = s.segmentPath(target)
                let b = s.dir + "/segments/" + (target == .active ? names[names.count - 2] : names[2])
                try FileManager.default.moveItem(atPath: a, toPath: a + ".swap")
                try FileManager.default.moveItem(atPath: b, toPath: a)
                try FileManager.default.moveItem(atPath: a + ".swap", toPath: b)
            }),
        ]
    }

    /// Derived files that say the log reached further than it does (checksums fixed): they
    /// are evidence of a rollback, never rebuilt away.
    static let forgedWitnesses: [(String, @Sendable (DamagedStore) throws -> Void)] = [
        ("REPLAY claims a later seq", { s in
            try s.edit(s.dir + "/REPLAY") { b, _ in
                b[32] &+= 5
                let crc = CRC32C.checksum(Array(b[0..<(b.count - 4)]))
                for i in 0..<4 { b[b.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            }
        }),
        ("MANIFEST lists a later sealed segment", { s in
            let path = s.dir + "/MANIFEST"
            var m = try Manifest.decode(try s.read(path))
            let last = m.segments[m.segments.count - 1]
            m.segments[m.segments.count - 1] = Manifest.Entry(segmentNumber: last.segmentNumber, firstSeq: last.firstSeq,
                                                               lastSeq: last.firstSeq + 500, state: .sealed, fileSize: 4096, chainHead: .zero)
            try s.write(m.encode(), path)
        }),
    ]

    /// Changes to derived files: the answers must stay the same.
    static let derivedDamages: [(String, @Sendable (DamagedStore) throws -> Void)] = [
        ("MANIFEST byte flipped", { s in try s.edit(s.dir + "/MANIFEST") { b, _ in b[60] ^= 0x01 } }),
        ("MANIFEST deleted", { s in try FileManager.default.removeItem(atPath: s.dir + "/MANIFEST") }),
        ("REPLAY byte flipped", { s in try s.edit(s.dir + "/REPLAY") { b, _ in b[50] ^= 0x01 } }),
        ("REPLAY deleted", { s in try FileManager.default.removeItem(atPath: s.dir + "/REPLAY") }),
        ("checkpoint payload byte flipped", { s in try s.editCheckpoint { b in b[200 + b.count / 3] ^= 0x01 } }),
        ("checkpoint header byte flipped", { s in try s.editCheckpoint { b in b[100] ^= 0x01 } }),
        ("checkpoint truncated", { s in try s.editCheckpoint { b in b.removeLast(100) } }),
    ]

    struct Answer: Equatable { let code: Int32; let out: String }

    /// Runs every command; returns (code, stdout with the directory name normalised).
    static func answers(_ dir: String) throws -> [Answer] {
        try commands.map { c in
            let r = try Tools.run("nedb", [c[0], dir] + c.dropFirst())
            return Answer(code: r.code, out: normalise(r.out, dir))
        }
    }

    /// Status names the path and lists notes (which a damaged derived file adds): dropped here.
    static func normalise(_ text: String, _ dir: String) -> String {
        guard text.hasPrefix("{"), var value = try? JSONParser.parse(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              case var .object(fields) = value, fields["path"] != nil else { return text.replacingOccurrences(of: dir, with: "DIR") }
        fields["path"] = nil
        fields["notes"] = nil
        fields["checkpoints"] = nil
        value = .object(fields)
        return value.canonicalText
    }

    /// The Reader API's view: every document at the head, or the damage it was refused with.
    static func readerView(_ dir: String) -> Result<[JSONValue?], DatabaseError> {
        do {
            let reader = try Reader.open(dir)
            return .success(try ids.map { try reader.get("users", $0)?.json })
        } catch let e as DatabaseError {
            return .failure(e)
        } catch {
            return .failure(.invalid("\(error)"))
        }
    }

    @Test(arguments: [false, true])
    func everyDamageGivesTheRightAnswerOrNamesTheIssue(withCheckpoint: Bool) throws {
        let scratch = Scratch()
        let base = scratch.sub("base")
        try DamageMatrixTests.makeBase(base, checkpoint: withCheckpoint)
        #expect(try Tools.run("nedb-verify", [base]).code == 0)
        let expected = try DamageMatrixTests.answers(base)
        #expect(expected.allSatisfy { $0.code == 0 }, "the base store must answer every command")
        let expectedReader = DamageMatrixTests.readerView(base)
        guard case let .success(expectedDocs) = expectedReader else { Issue.record("reader: \(expectedReader)"); return }
        let validIds: Set<String> = ["torn_tail", "checksum_mismatch", "hash_mismatch", "chain_break", "missing_segment",
                                     "reordered_segment", "unsupported_version", "wrong_key", "decryption_failed", "malformed",
                                     "bad_magic", "truncated", "footer_mismatch", "manifest_mismatch", "checkpoint_mismatch",
                                     "missing_data", "io_error"]
        var cells = 0, answered = 0, refused = 0
        var summary: [String] = []
        var cases: [(String, Outcome, @Sendable (DamagedStore) throws -> Void)] = []
        for target in Target.allCases {
            for (name, outcome, apply) in DamageMatrixTests.damages(target) { cases.append(("\(name) (\(target.rawValue))", outcome, apply)) }
        }
        for (name, apply) in DamageMatrixTests.derivedDamages where withCheckpoint || !name.hasPrefix("checkpoint") {
            cases.append((name, .answers, apply))
        }
        for (name, apply) in DamageMatrixTests.forgedWitnesses { cases.append((name, .refuses(["missing_data"]), apply)) }
        for (i, (name, outcome, apply)) in cases.enumerated() {
            let dir = scratch.sub("case\(i)")
            try FileManager.default.copyItem(atPath: base, toPath: dir)
            try apply(DamagedStore(dir: dir))
            var caseSummary = Set<String>()
            for (c, want) in zip(DamageMatrixTests.commands, expected) {
                let r = try Tools.run("nedb", [c[0], dir] + c.dropFirst())
                caseSummary.insert(r.code == 0 ? "answers" : (r.err.split(separator: "]").first.map { String($0.drop { $0 != "[" }) + "]" } ?? "?"))
                cells += 1
                if r.code == 0 {
                    answered += 1
                    #expect(DamageMatrixTests.normalise(r.out, dir) == want.out, "\(name): nedb \(c.joined(separator: " ")) answered wrongly")
                    if case .refuses = outcome { Issue.record("\(name): nedb \(c[0]) answered (exit 0) where it must refuse") }
                } else {
                    refused += 1
                    #expect(r.code == 3, "\(name): nedb \(c[0]) exit \(r.code): \(r.err)")
                    let named = validIds.filter { r.err.contains("[\($0)]") }
                    #expect(!named.isEmpty, "\(name): nedb \(c[0]) names no issue id: \(r.err)")
                    if named.isEmpty { continue }
                    if case let .refuses(ids) = outcome {
                        #expect(!named.isDisjoint(with: ids), "\(name): nedb \(c[0]) named \(named.sorted()), expected one of \(ids.sorted())")
                    }
                    if outcome == .answers { Issue.record("\(name): nedb \(c[0]) refused where it must answer: \(r.err)") }
                    // The message locates the issue: a file, and an offset or a seq.
                    #expect(r.err.contains(dir) && (r.err.contains("seq ") || r.err.contains("offset ")), "\(name): unlocated: \(r.err)")
                }
            }
            summary.append("\(name): \(caseSummary.sorted().joined(separator: " "))")
            cells += 1
            switch DamageMatrixTests.readerView(dir) {
            case let .success(docs):
                answered += 1
                #expect(docs == expectedDocs, "\(name): Reader answered wrongly")
                if case .refuses = outcome { Issue.record("\(name): Reader answered where it must refuse") }
            case let .failure(error):
                refused += 1
                #expect(error.damage != nil, "\(name): Reader failed without a damage error: \(error)")
                if let id = error.damage?.id, case let .refuses(ids) = outcome {
                    #expect(ids.contains(id), "\(name): Reader refused with \(id), expected one of \(ids.sorted())")
                }
                if outcome == .answers { Issue.record("\(name): Reader refused where it must answer: \(error)") }
            }
            // A write never proceeds on a damaged store, and never erases the evidence.
            if outcome != .answers {
                let put = try Tools.run("nedb", ["put", dir, "users", "new", #"{"n": 1}"#])
                if put.code == 0 {
                    Issue.record("\(name): a put succeeded on a damaged store")
                } else {
                    #expect(put.code == 3, "\(name): put exit \(put.code)")
                }
                #expect(try Tools.run("nedb-verify", [dir]).code != 0, "\(name): nedb-verify says ok")
            }
        }
        for line in summary { print("  " + line) }
        print("damage matrix (checkpoint: \(withCheckpoint)): \(cases.count) damages, \(cells) cells: \(answered) correct answers, \(refused) refusals naming the issue")
    }
}

extension DamageMatrixTests.DamagedStore {
    func editCheckpoint(_ body: (inout [UInt8]) -> Void) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").filter { $0.hasSuffix(".nckp") }.sorted()
        let path = dir + "/checkpoints/" + names[names.count - 1]
        var bytes = try read(path)
        body(&bytes)
        try write(bytes, path)
    }
}
