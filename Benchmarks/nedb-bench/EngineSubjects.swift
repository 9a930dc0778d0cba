import NEDB

/// One system under test in the engine benchmark. Every method runs one round of one workload
/// and returns its measurement in the workload's unit (operations per second, µs per query,
/// ms, or bytes).
protocol EngineSubject: AnyObject {
    var name: String { get }
    /// Builds the loaded database the read workloads use (untimed).
    func load(_ data: EngineDataset, directory: String) throws
    func putMemory(_ data: EngineDataset) throws -> Double
    func putDurable(_ data: EngineDataset, directory: String) throws -> Double
    func putBatches(_ data: EngineDataset, directory: String) throws -> Double
    func getHead(_ data: EngineDataset, random: inout Rng) throws -> Double
    func getAsOf(_ data: EngineDataset, random: inout Rng) throws -> Double
    func eqQuery(_ data: EngineDataset) throws -> Double
    func rangeQuery(_ data: EngineDataset) throws -> Double
    func searchQuery(_ data: EngineDataset) throws -> Double
    func groupQuery(_ data: EngineDataset) throws -> Double
    func traceQuery(_ data: EngineDataset) throws -> Double
    func reopen(directory: String) throws -> Double
    func verify() throws -> Double
    func sizeOnDisk(directory: String) throws -> Double
}

/// A small fast generator for picking ids.
struct Rng {
    var state: UInt64
    mutating func next(_ n: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(n))
    }
}

/// Runs `body` `count` times and returns µs per call.
func microsPerCall(_ count: Int, _ body: (Int) throws -> Void) rethrows -> Double {
    let start = Clock.now()
    for i in 0..<count { try body(i) }
    return (Clock.now() - start) / Double(count) * 1e6
}

/// Bytes of every file under `path`.
func directoryBytes(_ path: String) -> Double {
    let fs = PosixFileSystem()
    if !fs.isDirectory(path) { return Double((try? fs.openForReading(path).size()) ?? 0) }
    var total = 0.0
    for name in (try? fs.listDirectory(path)) ?? [] { total += directoryBytes(PathUtil.join(path, name)) }
    return total
}

/// NEDB through its public engine API (`Database`), exactly as an application would use it.
final class NEDBSubject: EngineSubject {
    let name = "NEDB"
    var db: Database?
    var snapshotSeq: UInt64 = 0
    var eventSeqs: [UInt64] = []
    var sink = 0

    static func indexes(_ db: Database) throws {
        try db.createIndex("users", "status", .eq)
        try db.createIndex("users", "age", .ordered)
        try db.createIndex("users", "bio", .search)
    }

    func load(_ data: EngineDataset, directory: String) throws {
        try StoreBench.fresh(directory)
        var options = DatabaseOptions()
        options.checkpointEvery = nil
        let db = try Database.open(directory, options: options)
        try NEDBSubject.indexes(db)
        for chunk in stride(from: 0, to: data.users.count, by: 1000) {
            try db.transaction(data.users[chunk..<min(data.users.count, chunk + 1000)].map {
                .put(collection: "users", id: $0.id, document: $0.document)
            })
        }
        snapshotSeq = db.seq
        for chunk in stride(from: 0, to: data.updates.count, by: 1000) {
            try db.transaction(data.updates[chunk..<min(data.updates.count, chunk + 1000)].map {
                .put(collection: "users", id: $0.id, document: $0.document)
            })
        }
        eventSeqs = []
        for e in data.events {
            let causes = e.cause.map { [eventSeqs[$0]] } ?? []
            eventSeqs.append(try db.put("events", e.id, e.document, WriteOptions(causedBy: causes, durability: Durability.none)).seq)
        }
        try db.checkpoint()
        self.db = db
    }

    func putMemory(_ data: EngineDataset) throws -> Double {
        let db = try Database.inMemory()
        try NEDBSubject.indexes(db)
        let n = data.memoryPuts
        let t = try Clock.time { for i in 0..<n { try db.put("users", data.users[i].id, data.users[i].document) } }
        return Double(n) / t
    }

    func putDurable(_ data: EngineDataset, directory: String) throws -> Double {
        try StoreBench.fresh(directory)
        var options = DatabaseOptions()
        options.durability = .always
        let db = try Database.open(directory, options: options)
        try NEDBSubject.indexes(db)
        let n = data.durablePuts
        let t = try Clock.time { for i in 0..<n { try db.put("users", data.users[i].id, data.users[i].document) } }
        try db.close()
        try StoreBench.fresh(directory)
        return Double(n) / t
    }

    func putBatches(_ data: EngineDataset, directory: String) throws -> Double {
        try StoreBench.fresh(directory)
        let db = try Database.open(directory)
        try NEDBSubject.indexes(db)
        let n = data.batches * data.batchSize
        let t = try Clock.time {
            for b in 0..<data.batches {
                let slice = data.users[(b * data.batchSize)..<((b + 1) * data.batchSize)]
                try db.transaction(slice.map { .put(collection: "users", id: $0.id, document: $0.document) }, durability: .always)
            }
        }
        try db.close()
        try StoreBench.fresh(directory)
        return Double(n) / t
    }

    func getHead(_ data: EngineDataset, random: inout Rng) throws -> Double {
        guard let db else { return 0 }
        let ids = (0..<4096).map { _ in data.users[random.next(data.users.count)].id }
        var found = 0
        let t = try Clock.time {
            for i in 0..<data.gets where try db.get("users", ids[i & 4095]) != nil { found += 1 }
        }
        sink &+= found
        return Double(data.gets) / t
    }

    func getAsOf(_ data: EngineDataset, random: inout Rng) throws -> Double {
        guard let db else { return 0 }
        let ids = (0..<4096).map { _ in data.updates[random.next(data.updates.count)].id }
        let at = snapshotSeq
        var found = 0
        let n = data.gets / 2
        let t = try Clock.time {
            for i in 0..<n where try db.get("users", ids[i & 4095], asOf: at) != nil { found += 1 }
        }
        sink &+= found
        return Double(n) / t
    }

    /// µs per query, warm: each distinct query runs once untimed first (as SQLite's are prepared).
    func run(_ queries: [String], _ count: Int) throws -> Double {
        guard let db else { return 0 }
        for q in queries { sink &+= try db.query(q).count }
        return try microsPerCall(count) { i in sink &+= try db.query(queries[i % queries.count]).count }
    }

    func eqQuery(_ data: EngineDataset) throws -> Double { try run(data.eqQueries, data.queries) }
    func rangeQuery(_ data: EngineDataset) throws -> Double { try run(data.rangeQueries, data.queries) }
    func searchQuery(_ data: EngineDataset) throws -> Double { try run(data.searchQueries, data.queries) }
    func groupQuery(_ data: EngineDataset) throws -> Double { try run([data.groupQuery], max(10, data.queries / 50)) }
    func traceQuery(_ data: EngineDataset) throws -> Double { try run(data.traceQueries, data.queries) }

    func reopen(directory: String) throws -> Double {
        try db?.close()
        db = nil
        let t = try Clock.time {
            let reopened = try Database.open(directory)
            sink &+= try reopened.get("users", "user1") == nil ? 0 : 1
            db = reopened
        }
        return t * 1000
    }

    func verify() throws -> Double {
        guard let db else { return 0 }
        var ok = false
        let t = Clock.time { ok = db.verify().ok }
        guard ok else { throw SQLitePeer.Failure.sqlite("NEDB verify failed") }
        return t * 1000
    }

    func sizeOnDisk(directory: String) throws -> Double { directoryBytes(directory) }
}
