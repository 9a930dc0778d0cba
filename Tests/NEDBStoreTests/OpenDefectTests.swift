import Testing
import Foundation
@testable import NEDBStore
import NEDBFormat

/// A file system on which nothing can be written: an auditor's read-only access.
final class ReadOnlyFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let forwarded: FileSystem
    init(_ base: FileSystem) { forwarded = base }
    func denied(_ path: String) -> SystemError { SystemError(operation: "open", path: path, errno: EACCES) }
    func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile { throw denied(path) }
    func createDirectory(_ path: String) throws(SystemError) { throw denied(path) }
    func rename(_ from: String, to: String) throws(SystemError) { throw denied(from) }
    func remove(_ path: String) throws(SystemError) { throw denied(path) }
    func lock(_ path: String, owner: String) throws(SystemError) -> FileLock { throw denied(path) }
}

/// Engine defects of the open and write paths, each reproduced.
@Suite struct OpenDefectTests {
    @Test func aReadOnlyOpenNeedsNoWritePermission() throws {
        let dir = TempDir()
        do {
            let store = try LogStore.open(dir.path, options: testOptions())
            for i in 1...30 { try store.append(put("c", "k\(i)", ["i": .number(Double(i))])) }
            try store.close()
        }
        var options = testOptions(ReadOnlyFileSystem(PosixFileSystem()))
        options.readOnly = true
        let store = try LogStore.open(dir.path, options: options)
        #expect(store.lastSeq == 30)
        #expect(try store.record(17).id == "k17")
        var seen = 0
        try store.scan { _ in seen += 1; return true }
        #expect(seen == 31)
    }

    @Test func aFailedRotationFailsTheStoreAndWritesNothingMore() throws {
        let fs = FaultyFileSystem()
        var o = testOptions(fs)
        o.segmentSize = 2048
        let store = try LogStore.open("/db", options: o)
        var acknowledged = 0
        // The sealed segment cannot be reopened after its footer is written.
        fs.inject(.failOpenForReading(suffix: SegmentName.make(firstSeq: 0)))
        var failedAt: Int? = nil
        for i in 1...200 {
            do {
                try store.append(put("c", "k\(i)", ["pad": .string(String(repeating: "p", count: 50))]))
                acknowledged += 1
            } catch {
                failedAt = i
                break
            }
        }
        #expect(failedAt != nil, "the rotation never failed")
        func sizes() -> [String: Int] {
            var out: [String: Int] = [:]
            for path in fs.base.allFiles { out[path] = fs.base.contents(path)?.count ?? 0 }
            return out
        }
        let before = sizes()
        #expect { try store.append(put("c", "later", [:])) } throws: { ($0 as? StoreError)?.id == "store_failed" }
        let after = sizes()
        #expect(after == before, "a failed store wrote")
        try? store.close()
        let reopened = try LogStore.open("/db", options: o)
        #expect(reopened.lastSeq == UInt64(acknowledged))
    }

    @Test func aNewSegmentThatCannotBeCreatedFailsTheStore() throws {
        let fs = FaultyFileSystem()
        var o = testOptions(fs)
        o.segmentSize = 2048
        let store = try LogStore.open("/db", options: o)
        fs.inject(.failCreate(suffix: ".nseg"))
        var failed = false
        for i in 1...200 {
            do { try store.append(put("c", "k\(i)", ["pad": .string(String(repeating: "p", count: 50))])) } catch {
                failed = true
                break
            }
        }
        #expect(failed)
        #expect { try store.append(put("c", "later", [:])) } throws: { ($0 as? StoreError)?.id == "store_failed" }
    }

    @Test func creationIsAtomic() throws {
        // A creation interrupted before the rename left only `.creating/`: nothing existed yet.
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.sub(".creating/segments"), withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir.sub(".creating/segments/" + SegmentName.make(firstSeq: 0))))
        let store = try LogStore.open(dir.path, options: testOptions())
        #expect(store.lastSeq == 0)
        #expect(try store.record(0).type == .genesis)
        #expect(!FileManager.default.fileExists(atPath: dir.sub(".creating")))
        try store.append(put("c", "a", [:]))
        try store.close()
        #expect(StoreVerifier.verify(directory: dir.path).ok)

        // Interrupted after segments/ was renamed in but before KEYS: the open finishes it.
        let enc = TempDir()
        let key = [UInt8](repeating: 7, count: 32)
        var eo = testOptions()
        eo.key = .raw(key)
        do { try LogStore.open(enc.path, options: eo).close() }
        try FileManager.default.createDirectory(atPath: enc.sub(".creating"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: enc.sub("KEYS"), toPath: enc.sub(".creating/KEYS"))
        let reopened = try LogStore.open(enc.path, options: eo)
        #expect(reopened.encrypted && FileManager.default.fileExists(atPath: enc.sub("KEYS")))
        try reopened.close()

        // KEYS without segments is a store whose segments were removed: never created over.
        try FileManager.default.removeItem(atPath: enc.sub("segments"))
        try FileManager.default.removeItem(atPath: enc.sub("MANIFEST"))
        try FileManager.default.removeItem(atPath: enc.sub("REPLAY"))
        let keys = try Data(contentsOf: URL(fileURLWithPath: enc.sub("KEYS")))
        #expect { try LogStore.open(enc.path, options: eo) } throws: { ($0 as? StoreError)?.id == "missing_data" }
        #expect(try Data(contentsOf: URL(fileURLWithPath: enc.sub("KEYS"))) == keys)
    }

    @Test func aPowerLossDuringCreationLeavesNoStoreOrACompleteOne() throws {
        for step in 1...6 {
            let fs = FaultyFileSystem()
            // Fail the step-th fsync of the creation, then lose power: what survives either is
            // no store (the next open creates one) or a store that opens with its genesis record.
            fs.failSyncNumber = step
            _ = try? LogStore.open("/db", options: testOptions(fs))
            fs.powerLoss()
            let store = try LogStore.open("/db", options: testOptions(fs))
            #expect(try store.record(0).type == .genesis, "step \(step)")
            #expect(StoreVerifier.verify(directory: "/db", fs: fs.base).issues.allSatisfy { $0.id == "manifest_mismatch" })
        }
    }

    @Test func aRolledBackLogIsRefusedAndNeverRebuiltAway() throws {
        let dir = TempDir()
        var o = testOptions()
        o.segmentSize = 2048
        do {
            let store = try LogStore.open(dir.path, options: o)
            for i in 1...60 { try store.append(put("c", "k\(i)", ["pad": .string(String(repeating: "p", count: 40))])) }
            try store.close()
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.sub("segments")).sorted()
        try FileManager.default.removeItem(atPath: dir.sub("segments/" + names[names.count - 1]))
        #expect { try LogStore.open(dir.path, options: o) } throws: { ($0 as? StoreError)?.id == "missing_data" }
        var ro = o
        ro.readOnly = true
        #expect { try LogStore.open(dir.path, options: ro) } throws: { ($0 as? StoreError)?.id == "missing_data" }
        // Still refused: the failed opens rewrote nothing.
        #expect { try LogStore.open(dir.path, options: o) } throws: { ($0 as? StoreError)?.id == "missing_data" }
        #expect(!StoreVerifier.verify(directory: dir.path).ok)
        #expect(StoreVerifier.verify(directory: dir.path).issues.contains { $0.id == "missing_data" })
    }
}
