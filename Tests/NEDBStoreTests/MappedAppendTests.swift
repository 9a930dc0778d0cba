import Testing
import Foundation
@testable import NEDBStore
import NEDBFormat

/// Appends through a memory mapping leave reserved zero bytes after the data while the store is
/// open (spec/FORMAT.md §13.1): readers, verification and a writer resuming after a crash treat
/// them as the end of the data; close and rotation cut them off.
@Suite struct MappedAppendTests {
    func activeSegment(_ dir: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/segments").sorted()
        return dir + "/segments/" + (names.last ?? "")
    }

    func fileSize(_ path: String) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    }

    @Test func liveStoreHasReservedSpaceThatReadersAndVerifierTreatAsTheEnd() throws {
        let dir = TempDir()
        var options = testOptions()
        options.durability = .none
        let store = try LogStore.open(dir.path, options: options)
        for i in 1...200 { try store.append(put("users", "u\(i)", ["n": .number(Double(i))])) }
        let path = try activeSegment(dir.path)
        let dataEnd = try #require(store.mutex.locked { store.active?.fileEnd })
        #expect(try fileSize(path) > dataEnd, "appends through the mapping reserve space ahead")

        // While the writer is open: verification, a read-only store and a scanner see 200 records.
        let live = StoreVerifier.verify(directory: dir.path)
        #expect(live.ok, "\(live.issues)")
        #expect(live.head?.seq == 200)
        var readOnly = testOptions()
        readOnly.readOnly = true
        let reader = try LogStore.open(dir.path, options: readOnly)
        #expect(reader.lastSeq == 200)
        #expect(reader.openReport.tornTail == nil)
        let segment = try SegmentFile.open(fs: PosixFileSystem(), path: path)
        var scanner = segment.scanner()
        var records = 0
        while let event = try scanner.next() {
            if case .record = event { records += 1 } else { Issue.record("damage reported in reserved space: \(event)") }
        }
        #expect(records == 201)
        #expect(scanner.reservedBytes == (try fileSize(path)) - dataEnd)

        try store.close()
        #expect(try fileSize(path) == dataEnd, "close cuts the reserved space off")
        #expect(StoreVerifier.verify(directory: dir.path).ok)
    }

    @Test func writerResumesAtTheBoundaryAndRotationSealsCleanly() throws {
        for mapped in [true, false] {
            let dir = TempDir()
            var options = testOptions()
            options.mappedAppends = mapped
            do {
                let store = try LogStore.open(dir.path, options: options)
                for i in 1...20 { try store.append(put("users", "u\(i)", [:])) }
                try store.close()
            }
            // What a killed writer leaves: reserved zero bytes after the last frame.
            let path = try activeSegment(dir.path)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.seekToEndOfFile()
            handle.write(Data(count: 70_000))
            handle.closeFile()
            options.recovery = .strict             // nothing is torn: even strict opens
            let store = try LogStore.open(dir.path, options: options)
            #expect(store.openReport.tornTail == nil)
            #expect(store.lastSeq == 20)
            for i in 21...40 { try store.append(put("users", "u\(i)", [:])) }
            try store.rotate()                      // the footer must end the file
            try store.append(put("users", "u41", [:]))
            try store.close()
            let report = StoreVerifier.verify(directory: dir.path)
            #expect(report.ok, "mapped \(mapped): \(report.issues)")
            #expect(report.head?.seq == 41)
            #expect(report.segments.first?.sealed == true)
            let reopened = try LogStore.open(dir.path, options: options)
            #expect(try reopened.record(33).id == "u33")
            try reopened.close()
        }
    }
}

/// Real files whose append mappings run out of space at a given size (a full disk).
final class FullDiskFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let forwarded: FileSystem = PosixFileSystem()
    let limit: UInt64
    init(limit: UInt64) { self.limit = limit }

    func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile {
        FullDiskFile(inner: try forwarded.openForWriting(path, create: create), limit: limit)
    }
}

final class FullDiskFile: ForwardingFile, @unchecked Sendable {
    let inner: WritableFile
    let limit: UInt64
    init(inner: WritableFile, limit: UInt64) { self.inner = inner; self.limit = limit }

    func appendMapping(reserve: Int) -> AppendMapping? {
        let mapping = inner.appendMapping(reserve: reserve)
        mapping?.allocationLimit = limit
        return mapping
    }
}

extension MappedAppendTests {
    /// When the file cannot be extended, the append fails, nothing after the last acknowledged
    /// record is acknowledged, and the store reopens with every acknowledged record.
    @Test(arguments: [Durability.none, .batch])
    func fullDiskFailsTheStoreAndLosesNothingAcknowledged(durability: Durability) throws {
        let dir = TempDir()
        var options = testOptions(FullDiskFileSystem(limit: 2 << 20))
        options.durability = durability
        let store = try LogStore.open(dir.path, options: options)
        var acknowledged: UInt64 = 0
        var failure: StoreError? = nil
        for i in 1...20_000 {
            do {
                if case let .appended(seqs) = try store.append(put("users", "u\(i)", ["pad": .string(String(repeating: "x", count: 200))])) {
                    acknowledged = seqs[0]
                }
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure, "a 2 MiB disk must fill up")
        #expect("\(error)".contains("fallocate"), "\(error)")
        #expect(acknowledged > 1000)
        #expect(throws: StoreError.self) { try store.append(put("users", "late", [:])) }
        try? store.close()
        let reopened = try LogStore.open(dir.path, options: testOptions())
        #expect(reopened.lastSeq == acknowledged)
        #expect(try reopened.record(acknowledged).id == "u\(acknowledged)")
        try reopened.close()
        #expect(StoreVerifier.verify(directory: dir.path).ok)
    }
}
