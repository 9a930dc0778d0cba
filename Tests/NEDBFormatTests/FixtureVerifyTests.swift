import Testing
import Foundation
@testable import NEDBFormat
import NEDBFixtureKit

@Suite struct FixtureVerifyTests {
    @Test(arguments: try FixtureExpectation.all())
    func fixtureYieldsItsExpectedErrors(name: String) throws {
        let expected = try FixtureExpectation.load(name)
        for mode in [VerifyOptions.Mode.full, .quick] {
            var options = VerifyOptions(mode: mode)
            options.parallelism = 2
            let report = StoreVerifier.verify(directory: Repo.fixtures + "/" + name, options: options)
            let ids = Array(Set(report.issues.map(\.id))).sorted()
            if mode == .full || !["tampered-payload", "tampered-relinked", "active-frame-copied"].contains(name) {
                #expect(ids == expected.errors, "\(name) [\(mode)]: \(report.issues.map(\.description))")
                #expect(report.issues.first?.id ?? "ok" == expected.verdict || expected.errors.count > 1,
                        "\(name): first issue \(report.issues.first?.description ?? "none")")
                #expect(report.head?.seq == expected.headSeq, "\(name) [\(mode)] head \(String(describing: report.head))")
            }
        }
    }

    @Test func encryptedFixtureVerifiesWithItsKey() throws {
        let dir = Repo.fixtures + "/encrypted"
        let keyText = try String(contentsOfFile: Repo.fixtures + "/encrypted.key", encoding: .utf8)
        let tmk = try MasterKey.parseKeyText(keyText)
        let keyFile = try KeyFile.decode(try PosixFileSystem().readAll(dir + "/KEYS"))
        var options = VerifyOptions()
        options.keyring = try keyFile.unwrapAll(tmk: tmk)
        options.checkDocuments = true
        let report = StoreVerifier.verify(directory: dir, options: options)
        #expect(report.ok, "\(report.issues)")
        #expect(report.decrypted)
        #expect(report.head?.seq == 150)
    }

    @Test func wrongKeyIsRecognisedBeforeDecryption() throws {
        let keyFile = try KeyFile.decode(try PosixFileSystem().readAll(Repo.fixtures + "/encrypted/KEYS"))
        #expect(throws: FormatError.self) { try keyFile.unwrapAll(tmk: [UInt8](repeating: 9, count: 32)) }
        do {
            _ = try keyFile.unwrapAll(tmk: [UInt8](repeating: 9, count: 32))
        } catch {
            #expect(error.id == "wrong_key")
        }
    }

    @Test func generatorReproducesTheFixtures() throws {
        let temp = TempDir("fixtures")
        _ = try Fixtures.generate(into: temp.path)
        let fm = FileManager.default
        let checkedIn = try fm.subpathsOfDirectory(atPath: Repo.fixtures).sorted()
        let generated = try fm.subpathsOfDirectory(atPath: temp.path).sorted()
        #expect(checkedIn == generated)
        for sub in checkedIn {
            var isDir: ObjCBool = false
            fm.fileExists(atPath: Repo.fixtures + "/" + sub, isDirectory: &isDir)
            if isDir.boolValue { continue }
            let a = try Data(contentsOf: URL(fileURLWithPath: Repo.fixtures + "/" + sub))
            let b = try Data(contentsOf: URL(fileURLWithPath: temp.path + "/" + sub))
            #expect(a == b, "fixture file \(sub) differs from the generator's output")
        }
    }
}

@Suite struct ForgedFooterTests {
    /// A footer whose Merkle chunk was changed and whose checksums were all recomputed (what a
    /// forger would do) passes quick checks, but full verification recomputes the tree.
    @Test(arguments: [0, 1, 3])
    func forgedMerkleNodeWithValidChecksumsIsFound(level: Int) throws {
        let temp = TempDir("forged-footer")
        try FileManager.default.removeItem(atPath: temp.path)
        try FileManager.default.copyItem(atPath: Repo.fixtures + "/multi-segment", toPath: temp.path)
        let path = temp.path + "/segments/00000000000000000400.nseg"
        let fs = PosixFileSystem()
        let segment = try SegmentFile.open(fs: fs, path: path)
        let footer = try #require(segment.footer)
        let hasher = MerkleHasher(segment.header.hashAlgorithm)
        let levels = try footer.levels(hasher: hasher, file: path, reader: segment.reader)
        var arrays = levels.levels
        arrays[level][1].w0 ^= 1
        let forged = try #require(MerkleLevels(hasher: hasher, firstLeaf: levels.firstLeaf, levels: arrays))
        let rewritten = SegmentFooter(meta: footer.meta, recordOffsets: try footer.recordOffsets(file: path, reader: segment.reader),
                                      levels: forged, frontier: try footer.frontier(hasher: hasher, file: path, reader: segment.reader),
                                      blocks: nil)
        let bytes = try segment.read(at: 0, count: Int(footer.dataEnd)) + rewritten.encode(dataEnd: footer.dataEnd)
        try fs.writeAtomically(bytes, to: path)
        var options = VerifyOptions(mode: .full)
        options.parallelism = 1
        let report = StoreVerifier.verify(directory: temp.path, options: options)
        let node = 400 >> level + 1
        #expect(report.issues.map(\.id) == ["footer_mismatch"], "\(report.issues)")
        #expect(report.issues.first?.detail.contains("Merkle node (level \(level), index \(node))") == true, "\(report.issues)")
    }
}
