import NEDB

/// SQLite with the schema an application would use for the same features: `current` (one row
/// per document, indexed on status and age, WITHOUT ROWID so id order is free), `history` (every
/// version, for AS OF), an FTS5 table over bio (for SEARCH) and `events` with a cause column
/// (TRACE as a recursive CTE). A put writes history, current and FTS in one transaction.
/// WAL journal; synchronous=FULL where NEDB fsyncs (durable, batches), OFF in memory.
final class SQLiteSubject: EngineSubject {
    let name = "SQLite"
    var db: SQLitePeer?
    var snapshotSeq: Int64 = 0
    var sink = 0

    static let schema = [
        "CREATE TABLE current(id TEXT PRIMARY KEY, seq INTEGER, status TEXT, age REAL, bio TEXT, doc TEXT) WITHOUT ROWID",
        "CREATE INDEX current_status ON current(status)",
        "CREATE INDEX current_age ON current(age)",
        "CREATE TABLE history(seq INTEGER PRIMARY KEY, id TEXT, doc TEXT)",
        "CREATE INDEX history_id ON history(id, seq)",
        "CREATE VIRTUAL TABLE fts USING fts5(bio)",
        "CREATE TABLE events(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, doc TEXT, cause INTEGER)",
    ]

    /// Prepared statements of one put.
    final class Writer {
        let history, current, fts: SQLitePeer.Statement
        var seq: Int64 = 0
        init(_ db: SQLitePeer) throws {
            history = try db.prepare("INSERT INTO history(seq, id, doc) VALUES(?, ?, ?)")
            current = try db.prepare("INSERT OR REPLACE INTO current(id, seq, status, age, bio, doc) VALUES(?, ?, ?, ?, ?, ?)")
            fts = try db.prepare("INSERT OR REPLACE INTO fts(rowid, bio) VALUES(?, ?)")
        }

        func put(_ id: String, _ document: JSONValue) throws {
            seq += 1
            let text = String(decoding: JCS.serialize(document), as: UTF8.self)
            history.bind(1, seq); history.bind(2, id); history.bind(3, text)
            try history.run()
            current.bind(1, id); current.bind(2, seq)
            current.bind(3, document["status"]?.stringValue ?? "")
            current.bind(4, document["age"]?.numberValue ?? 0)
            current.bind(5, document["bio"]?.stringValue ?? "")
            current.bind(6, text)
            try current.run()
            fts.bind(1, Int64(id.dropFirst(4)) ?? 0)     // user<n> → rowid n
            fts.bind(2, document["bio"]?.stringValue ?? "")
            try fts.run()
        }
    }

    static func open(_ path: String, synchronous: String) throws -> SQLitePeer {
        let db = try SQLitePeer(path: path, synchronous: synchronous)
        for s in schema { try db.exec(s) }
        return db
    }

    func load(_ data: EngineDataset, directory: String) throws {
        try StoreBench.fresh(directory)
        try PosixFileSystem().createDirectories(directory)
        let db = try SQLiteSubject.open(directory + "/bench.sqlite", synchronous: "NORMAL")
        let writer = try Writer(db)
        func batch(_ rows: ArraySlice<(id: String, document: JSONValue)>) throws {
            try db.exec("BEGIN")
            for r in rows { try writer.put(r.id, r.document) }
            try db.exec("COMMIT")
        }
        for chunk in stride(from: 0, to: data.users.count, by: 1000) { try batch(data.users[chunk..<min(data.users.count, chunk + 1000)]) }
        snapshotSeq = writer.seq
        for chunk in stride(from: 0, to: data.updates.count, by: 1000) { try batch(data.updates[chunk..<min(data.updates.count, chunk + 1000)]) }
        let event = try db.prepare("INSERT INTO events(seq, id, doc, cause) VALUES(?, ?, ?, ?)")
        try db.exec("BEGIN")
        for (i, e) in data.events.enumerated() {
            event.bind(1, Int64(i + 1)); event.bind(2, e.id); event.bind(3, String(decoding: JCS.serialize(e.document), as: UTF8.self))
            if let c = e.cause { event.bind(4, Int64(c + 1)) } else { event.bindNull(4) }
            try event.run()
        }
        try db.exec("COMMIT")
        try db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        try db.exec("ANALYZE")
        self.db = db
    }

    /// Puts `count` users in transactions of `perTransaction`; returns puts per second.
    static func timedPuts(_ db: SQLitePeer, _ data: EngineDataset, count: Int, perTransaction: Int) throws -> Double {
        let writer = try Writer(db)
        let t = try Clock.time {
            for start in stride(from: 0, to: count, by: perTransaction) {
                try db.exec("BEGIN")
                for r in data.users[start..<min(count, start + perTransaction)] { try writer.put(r.id, r.document) }
                try db.exec("COMMIT")
            }
        }
        return Double(count) / t
    }

    /// A new file database in `directory` (removed again after `body`).
    static func withFileDatabase(_ directory: String, synchronous: String, _ body: (SQLitePeer) throws -> Double) throws -> Double {
        try StoreBench.fresh(directory)
        try PosixFileSystem().createDirectories(directory)
        let result = try body(try open(directory + "/bench.sqlite", synchronous: synchronous))
        try StoreBench.fresh(directory)
        return result
    }

    func putMemory(_ data: EngineDataset) throws -> Double {
        try SQLiteSubject.timedPuts(try SQLiteSubject.open(":memory:", synchronous: "OFF"), data, count: data.memoryPuts, perTransaction: 1)
    }

    func putDurable(_ data: EngineDataset, directory: String) throws -> Double {
        try SQLiteSubject.withFileDatabase(directory, synchronous: "FULL") { db in
            try SQLiteSubject.timedPuts(db, data, count: data.durablePuts, perTransaction: 1)
        }
    }

    func putBatches(_ data: EngineDataset, directory: String) throws -> Double {
        try SQLiteSubject.withFileDatabase(directory, synchronous: "FULL") { db in
            try SQLiteSubject.timedPuts(db, data, count: data.batches * data.batchSize, perTransaction: data.batchSize)
        }
    }

    func getHead(_ data: EngineDataset, random: inout Rng) throws -> Double {
        guard let db else { return 0 }
        let ids = (0..<4096).map { _ in data.users[random.next(data.users.count)].id }
        let s = try db.prepare("SELECT doc FROM current WHERE id = ?")
        var found = 0
        let t = Clock.time {
            for i in 0..<data.gets {
                s.bind(1, ids[i & 4095])
                if s.step(), let text = s.text(0) { found += text.utf8.count }
                s.reset()
            }
        }
        sink &+= found
        return Double(data.gets) / t
    }

    func getAsOf(_ data: EngineDataset, random: inout Rng) throws -> Double {
        guard let db else { return 0 }
        let ids = (0..<4096).map { _ in data.updates[random.next(data.updates.count)].id }
        let s = try db.prepare("SELECT doc FROM history WHERE id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1")
        var found = 0
        let n = data.gets / 2
        let t = Clock.time {
            for i in 0..<n {
                s.bind(1, ids[i & 4095]); s.bind(2, snapshotSeq)
                if s.step(), let text = s.text(0) { found += text.utf8.count }
                s.reset()
            }
        }
        sink &+= found
        return Double(n) / t
    }

    /// Runs a prepared statement `count` times with parameters from `bind`; µs per query
    /// (every row's text is materialised, as NEDB materialises rows).
    func run(_ sql: String, _ count: Int, bind: (SQLitePeer.Statement, Int) -> Void) throws -> Double {
        guard let db else { return 0 }
        let s = try db.prepare(sql)
        for i in 0..<4 {        // warm, like the NEDB side
            bind(s, i)
            while s.step() { sink &+= 1 }
            s.reset()
        }
        return microsPerCall(count) { i in
            bind(s, i)
            while s.step() { sink &+= s.text(0)?.utf8.count ?? 0 }
            s.reset()
        }
    }

    func eqQuery(_ data: EngineDataset) throws -> Double {
        try run("SELECT doc FROM current WHERE status = ? ORDER BY id LIMIT 10", data.queries) { s, i in
            s.bind(1, data.eqValues[i % data.eqValues.count])
        }
    }

    func rangeQuery(_ data: EngineDataset) throws -> Double {
        try run("SELECT doc FROM current WHERE age > ? ORDER BY age, id LIMIT 10", data.queries) { s, i in
            s.bind(1, Double(data.rangeValues[i % data.rangeValues.count]))
        }
    }

    func searchQuery(_ data: EngineDataset) throws -> Double {
        try run("SELECT c.doc FROM fts JOIN current c ON c.id = 'user' || fts.rowid WHERE fts MATCH ? ORDER BY c.id LIMIT 10", data.queries) { s, i in
            s.bind(1, data.searchTerms[i % data.searchTerms.count].joined(separator: " AND "))
        }
    }

    func groupQuery(_ data: EngineDataset) throws -> Double {
        try run("SELECT status || ':' || count(*) FROM current GROUP BY status ORDER BY status", max(10, data.queries / 50)) { _, _ in }
    }

    func traceQuery(_ data: EngineDataset) throws -> Double {
        try run("""
            WITH RECURSIVE causes(seq) AS (SELECT cause FROM events WHERE id = ? AND cause IS NOT NULL
              UNION SELECT e.cause FROM events e JOIN causes ON e.seq = causes.seq WHERE e.cause IS NOT NULL)
            SELECT doc FROM events JOIN causes USING(seq) ORDER BY seq
            """, data.queries) { s, i in
            s.bind(1, data.traceIds[i % data.traceIds.count])
        }
    }

    func reopen(directory: String) throws -> Double {
        db = nil
        let t = try Clock.time {
            let reopened = try SQLitePeer(path: directory + "/bench.sqlite", synchronous: "NORMAL")
            let s = try reopened.prepare("SELECT doc FROM current WHERE id = 'user1'")
            sink &+= s.step() ? 1 : 0
            s.reset()
            db = reopened
        }
        return t * 1000
    }

    func verify() throws -> Double {
        guard let db else { return 0 }
        let s = try db.prepare("PRAGMA integrity_check")
        var result = ""
        let t = Clock.time {
            if s.step() { result = s.text(0) ?? "" }
            s.reset()
        }
        guard result == "ok" else { throw SQLitePeer.Failure.sqlite("integrity_check: \(result)") }
        return t * 1000
    }

    func sizeOnDisk(directory: String) throws -> Double {
        try db?.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        return directoryBytes(directory)
    }
}
