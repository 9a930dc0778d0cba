import Testing
import Foundation
import NEDB

/// The findings of the hostile-input review (issue 12), each on real files and real processes:
/// no crash, no silent coercion, nothing half done, exact exit codes.
@Suite(.serialized) struct HostileInputTests {
    @Test func deeplyNestedQueriesAreRefusedNotCrashing() throws {
        let s = Scratch()
        try nedb(["put", s.sub("db"), "u", "x", #"{"a": 1}"#])
        let parens = "FROM u WHERE " + String(repeating: "(", count: 20_000) + "a = 1" + String(repeating: ")", count: 20_000)
        let nots = "FROM u WHERE " + String(repeating: "NOT ", count: 20_000) + "a = 1"
        for q in [parens, nots] {
            let r = try Tools.run("nedb", ["query", s.sub("db"), q])
            #expect(r.code == 2 && (r.err.contains("nest") || r.err.contains("bytes long")), "\(r.err.prefix(200))")
        }
        // A long flat chain is fine (a balanced tree, not a 3,000-deep one).
        let chain = "FROM u WHERE " + (0..<3000).map { "a = \($0)" }.joined(separator: " OR ")
        #expect(try ids(nedb(["query", s.sub("db"), chain])) == ["x"])
        #expect(try Tools.run("nedb", ["query", s.sub("db"), "FROM u WHERE " + (0..<5000).map { "a = \($0)" }.joined(separator: " OR ")]).code == 2)
    }

    @Test func aKeyForAPlaintextStoreIsAnError() throws {
        let s = Scratch()
        try nedb(["put", s.sub("db"), "u", "x", "{}"])
        try String(repeating: "ab", count: 32).write(toFile: s.sub("k"), atomically: true, encoding: .utf8)
        let r = try Tools.run("nedb", ["put", s.sub("db"), "u", "y", "{}", "--key-file", s.sub("k")])
        #expect(r.code == 3 && r.err.contains("not encrypted"), "\(r.err)")
        #expect(try Tools.run("nedb", ["get", s.sub("db"), "u", "y"]).code == 1, "nothing was written")
        #expect(try Tools.json(try nedb(["status", s.sub("db"), "--json"]))["encrypted"] == false)
    }

    @Test func importIsAllOrNothingAndNamesTheLine() throws {
        let s = Scratch()
        let good = (0..<1500).map { #"{"_id": "d\#($0)", "n": \#($0)}"# }
        let cases: [(String, String)] = [
            (#"{"_id": "bad", "_confidence": 2}"#, "confidence"),
            (#"{"_id": "bad", "_valid_from": "2024-02-01", "_valid_to": "2024-01-01"}"#, "valid_from"),
            (#"{"_id": "bad", "_confidence": "high"}"#, "must be a number"),
            (#"{"_id": "bad", "_evidence": 42}"#, "must be a string"),
            ("{\"_id\": \"bad\", \"big\": \"" + String(repeating: "x", count: 17 << 20) + "\"}", "exceeds"),
        ]
        for (i, (line, fragment)) in cases.enumerated() {
            let file = s.sub("in\(i).ndjson")
            try (good + [line]).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let r = try Tools.run("nedb", ["import", s.sub("db\(i)"), file, "--collection", "docs"])
            #expect(r.code == 2, "case \(i): exit \(r.code) \(r.err.prefix(300))")
            #expect(r.err.contains("line 1501") && r.err.contains(fragment), "case \(i): \(r.err.prefix(300))")
            #expect(!FileManager.default.fileExists(atPath: s.sub("db\(i)")), "case \(i): a store was created")
        }
    }

    @Test func badInputIsAUsageErrorAndCreatesNothing() throws {
        let s = Scratch()
        let dir = s.sub("new")
        let cases: [[String]] = [
            ["put", dir, "c", "x", "{}", "--valid-from", "2024-02-01", "--valid-to", "2024-01-01"],
            ["put", dir, "a:b", "x", "{}"],
            ["put", dir, "c", "", "{}"],
            ["put", dir, "c", "x", #"{"n": 9007199254740993}"#],
            ["put", dir, "c", "x", #"{"_id": 1}"#],
            ["link", dir, "nocolon", "r", "c:x"],
            ["index", dir, "", "f", "eq"],
            ["query", dir, "FROM users WHERE"],
            ["get", dir, "c", "x", "--valid-at", "2024-13-01"],
        ]
        for args in cases {
            let r = try Tools.run("nedb", args)
            #expect(r.code == 2, "\(args): exit \(r.code) \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: dir), "\(args) left a store behind")
        }
        let big = try Tools.run("nedb", ["put", dir, "c", "x", #"{"n": 9007199254740993}"#])
        #expect(big.err.contains("\"n\"") && big.err.contains("2^53"), "\(big.err)")
    }

    @Test func idsThatAreNotUTF8AreRefusedNotMerged() throws {
        let s = Scratch()
        let dir = s.sub("db")
        // Raw argv bytes 0xFF and 0xFE (Foundation's Process would re-encode Strings, so /bin/sh
        // passes them through printf).
        for byte in ["\\377", "\\376"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "\"$0\" put \"$1\" c \"$(printf '\(byte)')\" '{}'", Tools.binary("nedb"), dir]
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 2)
        }
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func compactWithAWrongKeyIsAKeyErrorAndTouchesNothing() throws {
        let s = Scratch()
        let key = (0..<32).map { UInt8($0) }
        try makeStore(s.sub("db"), records: 50, key: key)
        try String(repeating: "cd", count: 32).write(toFile: s.sub("wrong"), atomically: true, encoding: .utf8)
        let before = try DryRunTests.fingerprint(s.sub("db"))
        let r = try Tools.run("nedb-compact", [s.sub("db"), "--key-file", s.sub("wrong")])
        #expect(r.code == 3 && r.err.contains("wrong_key"), "\(r.err)")
        #expect(try DryRunTests.fingerprint(s.sub("db")) == before, "a failed attempt changed the store (LOCK included)")
    }

    @Test func verifyReadsEveryFileAndSaysWhatItDoesNotKnow() throws {
        let s = Scratch()
        try makeStore(s.sub("db"), records: 60)
        var replay = [UInt8](try Data(contentsOf: URL(fileURLWithPath: s.sub("db/REPLAY"))))
        replay[40] ^= 1
        try Data(replay).write(to: URL(fileURLWithPath: s.sub("db/REPLAY")))
        try Data("x".utf8).write(to: URL(fileURLWithPath: s.sub("db/stray.txt")))
        let r = try Tools.run("nedb-verify", [s.sub("db"), "--json"])
        #expect(r.code == 1)
        let report = try Tools.json(r.out)
        #expect(report["issues"]?.arrayValue?.contains { $0["id"] == "replay_mismatch" && $0["verdict"] == "derived" } == true, "\(r.out)")
        #expect(report["notes"]?.arrayValue?.contains { $0["file"]?.stringValue?.hasSuffix("stray.txt") == true } == true, "\(r.out)")
        // The text output of a failed --since names its verdict.
        #expect(try Tools.run("nedb-prove", ["keygen", "--out", s.sub("p.key")]).code == 0)
        let clean = s.sub("clean")
        try makeStore(clean, records: 30)
        #expect(try Tools.run("nedb-prove", ["checkpoint", clean, "--sign-key", s.sub("p.key"), "--out", s.sub("cp")]).code == 0)
        let other = s.sub("other")
        try makeStore(other, records: 30)
        let since = try Tools.run("nedb-verify", [other, "--since", s.sub("cp"), "--pubkey", s.sub("p.key.pub")])
        #expect(since.code == 1 && since.out.contains("FAILED: extension_mismatch"), "\(since.out)")
    }
}
