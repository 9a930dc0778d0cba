#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NEDBFormat
import NEDBFixtureKit
import NEDBStore

/// Issue 3's benchmark: append throughput in each durability mode, the raw fsync rate of the
/// same disk, and SQLite (WAL) inserting the same documents, all in one run.
enum StoreBench {
    static func documents(_ n: Int) -> [[UInt8]] {
        var random = DeterministicRandom(seed: 7)
        return (0..<n).map { JCS.serialize(BenchData.document($0, random: &random)) }
    }

    static func draft(_ i: Int, _ doc: [UInt8]) -> Record {
        var r = Record(type: .put, seq: 0, time: 0)
        r.collection = "users"
        r.id = "user\(i)"
        r.document = doc
        return r
    }

    static func fresh(_ path: String) throws {
        let fs = PosixFileSystem()
        if fs.exists(path) { try fs.remove(path) }
    }

    /// Appends `count` records from `writers` threads; returns records per second.
    static func appendRate(dir: String, durability: Durability, writers: Int, count: Int, docs: [[UInt8]]) throws -> Double {
        try fresh(dir)
        var options = StoreOptions()
        options.durability = durability
        options.trustCanonicalDocuments = true      // as the engine does: documents come from JCS.serialize
        let store = try LogStore.open(dir, options: options)
        let perWriter = count / writers
        let elapsed = Clock.time {
            Threads.run(writers) { w in
                for i in 0..<perWriter {
                    let n = w * perWriter + i
                    _ = try? store.append(draft(n, docs[n % docs.count]))
                }
            }
        }
        guard store.lastSeq == UInt64(perWriter * writers) else { fatalError("lost appends") }
        if getenv("NEDB_BENCH_VERBOSE") != nil {
            let s = store.statistics
            print("  [\(durability) \(writers)w] records \(s.records) writes \(s.writes) syncs \(s.syncs) in \(fmt(elapsed, 3)) s")
        }
        try store.close()
        try fresh(dir)
        return Double(perWriter * writers) / elapsed
    }

    /// Raw write rate: `size`-byte appends, one pwrite each, no fsync (what a log pays that hands
    /// every append to the operating system with a system call).
    static func writeRate(dir: String, size: Int, count: Int) throws -> Double {
        let path = dir + ".write"
        let fs = PosixFileSystem()
        let f = try fs.openForWriting(path, create: true)
        let block = [UInt8](repeating: 0x61, count: size)
        var offset: UInt64 = 0
        let elapsed = try Clock.time {
            for _ in 0..<count {
                try f.write(block, at: offset)
                offset += UInt64(size)
            }
        }
        f.close()
        try fs.remove(path)
        return Double(count) / elapsed
    }

    /// Raw fdatasync rate: 250-byte appends each followed by fdatasync.
    static func fsyncRate(dir: String, seconds: Double) throws -> (rate: Double, latencyMicros: Double) {
        let path = dir + ".fsync"
        let fs = PosixFileSystem()
        let f = try fs.openForWriting(path, create: true)
        let block = [UInt8](repeating: 0x61, count: 250)
        var offset: UInt64 = 0
        var n = 0
        let start = Clock.now()
        while Clock.now() - start < seconds {
            try f.write(block, at: offset)
            try f.sync()
            offset += 250
            n += 1
        }
        let elapsed = Clock.now() - start
        f.close()
        try fs.remove(path)
        return (Double(n) / elapsed, elapsed / Double(n) * 1e6)
    }

    /// SQLite inserts of the same documents.
    static func sqliteRate(dir: String, synchronous: String, batch: Int, count: Int, docs: [[UInt8]]) throws -> Double {
        for suffix in ["", "-wal", "-shm"] { try fresh(dir + ".sqlite" + suffix) }
        let db = try SQLitePeer(path: dir + ".sqlite", synchronous: synchronous)
        try db.exec("CREATE TABLE docs (coll TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (coll, id))")
        let insert = try db.prepare("INSERT INTO docs (coll, id, body) VALUES (?1, ?2, ?3)")
        let texts = docs.map { String(decoding: $0, as: UTF8.self) }
        let elapsed = try Clock.time {
            var i = 0
            while i < count {
                if batch > 1 { try db.exec("BEGIN") }
                for _ in 0..<batch where i < count {
                    insert.bind(1, "users")
                    insert.bind(2, "user\(i)")
                    insert.bind(3, texts[i % texts.count])
                    try insert.run()
                    i += 1
                }
                if batch > 1 { try db.exec("COMMIT") }
            }
        }
        for suffix in ["", "-wal", "-shm"] { try fresh(dir + ".sqlite" + suffix) }
        return Double(count) / elapsed
    }

    static func run(quick: Bool, scratch: String) throws -> [ResultTable] {
        let dir = PathUtil.join(scratch, "store-bench")
        let docs = documents(10_000)
        let recordBytes: Int = {
            var buffer: [UInt8] = []
            let encoder = RecordEncoder(algorithm: .blake2b256, storeId: StoreID.random(), keyring: nil, chain: .zero)
            var r = draft(12345, docs[0]); r.seq = 12345; r.time = 1
            try? encoder.append(r, to: &buffer)
            return buffer.count
        }()
        let rounds = quick ? 1 : 3
        let noneCount = quick ? 50_000 : 300_000
        let syncCount = quick ? 300 : 2_000
        var rows: [(String, Samples, String)] = []
        func measure(_ name: String, _ unit: String, _ body: () throws -> Double) rethrows {
            var s = Samples()
            for _ in 0..<rounds { s.add(try body()) }
            rows.append((name, s, unit))
        }
        var fsync = Samples(), latency = Samples(), writes = Samples()
        for _ in 0..<rounds {
            writes.add(try writeRate(dir: dir, size: recordBytes, count: noneCount))
            let r = try fsyncRate(dir: dir, seconds: quick ? 0.5 : 2)
            fsync.add(r.rate)
            latency.add(r.latencyMicros)
        }
        try measure("NEDB append, durability none (1 writer)", "records/s") {
            try appendRate(dir: dir, durability: .none, writers: 1, count: noneCount, docs: docs)
        }
        try measure("NEDB append, durability always (1 writer)", "records/s") {
            try appendRate(dir: dir, durability: .always, writers: 1, count: syncCount, docs: docs)
        }
        for writers in [1, 8, 64] {
            try measure("NEDB append, durability batch (\(writers) writers)", "records/s") {
                try appendRate(dir: dir, durability: .batch, writers: writers, count: writers == 1 ? syncCount : syncCount * writers / 2, docs: docs)
            }
        }
        try measure("SQLite WAL, synchronous=OFF, one statement per transaction", "records/s") {
            try sqliteRate(dir: dir, synchronous: "OFF", batch: 1, count: noneCount / 2, docs: docs)
        }
        try measure("SQLite WAL, synchronous=NORMAL, 1000 rows per transaction", "records/s") {
            try sqliteRate(dir: dir, synchronous: "NORMAL", batch: 1000, count: noneCount, docs: docs)
        }
        try measure("SQLite WAL, synchronous=FULL, one statement per transaction", "records/s") {
            try sqliteRate(dir: dir, synchronous: "FULL", batch: 1, count: syncCount, docs: docs)
        }
        var table = ResultTable(title: "Store (issue 3): appends of \(recordBytes)-byte records (\(docs[0].count)-byte documents)",
                                columns: ["workload", "median", "spread", "note"])
        table.add(["raw fdatasync of 250-byte appends (same disk)", fmtCount(fsync.median) + " fsync/s",
                   "±" + fmt(fsync.spreadPercent) + "%", "latency " + fmt(latency.median) + " µs"])
        table.add(["raw pwrite of \(recordBytes)-byte appends, no fsync (same disk)", fmtCount(writes.median) + " writes/s",
                   "±" + fmt(writes.spreadPercent) + "%", "what one system call per append would cost"])
        let noneRate = rows[0].1.median, alwaysRate = rows[1].1.median, batch64 = rows[4].1.median
        for (name, s, unit) in rows {
            var note = ""
            if name.contains("none") { note = fmt(s.median / writes.median, 2) + "× the raw pwrite rate (appends copied into a mapped file); target ≥ 500,000/s" }
            if name.contains("always") { note = fmt(s.median / fsync.median * 100) + "% of raw fsync rate (target ≥ 80%)" }
            if name.contains("64 writers") { note = "target ≥ 100,000/s" }
            if name.contains("synchronous=OFF") { note = "NEDB none / SQLite: " + fmt(noneRate / s.median, 2) + "×" }
            if name.contains("synchronous=FULL") { note = "NEDB always / SQLite: " + fmt(alwaysRate / s.median, 2) + "×" }
            if name.contains("NORMAL") { note = "NEDB batch(64) / SQLite: " + fmt(batch64 / s.median, 2) + "×" }
            table.add([name, fmtCount(s.median) + " " + unit, "±" + fmt(s.spreadPercent) + "%", note])
        }
        return [table]
    }
}
