#if canImport(Glibc)
import Glibc
#endif
import NEDB

/// Issues 6 and 7: the engine workloads, NEDB and SQLite side by side in one process, rounds
/// interleaved (NEDB, SQLite, SQLite, NEDB, …), median and spread per workload, and the ratio.
/// With `--json FILE` every measurement is also appended to FILE as one JSON line, which
/// tools/bench_report.py merges with the Python peers' lines into BENCHMARKS.md.
enum EngineBench {
    enum Unit: String { case opsPerSecond = "ops/s", micros = "µs", millis = "ms", bytes = "bytes" }

    struct Workload {
        let id: String
        let title: String
        let unit: Unit
        let target: String
        let body: (EngineSubject, inout Rng) throws -> Double
    }

    static func workloads(_ data: EngineDataset, scratch: String) -> [Workload] {
        let loaded = { (s: EngineSubject) in PathUtil.join(scratch, "engine-\(s.name)") }
        let fresh = { (s: EngineSubject) in PathUtil.join(scratch, "engine-\(s.name)-writes") }
        return [
            Workload(id: "put_durable", title: "put, durable, one writer (fsync per put)", unit: .opsPerSecond, target: "") { s, _ in
                try s.putDurable(data, directory: fresh(s)) },
            Workload(id: "put_batch", title: "put, durable batches of \(data.batchSize) (one fsync per batch)", unit: .opsPerSecond, target: "") { s, _ in
                try s.putBatches(data, directory: fresh(s)) },
            Workload(id: "put_memory", title: "put, in memory", unit: .opsPerSecond, target: "") { s, _ in try s.putMemory(data) },
            Workload(id: "get_head", title: "get at HEAD", unit: .opsPerSecond, target: "≥ 2,000,000/s") { s, r in try s.getHead(data, random: &r) },
            Workload(id: "get_as_of", title: "get AS OF an earlier seq", unit: .opsPerSecond, target: "") { s, r in try s.getAsOf(data, random: &r) },
            Workload(id: "query_eq", title: "NQL eq-indexed WHERE, LIMIT 10", unit: .micros, target: "< 20 µs, ≤ 2× SQLite") { s, _ in try s.eqQuery(data) },
            Workload(id: "query_range", title: "NQL range + ORDER BY + LIMIT 10", unit: .micros, target: "≤ 2× SQLite") { s, _ in try s.rangeQuery(data) },
            Workload(id: "query_search", title: "NQL SEARCH (1–3 terms), LIMIT 10", unit: .micros, target: "≤ 2× SQLite") { s, _ in try s.searchQuery(data) },
            Workload(id: "query_group", title: "NQL GROUP BY status COUNT", unit: .micros, target: "≤ 2× SQLite") { s, _ in try s.groupQuery(data) },
            Workload(id: "query_trace", title: "NQL TRACE caused_by (9 causes)", unit: .micros, target: "≤ 2× SQLite") { s, _ in try s.traceQuery(data) },
            Workload(id: "open", title: "reopen the loaded database, first get", unit: .millis, target: "") { s, _ in try s.reopen(directory: loaded(s)) },
            Workload(id: "verify", title: "full verification (SQLite: integrity_check)", unit: .millis, target: "") { s, _ in try s.verify() },
            Workload(id: "size", title: "size on disk of the loaded database", unit: .bytes, target: "") { s, _ in try s.sizeOnDisk(directory: loaded(s)) },
        ]
    }

    static func run(quick: Bool, scratch: String, jsonPath: String?, only: Set<String>, rounds: Int?, roundBase: Int) throws -> [ResultTable] {
        let count = quick ? 10_000 : 100_000
        let rounds = rounds ?? (quick ? 3 : 5)
        let data = EngineDataset(count: count, quick: quick)
        let subjects: [EngineSubject] = [NEDBSubject(), SQLiteSubject()]
        for s in subjects { try s.load(data, directory: PathUtil.join(scratch, "engine-\(s.name)")) }
        var samples: [String: [String: Samples]] = [:]
        var json: [String] = []
        let chosen = workloads(data, scratch: scratch).filter { only.isEmpty || only.contains($0.id) }
        var random = Rng(state: 42)
        for round in 0..<rounds {
            for w in chosen {
                // Alternate which system goes first, so neither always runs on a warmer cache.
                for s in round % 2 == 0 ? subjects : subjects.reversed() {
                    let value = try w.body(s, &random)
                    samples[w.id, default: [:]][s.name, default: Samples()].add(value)
                    json.append(#"{"suite":"engine","workload":"\#(w.id)","system":"\#(s.name)","round":\#(roundBase + round),"value":\#(value),"unit":"\#(w.unit.rawValue)","documents":\#(count)}"#)
                }
            }
        }
        if let jsonPath { try appendLines(json, to: jsonPath) }
        for s in subjects { try StoreBench.fresh(PathUtil.join(scratch, "engine-\(s.name)")) }
        var table = ResultTable(title: "Engine (issues 6 and 7): \(fmtCount(Double(count))) documents, median of \(rounds) interleaved rounds (± half the range)",
                                columns: ["workload", "NEDB", "SQLite", "NEDB vs SQLite", "target"])
        for w in chosen {
            guard let a = samples[w.id]?["NEDB"], let b = samples[w.id]?["SQLite"] else { continue }
            table.add([w.title, show(a, w.unit), show(b, w.unit), ratio(a.median, b.median, w.unit), w.target])
        }
        return [table]
    }

    static func show(_ s: Samples, _ unit: Unit) -> String {
        let spread = " ±\(fmt(s.spreadPercent, 0))%"
        switch unit {
        case .opsPerSecond: return fmtCount(s.median) + "/s" + spread
        case .micros: return fmt(s.median, 1) + " µs" + spread
        case .millis: return fmt(s.median, 1) + " ms" + spread
        case .bytes: return fmt(s.median / 1_048_576, 1) + " MiB"
        }
    }

    /// How many times better NEDB is (>1) or worse (<1): throughput over throughput, or the
    /// peer's time (or size) over NEDB's.
    static func ratio(_ nedb: Double, _ peer: Double, _ unit: Unit) -> String {
        guard nedb > 0, peer > 0 else { return "—" }
        let r = unit == .opsPerSecond ? nedb / peer : peer / nedb
        return r >= 1 ? "\(fmt(r, 2))× better" : "\(fmt(1 / r, 2))× worse"
    }

    static func appendLines(_ lines: [String], to path: String) throws {
        let fs = PosixFileSystem()
        let f = try fs.openForWriting(path, create: true)
        defer { f.close() }
        try f.write(Array((lines.joined(separator: "\n") + "\n").utf8), at: try f.size())
    }
}
