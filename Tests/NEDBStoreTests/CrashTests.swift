import Testing
import Foundation
@testable import NEDBStore
import NEDBFormat

/// Real child processes appending in each durability mode are killed with SIGKILL at random
/// moments; after reopening, every acknowledged write is present, the store verifies, and
/// appends continue.
@Suite struct CrashTests {
    static var helper: String {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("nedb-crash-writer").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/nedb-crash-writer").path
    }

    struct Ack: Hashable { let seq: UInt64, writer: Int, i: Int }

    /// Runs the writer for `millis` and kills it; returns the acknowledgements it printed.
    func runAndKill(dir: String, durability: Durability, threads: Int, segmentSize: Int, key: String?, millis: Int) throws -> [Ack] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CrashTests.helper)
        process.arguments = [dir, durability.rawValue, String(threads), String(segmentSize)] + (key.map { [$0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        Thread.sleep(forTimeInterval: Double(millis) / 1000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!text.contains("open failed"), "\(text.prefix(300))")
        return text.split(separator: "\n").compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 4, p[0] == "ack", let seq = UInt64(p[1]), let w = Int(p[2]), let i = Int(p[3]) else { return nil }
            return Ack(seq: seq, writer: w, i: i)
        }
    }

    func check(dir: String, acks: [Ack], key: String?) throws {
        var options = StoreOptions()
        if let key { options.key = .raw(Hex.decode(key)!) }
        let store = try LogStore.open(dir, options: options)
        for ack in acks {
            let r = try store.record(ack.seq)
            #expect(r.collection == "w\(ack.writer)" && r.id == "k\(ack.i)", "seq \(ack.seq) holds \(r.key ?? "?")")
        }
        try store.append(put("after", "crash", [:]), durability: .always)
        try store.close()
        var vo = VerifyOptions()
        vo.checkManifest = true
        let report = StoreVerifier.verify(directory: dir, options: vo)
        #expect(report.ok, "\(report.issues)")
    }

    /// nedb-verify beside a writer that appends and rotates: the segment being appended to
    /// changes under the scan, and nothing may be reported for it.
    @Test func verifyBesideARunningWriterReportsNothing() throws {
        let dir = TempDir("live")
        let path = dir.sub("db")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CrashTests.helper)
        process.arguments = [path, "batch", "4", String(32 << 10)]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: path + "/MANIFEST") {
            guard process.isRunning, Date() < deadline else {
                Issue.record("the writer did not start")
                return
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        Thread.sleep(forTimeInterval: 0.05)
        for round in 0..<40 {
            let report = StoreVerifier.verify(directory: path, options: VerifyOptions(mode: round % 4 == 0 ? .full : .quick))
            #expect(report.issues.isEmpty, "round \(round): \(report.issues)")
            #expect(report.records > 0)
        }
    }

    @Test(arguments: [Durability.batch, .always, .none])
    func killedWritersLoseNoAcknowledgedWrite(durability: Durability) throws {
        let dir = TempDir("crash")
        var random = SystemRandomNumberGenerator()
        var total = 0
        for round in 0..<60 {
            let threads = durability == .batch ? [1, 4, 8][round % 3] : 1
            let key = round % 5 == 4 ? Hex.encode([UInt8](repeating: 0x42, count: 32)) : nil
            let path = dir.sub("db\(key == nil ? "" : "-enc")-\(round % 10 == 9 ? round : 0)")
            let acks = try runAndKill(dir: path, durability: durability, threads: threads,
                                      segmentSize: [8 << 10, 64 << 10, 1 << 20][round % 3], key: key,
                                      millis: Int.random(in: 15...60, using: &random))
            total += acks.count
            // Right after the kill, before anyone reopens it: only crash damage (a torn tail)
            // may be reported; a manifest behind the segments is a note. (A kill during the
            // store's creation leaves no store at all.)
            guard FileManager.default.fileExists(atPath: path + "/segments") else { continue }
            let fresh = StoreVerifier.verify(directory: path, options: VerifyOptions(mode: round % 2 == 0 ? .quick : .full))
            #expect(fresh.issues.allSatisfy { $0.id == "torn_tail" }, "round \(round): \(fresh.issues)")
            try check(dir: path, acks: durability == .none ? acks.filter { _ in true } : acks, key: key)
        }
        #expect(total > 0)
    }
}
