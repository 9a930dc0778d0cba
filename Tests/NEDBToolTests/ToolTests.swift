import Testing
import Foundation
import NEDBState
import NEDB
import NEDBStore

/// Runs the built executables against fixtures and freshly made stores.
enum Tools {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var fixtures: String { root.appendingPathComponent("fixtures").path }

    static func binary(_ name: String) -> String {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/\(name)").path
    }

    struct Result { let code: Int32; let out: String; let err: String }

    @discardableResult
    static func run(_ tool: String, _ args: [String], env: [String: String] = [:], input: String? = nil) throws -> Result {
        let p = Process()
        if tool.hasSuffix(".py") {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", root.appendingPathComponent("tools/\(tool)").path] + args
        } else {
            p.executableURL = URL(fileURLWithPath: binary(tool))
            p.arguments = args
        }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(code: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }
}

final class Scratch {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("nedb-tools-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ s: String) -> String { path + "/" + s }
}

/// A store with users whose documents change over time.
func makeStore(_ dir: String, records: Int = 300, segmentSize: UInt64 = 8 * 1024, key: [UInt8]? = nil) throws {
    var options = StoreOptions()
    options.segmentSize = segmentSize
    options.durability = .none
    if let key { options.key = .raw(key) }
    let store = try LogStore.open(dir, options: options)
    for i in 0..<records {
        var r = Record(type: .put, seq: 0, time: 0)
        r.collection = "users"
        r.id = "u\(i % 40)"
        r.document = JCS.serialize(["n": .number(Double(i)), "name": .string("user \(i % 40)")])
        try store.append(r)
        if i % 50 == 49 {
            var d = Record(type: .delete, seq: 0, time: 0)
            d.collection = "users"; d.id = "u\(i % 7)"
            try store.append(d)
        }
    }
    try store.close()
}

@Suite(.serialized) struct ToolTests {
    @Test func verifyReportsEveryFixtureAsExpected() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Tools.fixtures).filter { $0.hasSuffix(".expected") }
        #expect(names.count >= 14)
        for name in names {
            let store = String(name.dropLast(".expected".count))
            let expected = try Tools.json(String(contentsOfFile: Tools.fixtures + "/" + name, encoding: .utf8))
            let result = try Tools.run("nedb-verify", [Tools.fixtures + "/" + store, "--json"])
            #expect(Double(result.code) == expected["exit_code"]?.numberValue, "\(store): \(result.err)")
            let report = try Tools.json(result.out)
            let ids = Set(report["issues"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
            let wanted = Set(expected["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(ids == wanted, "\(store): \(ids) vs \(wanted)")
            if let head = expected["head_seq"]?.numberValue { #expect(report["head"]?["seq"]?.numberValue == head, "\(store)") }
        }
    }

    /// Each fixture's `reads`: a reader either answers (nothing wrong, or only an interrupted
    /// write or derived data) or refuses with a damage error; `nedb head` agrees.
    @Test func readersAnswerOrRefuseEveryFixtureAsExpected() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Tools.fixtures).filter { $0.hasSuffix(".expected") }
        for name in names {
            let store = String(name.dropLast(".expected".count))
            let expected = try Tools.json(String(contentsOfFile: Tools.fixtures + "/" + name, encoding: .utf8))
            let dir = Tools.fixtures + "/" + store
            var key: KeySource? = nil
            if let file = expected["key_file"]?.stringValue { key = .keyFile(Tools.fixtures + "/" + file) }
            let answers = expected["reads"]?.stringValue == "answer"
            let outcome = RepairTests.readOutcome(dir, key: key)
            #expect(answers ? outcome == "answer" : outcome.hasPrefix("damage "), "\(store): \(outcome)")
            var args = ["head", dir]
            if let file = expected["key_file"]?.stringValue { args += ["--key-file", Tools.fixtures + "/" + file] }
            let head = try Tools.run("nedb", args)
            #expect(head.code == (answers ? 0 : 3), "\(store): nedb head exit \(head.code): \(head.err)")
            // The forensic view reports every problem verification finds (a rollback included).
            var dumpArgs = [dir]
            if let file = expected["key_file"]?.stringValue { dumpArgs += ["--key-file", Tools.fixtures + "/" + file] }
            let dump = try Tools.run("nedb-dump", dumpArgs)
            let errors = expected["errors"]?.arrayValue ?? []
            #expect((dump.code == 0) == errors.isEmpty, "\(store): nedb-dump exit \(dump.code)")
            for id in errors.compactMap(\.stringValue) { #expect(dump.out.contains("[\(id)]"), "\(store): nedb-dump does not name \(id)") }
        }
    }

    /// Every input a fuzzer ever found a bug with (tools/fuzz/regressions/TARGET/) runs through
    /// its harness again, in an ordinary build: each must come back normally.
    @Test func fuzzRegressionsStayFixed() throws {
        let dir = Tools.root.appendingPathComponent("tools/fuzz/regressions").path
        let targets = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(!targets.isEmpty)
        for target in targets {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/" + target).sorted().map { dir + "/" + target + "/" + $0 }
            let r = try Tools.run("nedb-fuzz", [target] + files)
            #expect(r.code == 0 && r.out.contains("replayed \(files.count) inputs"), "\(target): \(r.out) \(r.err)")
        }
    }

    @Test func usageAndKeyErrorsHaveTheirExitCodes() throws {
        #expect(try Tools.run("nedb-verify", []).code == 2)
        #expect(try Tools.run("nedb-verify", [Tools.fixtures + "/valid-small", "--max-issues", "0"]).code == 2)
        #expect(try Tools.run("nedb-verify", ["/nonexistent/store"]).code == 3)
        #expect(try Tools.run("nedb-verify", [Tools.fixtures + "/encrypted", "--key-file", "/nonexistent"]).code == 3)
        let wrong = Scratch()
        try String(repeating: "ab", count: 32).write(toFile: wrong.sub("k"), atomically: true, encoding: .utf8)
        let r = try Tools.run("nedb-verify", [Tools.fixtures + "/encrypted", "--key-file", wrong.sub("k")])
        #expect(r.code == 3 && r.err.contains("wrong_key"))
        #expect(try Tools.run("nedb-verify", [Tools.fixtures + "/encrypted", "--key-file", Tools.fixtures + "/encrypted.key"]).code == 0)
        #expect(try Tools.run("nedb-dump", [Tools.fixtures + "/valid-small", "--type", "bogus"]).code == 2)
        #expect(try Tools.run("nedb-prove", ["verify"]).code == 2)
        #expect(try Tools.run("nedb-repair", [Tools.fixtures + "/valid-small"]).code == 2)
        #expect(try Tools.run("nedb-verify", ["--help"]).code == 0)
    }

    @Test func proveAndVerifyAgreeWithThePythonVerifier() throws {
        let s = Scratch()
        try makeStore(s.sub("db"))
        #expect(try Tools.run("nedb-prove", ["keygen", "--out", s.sub("p.key"), "--name", "test.example/nedb"]).code == 0)
        #expect(try Tools.run("nedb-prove", ["keygen", "--out", s.sub("other.key")]).code == 0)
        let proof = try Tools.run("nedb-prove", [s.sub("db"), "--doc", "users:u12", "--seq", "200", "--sign-key", s.sub("p.key"), "--out", s.sub("u12.proof")])
        #expect(proof.code == 0, "\(proof.err)")
        let swiftOK = try Tools.run("nedb-prove", ["verify", s.sub("u12.proof"), "--pubkey", s.sub("p.key.pub"), "--json"])
        #expect(swiftOK.code == 0)
        #expect(try Tools.json(swiftOK.out)["value"]?["n"]?.numberValue == 172)
        let pythonOK = try Tools.run("verify_proof.py", [s.sub("u12.proof"), "--pubkey", s.sub("p.key.pub")])
        #expect(pythonOK.code == 0, "\(pythonOK.out) \(pythonOK.err)")
        // A tombstone proves absence.
        #expect(try Tools.run("nedb-prove", [s.sub("db"), "--doc", "users:u0", "--seq", "60", "--sign-key", s.sub("p.key"), "--out", s.sub("u0.proof")]).code == 0)
        let absent = try Tools.run("nedb-prove", ["verify", s.sub("u0.proof"), "--pubkey", s.sub("p.key.pub"), "--json"])
        #expect(try Tools.json(absent.out)["deleted"]?.boolValue == true)
        // Altered proofs: both verifiers reject each one.
        let text = try String(contentsOfFile: s.sub("u12.proof"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let pathLine = lines.firstIndex { $0.hasPrefix("index ") }! + 1
        var alterations: [(String, String)] = []
        var a = lines; a[pathLine] = String(a[pathLine].reversed()); alterations.append(("path hash", a.joined(separator: "\n")))
        a = lines; a[a.firstIndex { $0.hasPrefix("seq ") }!] = "seq 171"; alterations.append(("seq", a.joined(separator: "\n")))
        a = lines; a.remove(at: a.firstIndex { $0.hasPrefix("next ") }!); alterations.append(("dropped next record", a.joined(separator: "\n")))
        a = lines; a[a.firstIndex { $0.hasPrefix("doc ") }!] = "doc users:u13"; alterations.append(("doc", a.joined(separator: "\n")))
        let leafIndex = lines.firstIndex { $0.hasPrefix("leaf ") }!
        var leaf = Array(Data(base64Encoded: String(lines[leafIndex].dropFirst(5)))!)
        leaf[leaf.count - 5] ^= 1
        a = lines; a[leafIndex] = "leaf " + Data(leaf).base64EncodedString(); alterations.append(("document byte", a.joined(separator: "\n")))
        // The store line is bound to the signed checkpoint's nedb-store line.
        a = lines; let storeLine = a.firstIndex { $0.hasPrefix("store ") }!
        a[storeLine] = "store " + String(repeating: "ab", count: 16); alterations.append(("store id", a.joined(separator: "\n")))
        // A signature line given twice.
        a = lines; let sig = a.lastIndex { $0.hasPrefix("\u{2014} ") }!
        a.insert(a[sig], at: sig + 1); alterations.append(("duplicated signature", a.joined(separator: "\n")))
        a = lines; let sizeLine = a.firstIndex { $0 == "nedb.example/" || Int($0) != nil && a.firstIndex(of: $0)! > pathLine }!
        a[sizeLine] = String(Int(a[sizeLine])! + 1); alterations.append(("tree size", a.joined(separator: "\n")))
        for (what, altered) in alterations {
            try altered.write(toFile: s.sub("bad.proof"), atomically: true, encoding: .utf8)
            let sw = try Tools.run("nedb-prove", ["verify", s.sub("bad.proof"), "--pubkey", s.sub("p.key.pub")])
            let py = try Tools.run("verify_proof.py", [s.sub("bad.proof"), "--pubkey", s.sub("p.key.pub")])
            #expect(sw.code == 1, "swift accepted an altered \(what)")
            #expect(py.code == 1, "python accepted an altered \(what): \(py.out)")
        }
        // The wrong key.
        #expect(try Tools.run("nedb-prove", ["verify", s.sub("u12.proof"), "--pubkey", s.sub("other.key.pub")]).code == 1)
        #expect(try Tools.run("verify_proof.py", [s.sub("u12.proof"), "--pubkey", s.sub("other.key.pub")]).code == 1)
        // Consistency: a checkpoint now, more records, then a proof the new tree extends it.
        #expect(try Tools.run("nedb-prove", ["checkpoint", s.sub("db"), "--sign-key", s.sub("p.key"), "--out", s.sub("old.cp")]).code == 0)
        try makeStore(s.sub("db"), records: 30)
        #expect(try Tools.run("nedb-prove", ["consistency", s.sub("db"), "--from", s.sub("old.cp"), "--sign-key", s.sub("p.key"), "--out", s.sub("c.proof")]).code == 0)
        #expect(try Tools.run("nedb-prove", ["verify", s.sub("c.proof"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        #expect(try Tools.run("verify_proof.py", [s.sub("c.proof"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        #expect(try Tools.run("nedb-verify", [s.sub("db"), "--since", s.sub("old.cp"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        #expect(try Tools.run("nedb-verify", [s.sub("db"), "--since", s.sub("old.cp"), "--pubkey", s.sub("other.key.pub")]).code == 1)
    }

    @Test func tamperRepairAndCompact() throws {
        let s = Scratch()
        try makeStore(s.sub("db"), records: 400)
        #expect(try Tools.run("nedb-prove", ["keygen", "--out", s.sub("p.key")]).code == 0)
        #expect(try Tools.run("nedb-prove", [s.sub("db"), "--doc", "users:u3", "--seq", "100", "--written", "--sign-key", s.sub("p.key"), "--out", s.sub("old.proof")]).code == 0)
        // Compact (merge + compress): verifies, the old proof still verifies, AS OF reads unchanged.
        var ro = StoreOptions(); ro.readOnly = true
        let before = try StateLoader.load(store: try LogStore.open(s.sub("db"), options: ro)).0
        func generation() throws -> UInt64 {
            try Manifest.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: s.sub("db/MANIFEST")))), file: "MANIFEST").generation
        }
        let generationBefore = try generation()
        let compact = try Tools.run("nedb-compact", [s.sub("db"), "--target-size", "64KiB", "--compress"])
        #expect(compact.code == 0, "\(compact.out) \(compact.err)")
        // §9: the generation goes on rising across a compaction (it never restarts at 1).
        #expect(try generation() > generationBefore && generationBefore > 1)
        #expect(try Tools.run("nedb-verify", [s.sub("db")]).code == 0)
        #expect(try Tools.run("nedb-prove", ["verify", s.sub("old.proof"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        #expect(try Tools.run("verify_proof.py", [s.sub("old.proof"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        let store = try LogStore.open(s.sub("db"), options: ro)
        let after = try StateLoader.load(store: store).0
        for seq in stride(from: UInt64(0), through: store.lastSeq, by: 7) {
            for i in 0..<40 {
                let a = try before.document(collection: "users", id: "u\(i)", at: ReadPoint(asOf: seq))
                let b = try after.document(collection: "users", id: "u\(i)", at: ReadPoint(asOf: seq))
                #expect(a?.version.seq == b?.version.seq && a?.version.documentBytes == b?.version.documentBytes)
            }
        }
        // Tamper with a record in a sealed segment (CRC fixed): verify says tampering.
        let segments = try FileManager.default.contentsOfDirectory(atPath: s.sub("db/segments")).sorted()
        let victim = s.sub("db/segments/" + segments[0])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
        // First block of a compressed segment: recompress is too involved; tamper a plain copy instead.
        _ = bytes
        let plain = Scratch()
        try makeStore(plain.sub("db"), records: 200)
        let plainSegments = try FileManager.default.contentsOfDirectory(atPath: plain.sub("db/segments")).sorted()
        let target = plain.sub("db/segments/" + plainSegments[1])
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: target)))
        let frameOffset = 128
        let length = Int(UInt32(bytes[frameOffset]) | UInt32(bytes[frameOffset + 1]) << 8)
        bytes[frameOffset + 8 + length - 3] ^= 0x01
        let crc = bytes.withUnsafeBytes { Frame.crc32(frame: UnsafeRawBufferPointer(rebasing: $0[frameOffset..<(frameOffset + length + 40)])) }
        for k in 0..<4 { bytes[frameOffset + 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        let verify = try Tools.run("nedb-verify", [plain.sub("db"), "--json"])
        #expect(verify.code == 1)
        #expect(try Tools.json(verify.out)["verdict"]?.stringValue == "tampering")
        // Repair refuses in place, salvages into a new directory, reports what was lost.
        #expect(try Tools.run("nedb-repair", [plain.sub("db"), "--in-place"]).code == 1)
        let repair = try Tools.run("nedb-repair", [plain.sub("db"), "--out", plain.sub("salvaged"), "--json"])
        #expect(repair.code == 1)
        let plan = try Tools.json(String(repair.out.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.hasPrefix("salvaged") }.joined(separator: "\n")))
        #expect(plan["lost"]?["first_seq"]?.numberValue != nil)
        #expect(try Tools.run("nedb-verify", [plain.sub("salvaged")]).code == 0)
        #expect(FileManager.default.fileExists(atPath: plain.sub("salvaged/lost+found/REPORT.txt")))
        // The damaged original is untouched.
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data(bytes))
        // Dump shows records of an encrypted store only with its key.
        let locked = try Tools.run("nedb-dump", [Tools.fixtures + "/encrypted", "--records", "--to", "5"])
        #expect(locked.code == 0 && locked.out.contains("give a key"))
        let unlocked = try Tools.run("nedb-dump", [Tools.fixtures + "/encrypted", "--records", "--to", "5", "--key-file", Tools.fixtures + "/encrypted.key"])
        #expect(unlocked.code == 0 && unlocked.out.contains("users:"))
        #expect(try Tools.run("nedb-dump", [Tools.fixtures + "/torn-tail"]).code == 1)
    }

    @Test func pruningKeepsHashesAndRecentReads() throws {
        let s = Scratch()
        try makeStore(s.sub("db"), records: 300)
        #expect(try Tools.run("nedb-prove", ["keygen", "--out", s.sub("p.key")]).code == 0)
        #expect(try Tools.run("nedb-prove", ["checkpoint", s.sub("db"), "--sign-key", s.sub("p.key"), "--out", s.sub("before.cp")]).code == 0)
        var ro = StoreOptions(); ro.readOnly = true
        let before = try StateLoader.load(store: try LogStore.open(s.sub("db"), options: ro)).0
        let head = try LogStore.open(s.sub("db"), options: ro).lastSeq
        let r = try Tools.run("nedb-compact", [s.sub("db"), "--retain-from", "200", "--json"])
        #expect(r.code == 0, "\(r.err)")
        #expect((try Tools.json(r.out)["pruned"]?.numberValue ?? 0) > 0)
        #expect(try Tools.run("nedb-verify", [s.sub("db"), "--since", s.sub("before.cp"), "--pubkey", s.sub("p.key.pub")]).code == 0)
        let after = try StateLoader.load(store: try LogStore.open(s.sub("db"), options: ro)).0
        for seq in [200, 250, head] as [UInt64] {
            for i in 0..<40 {
                #expect(try before.document(collection: "users", id: "u\(i)", at: ReadPoint(asOf: seq))?.version.seq
                        == after.document(collection: "users", id: "u\(i)", at: ReadPoint(asOf: seq))?.version.seq)
            }
        }
    }
}
