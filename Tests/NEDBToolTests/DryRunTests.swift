import Testing
import Foundation

/// Read-only tools and dry runs must leave every byte of a store as it was.
@Suite struct DryRunTests {
    static func fingerprint(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let base = URL(fileURLWithPath: dir)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            out[url.path] = try Data(contentsOf: url)
        }
        return out
    }

    @Test(arguments: [
        ["nedb-verify"], ["nedb-dump"], ["nedb-dump", "--records"], ["nedb-repair", "--dry-run"],
        ["nedb-compact", "--dry-run"], ["nedb-compact", "--dry-run", "--retain-from", "200"],
    ])
    func toolLeavesTheStoreUntouched(_ command: [String]) throws {
        let scratch = Scratch()
        let dir = scratch.sub("store")
        try makeStore(dir, records: 300)
        let before = try DryRunTests.fingerprint(dir)
        let r = try Tools.run(command[0], [dir] + command.dropFirst())
        #expect(r.code == 0, "\(command): \(r.err)")
        #expect(try DryRunTests.fingerprint(dir) == before, "\(command) changed the store")
    }
}
