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
            if mode == .full || !["tampered-payload", "tampered-relinked"].contains(name) {
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
