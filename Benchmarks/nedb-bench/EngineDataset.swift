#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat
import NEDBFixtureKit

/// The data and the operation mix every engine workload uses, for NEDB, SQLite and the Python
/// peers alike (the peers read it from files written by `nedb-bench dataset`): `count` user
/// documents (~250 bytes of JSON each, fixed seed), then updates of the first fifth of them (so
/// AS OF has history to read), then chains of ten events linked by caused_by (for TRACE).
struct EngineDataset {
    let count: Int
    let users: [(id: String, document: JSONValue)]
    let updates: [(id: String, document: JSONValue)]
    /// Events in order; `cause` is the index of the causing event (nil for a chain's first).
    let events: [(id: String, document: JSONValue, cause: Int?)]

    /// Operation counts of the timed workloads.
    let durablePuts: Int, batches: Int, batchSize: Int, memoryPuts: Int, gets: Int, queries: Int

    /// Query texts (NQL) cycled through by the query workloads.
    let eqQueries: [String], rangeQueries: [String], searchQueries: [String], groupQuery: String, traceQueries: [String]
    /// The parameters behind them, for the SQL equivalents.
    let eqValues: [String], rangeValues: [Int], searchTerms: [[String]], traceIds: [String]

    init(count: Int, quick: Bool) {
        self.count = count
        var random = DeterministicRandom(seed: 2024)
        users = (0..<count).map { ("user\($0)", BenchData.document($0, random: &random)) }
        updates = (0..<(count / 5)).map { ("user\($0)", BenchData.document($0 + count, random: &random)) }
        let eventCount = max(100, count / 10)
        events = (0..<eventCount).map { i in
            ("e\(i)", .object(["n": .number(Double(i)), "text": .string("event \(i) of chain \(i / 10)")]), i % 10 == 0 ? nil : i - 1)
        }
        durablePuts = quick ? 200 : 1000
        batches = quick ? 5 : 20
        batchSize = 1000
        memoryPuts = min(count, quick ? 10_000 : 50_000)
        gets = quick ? 100_000 : 1_000_000
        queries = quick ? 300 : 2000
        eqValues = BenchData.statuses
        eqQueries = eqValues.map { #"FROM users WHERE status = "\#($0)" LIMIT 10"# }
        rangeValues = [30, 45, 60, 70]
        rangeQueries = rangeValues.map { "FROM users WHERE age > \($0) ORDER BY age LIMIT 10" }
        searchTerms = [["rust", "hacker"], ["poet"], ["swift", "chef"], ["pilot", "runner", "writer"]]
        searchQueries = searchTerms.map { #"FROM users SEARCH "\#($0.joined(separator: " "))" LIMIT 10"# }
        groupQuery = "FROM users GROUP BY status COUNT"
        traceIds = stride(from: 9, to: eventCount, by: max(10, eventCount / 16)).map { "e\($0)" }
        traceQueries = traceIds.map { #"FROM events WHERE _id = "\#($0)" TRACE caused_by"# }
    }

    /// Writes the dataset and the workload parameters for the Python peer:
    /// users.ndjson, updates.ndjson, events.ndjson ({"id", "doc", "cause"?}) and workloads.json.
    func write(to directory: String) throws {
        let fs = PosixFileSystem()
        try fs.createDirectories(directory)
        func ndjson(_ name: String, _ lines: [JSONValue]) throws {
            let f = try fs.openForWriting(PathUtil.join(directory, name), create: true)
            defer { f.close() }
            var bytes: [UInt8] = []
            for l in lines { bytes += JCS.serialize(l); bytes.append(0x0A) }
            try f.truncate(to: 0)
            try f.write(bytes, at: 0)
        }
        try ndjson("users.ndjson", users.map { .object(["id": .string($0.id), "doc": $0.document]) })
        try ndjson("updates.ndjson", updates.map { .object(["id": .string($0.id), "doc": $0.document]) })
        try ndjson("events.ndjson", events.map { e in
            var o: [String: JSONValue] = ["id": .string(e.id), "doc": e.document]
            if let c = e.cause { o["cause"] = .number(Double(c)) }
            return .object(o)
        })
        let strings = { (a: [String]) in JSONValue.array(a.map { .string($0) }) }
        try ndjson("workloads.json", [.object([
            "count": .number(Double(count)), "durable_puts": .number(Double(durablePuts)), "batches": .number(Double(batches)),
            "batch_size": .number(Double(batchSize)), "memory_puts": .number(Double(memoryPuts)), "gets": .number(Double(gets)),
            "queries": .number(Double(queries)), "eq_queries": strings(eqQueries), "range_queries": strings(rangeQueries),
            "search_queries": strings(searchQueries), "group_query": .string(groupQuery), "trace_queries": strings(traceQueries),
        ])])
    }
}
