import CSQLite

/// SQLite (Debian's libsqlite3) as the side-by-side peer, wrapped thinly for the benchmarks.
final class SQLitePeer {
    enum Failure: Error, CustomStringConvertible, Sendable {
        case sqlite(String)
        var description: String { if case let .sqlite(s) = self { return s }; return "" }
    }

    private var db: OpaquePointer?

    init(path: String, synchronous: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw Failure.sqlite("cannot open \(path)") }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=\(synchronous)")
    }

    deinit { sqlite3_close(db) }

    func exec(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(db, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite3_free(error)
            throw Failure.sqlite("\(sql): \(message)")
        }
    }

    /// A prepared statement.
    final class Statement {
        let handle: OpaquePointer?
        init(db: OpaquePointer?, sql: String) throws {
            var s: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK else {
                throw Failure.sqlite("prepare failed: \(String(cString: sqlite3_errmsg(db)))")
            }
            handle = s
        }
        deinit { sqlite3_finalize(handle) }

        func bind(_ i: Int32, _ text: String) { sqlite3_bind_text(handle, i, text, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
        func bind(_ i: Int32, _ value: Double) { sqlite3_bind_double(handle, i, value) }
        func bind(_ i: Int32, _ value: Int64) { sqlite3_bind_int64(handle, i, value) }
        func bindNull(_ i: Int32) { sqlite3_bind_null(handle, i) }

        /// Runs the statement to completion; returns the number of rows produced.
        @discardableResult
        func run() throws -> Int {
            var rows = 0
            while true {
                let rc = sqlite3_step(handle)
                if rc == SQLITE_ROW { rows += 1; continue }
                if rc == SQLITE_DONE { break }
                throw Failure.sqlite("step failed: \(rc)")
            }
            sqlite3_reset(handle)
            return rows
        }

        func step() -> Bool { sqlite3_step(handle) == SQLITE_ROW }
        func reset() { sqlite3_reset(handle) }
        func text(_ column: Int32) -> String? { sqlite3_column_text(handle, column).map { String(cString: $0) } }
    }

    func prepare(_ sql: String) throws -> Statement { try Statement(db: db, sql: sql) }
}
