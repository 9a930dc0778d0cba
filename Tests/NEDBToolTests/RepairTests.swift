import Testing
import Foundation
import NEDB

/// nedb-repair on every damage of the matrix: the salvaged store holds exactly a verified prefix
/// of the original (the same records, the same chain hashes), verifies, and everything else is
/// in lost+found with a report. In place it fixes only what a crash leaves, and a rollback only
/// when told to accept it.
@Suite(.serialized) struct RepairTests {
    /// seq → chain hash of every record of a store that opens (allowing damage).
    static func chains(_ dir: String) throws -> [UInt64: String] {
        let reader = try Reader.open(dir, allowDamaged: true)
        var hashes: [UInt64: String] = [:]
        for seq in 0...reader.seq { hashes[seq] = try reader.store.chainHash(seq: seq).hex }
        return hashes
    }

    /// "answer" when a reader opens the store and queries it, "damage <id>" when it refuses
    /// with a damage error, else the error.
    static func readOutcome(_ dir: String, key: KeySource?) -> String {
        do {
            let reader = try Reader.open(dir, key: key)
            _ = try reader.query("FROM users")
            return "answer"
        } catch let e as DatabaseError {
            return e.damage.map { "damage \($0.id)" } ?? "error \(e)"
        } catch {
            return "error \(error)"
        }
    }

    @Test func salvageKeepsExactlyTheVerifiedPrefixOfEveryDamage() throws {
        let scratch = Scratch()
        let base = scratch.sub("base")
        try DamageMatrixTests.makeBase(base, checkpoint: true)
        let original = try RepairTests.chains(base)
        var cases = 0
        for target in DamageMatrixTests.Target.allCases {
            for (name, _, apply) in DamageMatrixTests.damages(target) {
                cases += 1
                let dir = scratch.sub("case\(cases)"), out = scratch.sub("out\(cases)")
                try FileManager.default.copyItem(atPath: base, toPath: dir)
                try apply(DamageMatrixTests.DamagedStore(dir: dir))
                let before = try DryRunTests.fingerprint(dir)
                let r = try Tools.run("nedb-repair", [dir, "--out", out, "--json"])
                #expect(r.code == 1, "\(name) (\(target)): exit \(r.code): \(r.out) \(r.err)")
                #expect(try DryRunTests.fingerprint(dir) == before, "\(name): the damaged original changed")
                let verify = try Tools.run("nedb-verify", [out])
                #expect(verify.code == 0, "\(name) (\(target)): the salvaged store does not verify: \(verify.out)")
                let salvaged = try RepairTests.chains(out)
                #expect(!salvaged.isEmpty)
                let last = salvaged.keys.max() ?? 0
                #expect(salvaged.count == Int(last) + 1, "\(name): not a prefix")
                for (seq, hash) in salvaged { #expect(original[seq] == hash, "\(name): seq \(seq) differs from the original") }
                #expect(FileManager.default.fileExists(atPath: out + "/lost+found/REPORT.txt"), "\(name): no report")
                let plan = try Tools.json(r.out)
                #expect(plan["salvage_through"]?.numberValue == Double(last), "\(name)")
                // The salvaged store takes writes.
                #expect(try Tools.run("nedb", ["put", out, "users", "after", #"{"n": 0}"#]).code == 0)
                #expect(try Tools.run("nedb-verify", [out]).code == 0)
            }
        }
        #expect(cases == 24)
    }

    @Test func aCompressedSegmentCutAnywhereIsSalvagedWithoutACrash() throws {
        let scratch = Scratch()
        let base = scratch.sub("base")
        try makeStore(base, records: 400)
        #expect(try Tools.run("nedb-compact", [base, "--target-size", "16KiB", "--compress"]).code == 0)
        let segments = try FileManager.default.contentsOfDirectory(atPath: base + "/segments").filter { $0.hasSuffix(".nseg") }.sorted()
        let victim = segments[1]
        let size = try Data(contentsOf: URL(fileURLWithPath: base + "/segments/" + victim)).count
        var random = SystemRandomNumberGenerator()
        for round in 0..<12 {
            let dir = scratch.sub("cut\(round)"), out = scratch.sub("out\(round)")
            try FileManager.default.copyItem(atPath: base, toPath: dir)
            let path = dir + "/segments/" + victim
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(Int.random(in: 129..<(size - 1), using: &random)).write(to: URL(fileURLWithPath: path))
            let r = try Tools.run("nedb-repair", [dir, "--out", out])
            #expect(r.code == 1, "round \(round): exit \(r.code) \(r.err)")
            #expect(try Tools.run("nedb-verify", [out]).code == 0, "round \(round)")
        }
    }

    @Test func inPlaceFixesACrashAndAcceptsARollbackOnlyWhenTold() throws {
        let scratch = Scratch()
        let dir = scratch.sub("db")
        try DamageMatrixTests.makeBase(dir, checkpoint: false)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").filter { $0.hasSuffix(".nseg") }.sorted()
        // The active segment deleted: a rollback.
        try FileManager.default.removeItem(atPath: dir + "/segments/" + names[names.count - 1])
        let refused = try Tools.run("nedb-repair", [dir, "--in-place"])
        #expect(refused.code == 1 && refused.err.contains("accept-rollback"), "\(refused.out) \(refused.err)")
        #expect(try Tools.run("nedb", ["put", dir, "users", "x", "{}"]).code == 3)
        let accepted = try Tools.run("nedb-repair", [dir, "--in-place", "--accept-rollback"])
        #expect(accepted.code == 1, "records were lost: \(accepted.out) \(accepted.err)")
        #expect(accepted.out.contains("repaired: the store verifies"), "\(accepted.out)")
        #expect(try Tools.run("nedb-verify", [dir]).code == 0)
        let lost = try FileManager.default.contentsOfDirectory(atPath: dir + "/lost+found")
        #expect(lost.contains { $0.hasPrefix("MANIFEST") } && lost.contains { $0.hasPrefix("REPORT") })
        #expect(try Tools.run("nedb", ["put", dir, "users", "x", "{}"]).code == 0)

        // A torn tail: fixed in place, nothing lost.
        let torn = scratch.sub("torn")
        try DamageMatrixTests.makeBase(torn, checkpoint: false)
        try FileManager.default.removeItem(atPath: torn + "/REPLAY")      // as after a crash
        let last = torn + "/segments/" + (try FileManager.default.contentsOfDirectory(atPath: torn + "/segments").sorted().last!)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: last)))
        bytes.append(contentsOf: bytes[200..<260])
        try Data(bytes).write(to: URL(fileURLWithPath: last))
        let fixed = try Tools.run("nedb-repair", [torn, "--in-place"])
        #expect(fixed.code == 0, "\(fixed.out) \(fixed.err)")
        #expect(try Tools.run("nedb-verify", [torn]).code == 0)

        // Tampering is never repaired in place.
        let tampered = scratch.sub("tampered")
        try DamageMatrixTests.makeBase(tampered, checkpoint: false)
        let (_, _, edit) = DamageMatrixTests.damages(.active).first { $0.0 == "record re-hashed with its CRC fixed" }!
        try edit(DamageMatrixTests.DamagedStore(dir: tampered))
        let before = try DryRunTests.fingerprint(tampered)
        #expect(try Tools.run("nedb-repair", [tampered, "--in-place"]).code == 1)
        #expect(try Tools.run("nedb-repair", [tampered, "--in-place", "--accept-rollback"]).code == 1)
        #expect(try DryRunTests.fingerprint(tampered) == before)
    }

    @Test func inPlaceRepairAndCompactionTakeTheLock() throws {
        let scratch = Scratch()
        let dir = scratch.sub("db")
        try makeStore(dir, records: 200)
        let db = try Database.open(dir)
        defer { try? db.close() }
        // A stale derived file to fix in place while a writer holds the lock.
        var manifest = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/MANIFEST")))
        manifest[60] ^= 1
        try Data(manifest).write(to: URL(fileURLWithPath: dir + "/MANIFEST"))
        let repair = try Tools.run("nedb-repair", [dir, "--in-place"])
        #expect(repair.code == 3 && repair.err.contains("locked"), "\(repair.out) \(repair.err)")
        let compact = try Tools.run("nedb-compact", [dir])
        #expect(compact.code == 3 && compact.err.contains("locked"), "\(compact.out) \(compact.err)")
    }
}

/// Salvage of foreign and damaged bytes (issue 12): a frame spliced in from another store, and
/// an active segment whose header is damaged. The output holds only the verified prefix and
/// verifies; the rest is in lost+found.
@Suite(.serialized) struct ForeignBytesRepairTests {
    @Test func aFrameFromAnotherStoreOrABrokenHeaderIsNeverCopied() throws {
        let scratch = Scratch()
        let base = scratch.sub("base"), other = scratch.sub("other")
        try DamageMatrixTests.makeBase(base, checkpoint: false)
        try DamageMatrixTests.makeBase(other, checkpoint: false)
        let cases: [(String, (DamageMatrixTests.DamagedStore) throws -> Void)] = [
            ("a frame of another store spliced over one of ours", { s in
                let theirs = DamageMatrixTests.DamagedStore(dir: other)
                let src = theirs.segmentPath(.active), dst = s.segmentPath(.active)
                let frames = try theirs.frames(src)
                let frame = Array(try theirs.read(src)[frames[3].offset..<(frames[3].offset + frames[3].length)])
                try s.edit(dst) { b, f in
                    for (i, byte) in frame.enumerated() where f[3].offset + i < b.count { b[f[3].offset + i] = byte }
                }
            }),
            ("the active segment's header damaged", { s in try s.edit(s.segmentPath(.active)) { b, _ in b[50] ^= 0x40 } }),
            ("a sealed segment's header damaged", { s in try s.edit(s.segmentPath(.sealed)) { b, _ in b[60] ^= 0x40 } }),
        ]
        for (i, (name, damage)) in cases.enumerated() {
            let dir = scratch.sub("case\(i)"), out = scratch.sub("out\(i)")
            try FileManager.default.copyItem(atPath: base, toPath: dir)
            try damage(DamageMatrixTests.DamagedStore(dir: dir))
            let r = try Tools.run("nedb-repair", [dir, "--out", out])
            #expect(r.code == 1, "\(name): exit \(r.code) \(r.out) \(r.err)")
            #expect(try Tools.run("nedb-verify", [out]).code == 0, "\(name): the salvage does not verify")
            let salvaged = try RepairTests.chains(out)
            let original = try RepairTests.chains(base)
            for (seq, hash) in salvaged { #expect(original[seq] == hash, "\(name): seq \(seq) is not the original's") }
            let lost = (try? FileManager.default.contentsOfDirectory(atPath: out + "/lost+found")) ?? []
            #expect(lost.contains("REPORT.txt") && lost.count >= 2, "\(name): \(lost)")
        }
    }
}
