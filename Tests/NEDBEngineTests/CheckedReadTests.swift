import Testing
import Foundation
@testable import NEDB

/// Reads through `Reader` and `Database` on stores whose files changed under them: a derived
/// file (a checkpoint) never stops a read and never changes an answer; the log itself is never
/// answered from silently when it is damaged or rolled back.
@Suite struct CheckedReadTests {
    /// A store with a large checkpoint (many pages), closed.
    func makeStore(_ dir: String, index: Bool = false) throws -> [String: JSONValue] {
        var options = DatabaseOptions()
        options.checkpointEvery = nil
        let db = try Database.open(dir, options: options)
        if index { try db.createIndex("docs", "kind", .eq) }
        var expected: [String: JSONValue] = [:]
        for i in 0..<3000 {
            let doc: JSONValue = ["i": .number(Double(i)), "kind": .string("g\(i % 7)"), "text": .string(String(repeating: "t", count: i % 50))]
            try db.put("docs", "d\(i)", doc, WriteOptions(durability: Durability.none))
            expected["d\(i)"] = doc
        }
        try db.checkpoint()
        try db.put("docs", "after", ["late": true])
        expected["after"] = ["late": true]
        try db.close()
        return expected
    }

    /// Flips a byte in ten pages spread over the newest checkpoint's payload (pages opening does
    /// not read: they are checked when a read first touches them).
    func damageCheckpoint(_ dir: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").sorted()
        let path = dir + "/checkpoints/" + names[names.count - 1]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try CheckpointHeader.decode(Array(bytes[0..<CheckpointHeader.length]), file: path)
        #expect(header.payloadLength > 8 * 4096, "the checkpoint should span many pages")
        for k in 3...12 { bytes[CheckpointHeader.length + Int(header.payloadLength) * k / 14] ^= 0x01 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return names[names.count - 1]
    }

    @Test func aCheckpointPageFoundDamagedWhileReadingIsDroppedNotFatal() throws {
        let dir = temporaryDatabasePath("lazy-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected = try makeStore(dir)
        let name = try damageCheckpoint(dir)
        let reader = try Reader.open(dir)
        for (id, doc) in expected {
            let got = try reader.get("docs", id)
            #expect(got?.body == doc, "\(id)")
        }
        #expect(try reader.query("FROM docs").count == expected.count)
        #expect(reader.notes.contains { $0.location.file?.hasSuffix(name) == true }, "\(reader.notes)")
        // The writer too: reads and writes go on, and the state follows the log.
        let db = try Database.open(dir)
        try db.put("docs", "new", ["fresh": true])
        for (id, doc) in expected { #expect(try db.get("docs", id)?.body == doc, "\(id)") }
        #expect(try db.get("docs", "new")?["fresh"] == true)
        try db.close()
    }

    @Test func aWriteThatMeetsADamagedCheckpointIsAppliedFromTheLog() throws {
        let dir = temporaryDatabasePath("apply-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected = try makeStore(dir, index: true)
        _ = try damageCheckpoint(dir)
        let db = try Database.open(dir)
        // Each put of an id in the checkpoint reads its base version (live counts of the eq
        // index), so one of them meets the damaged page while its record is already logged.
        for i in stride(from: 0, to: 3000, by: 37) {
            try db.put("docs", "d\(i)", ["i": .number(Double(-i)), "kind": "moved"])
        }
        for i in 0..<3000 {
            let want: JSONValue = i % 37 == 0 ? ["i": .number(Double(-i)), "kind": "moved"] : expected["d\(i)"]!
            #expect(try db.get("docs", "d\(i)")?.body == want, "d\(i)")
        }
        #expect(db.notes.contains { $0.id == "checkpoint_mismatch" }, "the damaged page was never met: \(db.notes)")
        let moved = try db.query(#"FROM docs WHERE kind = "moved""#)
        #expect(moved.count == (0..<3000).filter { $0 % 37 == 0 }.count)
        try db.close()
        // What was written is in the log: a fresh open agrees.
        let reader = try Reader.open(dir)
        #expect(try reader.query(#"FROM docs WHERE kind = "moved""#).count == moved.count)
    }

    @Test func aReaderRefusesALogThatShrankOrChangedUnderIt() throws {
        let dir = temporaryDatabasePath("refresh-rollback")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backup = dir + "-backup"
        defer { try? FileManager.default.removeItem(atPath: backup) }
        do {
            let db = try Database.open(dir)
            try db.put("u", "a", ["v": 1])
            try db.close()
        }
        try FileManager.default.copyItem(atPath: dir, toPath: backup)
        let reader = try Reader.open(dir)
        do {
            let db = try Database.open(dir)
            try db.put("u", "a", ["v": 2])
            try db.close()
        }
        try reader.refresh()
        #expect(try reader.get("u", "a")?["v"] == 2)
        // Every file rolled back consistently (a backup restored): nothing in the directory
        // shows it, but this reader saw more.
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: backup, toPath: dir)
        #expect { try reader.refresh() } throws: { ($0 as? DatabaseError)?.damage?.id == "missing_data" }
        #expect(try reader.get("u", "a")?["v"] == 2)
    }

    /// Readers on several threads while another refreshes the reader beside a writer: every
    /// read sees a consistent state (run under ThreadSanitizer by tools/test.sh).
    @Test func refreshRacesWithReadsSafely() throws {
        let dir = temporaryDatabasePath("refresh-race")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try Database.open(dir)
        try db.put("c", "n", ["v": 0], WriteOptions(durability: .always))
        let reader = try Reader.open(dir)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 1...60 {
                do {
                    switch worker {
                    case 0: try db.put("c", "n", ["v": .number(Double(i))], WriteOptions(durability: .always))
                    case 1: try reader.refresh()
                    default:
                        let seq = reader.seq
                        if let v = try reader.get("c", "n")?["v"]?.numberValue, v < 0 { failures.locked { $0.append("negative \(v)") } }
                        if reader.head.seq < seq { failures.locked { $0.append("head went back") } }
                        _ = try reader.query("FROM c")
                    }
                } catch {
                    failures.locked { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.locked { $0 }.isEmpty, "\(failures.locked { $0 })")
        try reader.refresh()
        #expect(try reader.get("c", "n")?["v"] == 60)
        try db.close()
    }

    @Test func aDamagedStoreOpensOnlyWhenAllowedAndThenSaysSo() throws {
        let dir = temporaryDatabasePath("allow-damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = DatabaseOptions()
        options.checkpointEvery = nil
        do {
            let db = try Database.open(dir, options: options)
            for i in 1...20 { try db.put("c", "k\(i)", ["i": .number(Double(i))]) }
            try db.close()
        }
        let segment = dir + "/segments/" + SegmentName.make(firstSeq: 0)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[bytes.count - 200] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        #expect { try Reader.open(dir) } throws: { ($0 as? DatabaseError)?.damage?.id == "checksum_mismatch" }
        #expect { try Database.open(dir, options: options) } throws: { ($0 as? DatabaseError)?.damage?.id == "checksum_mismatch" }
        let reader = try Reader.open(dir, allowDamaged: true)
        #expect(reader.damage.first?.id == "checksum_mismatch")
        #expect(reader.damage.first?.location.file == segment)
        #expect(reader.damage.first?.location.seq != nil)
        #expect(try reader.get("c", "k1")?["i"] == 1)
        #expect(reader.seq < 20)
        #expect(!reader.verify().ok)
    }
}

/// The real file system, except that writes to files whose name ends with `failing` fail with
/// ENOSPC while `full` is set (a disk that fills up and is freed again).
final class FillingFileSystem: FileSystem, @unchecked Sendable {
    let base = PosixFileSystem()
    let failing: String
    let full = Locked(true)
    init(failing: String) { self.failing = failing }

    final class File: WritableFile, @unchecked Sendable {
        let inner: WritableFile
        let fs: FillingFileSystem
        let path: String
        init(_ inner: WritableFile, _ fs: FillingFileSystem, _ path: String) { self.inner = inner; self.fs = fs; self.path = path }
        func size() throws(SystemError) -> UInt64 { try inner.size() }
        func read(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8] { try inner.read(at: offset, count: count) }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int { try inner.read(at: offset, into: buffer) }
        func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
            if fs.full.locked({ $0 }) && path.hasSuffix(fs.failing) { throw SystemError(operation: "pwrite", path: path, errno: ENOSPC) }
            try inner.write(bytes, at: offset)
        }
        func sync() throws(SystemError) { try inner.sync() }
        func truncate(to size: UInt64) throws(SystemError) { try inner.truncate(to: size) }
        func close() { inner.close() }
        func appendMapping(reserve: Int) -> AppendMapping? { inner.appendMapping(reserve: reserve) }
    }

    func openForReading(_ path: String) throws(SystemError) -> ReadableFile { try base.openForReading(path) }
    func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile {
        File(try base.openForWriting(path, create: create), self, path)
    }
    func listDirectory(_ path: String) throws(SystemError) -> [String] { try base.listDirectory(path) }
    func createDirectory(_ path: String) throws(SystemError) { try base.createDirectory(path) }
    func rename(_ from: String, to: String) throws(SystemError) { try base.rename(from, to: to) }
    func remove(_ path: String) throws(SystemError) { try base.remove(path) }
    func syncDirectory(_ path: String) throws(SystemError) { try base.syncDirectory(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }
    func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    func lock(_ path: String, owner: String) throws(SystemError) -> FileLock { try base.lock(path, owner: owner) }
}

@Suite struct FullDiskCheckpointTests {
    @Test func aCheckpointOnAFullDiskLeavesNothingBehindAndWorksWhenSpaceIsFreed() throws {
        let dir = temporaryDatabasePath("full-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fs = FillingFileSystem(failing: ".nckp.tmp")
        var storeOptions = StoreOptions()
        storeOptions.fileSystem = fs
        var options = DatabaseOptions()
        options.checkpointEvery = nil
        let db = try Database.open(dir, options: options, storeOptions: storeOptions)
        for i in 0..<50 { try db.put("c", "k\(i)", ["i": .number(Double(i))]) }
        for _ in 0..<3 {
            #expect { try db.checkpoint() } throws: { ($0 as? DatabaseError)?.id == "io_error" }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
            #expect(left.isEmpty, "\(left)")
        }
        // Writes go on, and once space is freed the checkpoint is written.
        try db.put("c", "after", ["ok": true])
        fs.full.locked { $0 = false }
        let info = try db.checkpoint()
        #expect(FileManager.default.fileExists(atPath: info.path))
        try db.close()
        // A temporary left by a crash is removed at the next open.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/checkpoints/00000000000000000099.nckp.tmp"))
        try Data([1]).write(to: URL(fileURLWithPath: dir + "/MANIFEST.tmp"))
        let reopened = try Database.open(dir)
        #expect(!FileManager.default.fileExists(atPath: dir + "/checkpoints/00000000000000000099.nckp.tmp"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/MANIFEST.tmp"))
        #expect(try reopened.get("c", "after")?["ok"] == true)
        try reopened.close()
    }
}
