#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat
import NEDBStore
import NEDBState

// nedb-bench [--quick] [--json FILE] [--only W1,W2] [--rounds N --round-base B] [SUITE ...]
// (run: swift run -c release nedb-bench)
// Suites: format, store, state, tools, engine (default: all). Results are Markdown tables on
// stdout; --json appends one JSON line per engine measurement to FILE (tools/bench.sh merges them
// with the Python peers' into BENCHMARKS.md). `nedb-bench dataset N DIR` writes the engine
// workload's data for the peers.
var arguments = Array(CommandLine.arguments.dropFirst())
let quick = arguments.contains("--quick")
/// Removes `name VALUE` from `list` and returns VALUE.
func takeOption(_ name: String, from list: inout [String]) -> String? {
    guard let i = list.firstIndex(of: name), i + 1 < list.count else { return nil }
    let value = list[i + 1]
    list.removeSubrange(i...(i + 1))
    return value
}
let jsonPath = takeOption("--json", from: &arguments)
let only = Set((takeOption("--only", from: &arguments) ?? "").split(separator: ",").map(String.init))
let rounds = takeOption("--rounds", from: &arguments).flatMap { Int($0) }
let roundBase = takeOption("--round-base", from: &arguments).flatMap { Int($0) } ?? 0
arguments.removeAll { $0.hasPrefix("--") }
let suites = arguments.isEmpty ? ["format", "store", "state", "tools", "engine"] : arguments
let scratch = getenv("NEDB_BENCH_DIR").map { String(cString: $0) } ?? "/tmp"
do {
    for suite in suites {
        let tables: [ResultTable]
        switch suite {
        case "format": tables = try FormatBench.run(quick: quick, scratch: scratch)
        case "store": tables = try StoreBench.run(quick: quick, scratch: scratch)
        case "state": tables = try StateBench.run(quick: quick, scratch: scratch)
        case "tools": tables = try ToolsBench.run(quick: quick, scratch: scratch)
        case "engine": tables = try EngineBench.run(quick: quick, scratch: scratch, jsonPath: jsonPath, only: only,
                                                      rounds: rounds, roundBase: roundBase)
        case "dataset":          // nedb-bench dataset COUNT DIR: the engine workload's data for the Python peers
            guard arguments.count == 3, let n = Int(arguments[1]) else { print("usage: nedb-bench dataset COUNT DIR"); exit(2) }
            try EngineDataset(count: n, quick: quick).write(to: arguments[2])
            exit(0)
        case "codec-loop":       // profiling aid: ns per record for each step of encoding and decoding
            FormatBench.codecLoop()
            tables = []
        case "make-store":       // profiling aid: write a 200K-record store to the last argument
            guard let directory = arguments.last, arguments.count > 1 else { print("usage: nedb-bench make-store DIR"); exit(2) }
            try FormatBench.makeStore(count: 200_000, directory: directory)
            tables = []
        case "append-loop":      // profiling aid: 100K appends with durability none
            let docs = StoreBench.documents(1000)
            let count = getenv("NEDB_COUNT").flatMap { Int(String(cString: $0)) } ?? 100_000
            print(try StoreBench.appendRate(dir: scratch + "/append-loop", durability: .none, writers: 1, count: count, docs: docs))
            tables = []
        case "batch-loop":       // profiling aid: 64 writers, durability batch
            let docs = StoreBench.documents(1000)
            print(try StoreBench.appendRate(dir: scratch + "/batch-loop", durability: .batch, writers: 64, count: 40_000, docs: docs))
            tables = []
        case "open-loop":        // profiling aid: open a checkpointed store 20 times
            let dir = scratch + "/open-loop"
            let records = getenv("NEDB_COUNT").flatMap { Int(String(cString: $0)) } ?? 100_000
            if getenv("NEDB_REUSE") == nil { try StateBench.build(dir: dir, count: records, checkpoint: true) }
            for _ in 0..<(getenv("NEDB_REUSE") == nil ? 5 : 60) {
                var options = StoreOptions()
                options.readOnly = true
                let t0 = Clock.now()
                let store = try LogStore.open(dir, options: options)
                let t1 = Clock.now()
                let (state, report) = try StateLoader.load(store: store)
                let t2 = Clock.now()
                _ = try state.document(collection: "users", id: "user1", at: ReadPoint(asOf: store.lastSeq))
                print("store open \(fmt((t1 - t0) * 1000, 2)) ms, state load \(fmt((t2 - t1) * 1000, 2)) ms, replayed \(report.replayed), segments \(store.segments.count)")
            }
            tables = []
        case "query-loop":       // profiling aid: load the engine dataset (reopened from a checkpoint), run NEDB_QUERY in a loop
            let data = EngineDataset(count: quick ? 10_000 : 100_000, quick: quick)
            let subject = NEDBSubject()
            let dir = scratch + "/query-loop"
            try subject.load(data, directory: dir)
            _ = try subject.reopen(directory: dir)
            let text = getenv("NEDB_QUERY").map { String(cString: $0) } ?? data.eqQueries[0]
            guard let db = subject.db else { exit(1) }
            var rows = 0
            let t = try Clock.time { for _ in 0..<20_000 { rows += try db.query(text).count } }
            print("\(text): \(fmt(t / 20_000 * 1e6, 2)) µs per query, \(rows / 20_000) rows")
            tables = []
        case "reopen-loop":      // profiling aid: load the engine dataset once, then close and reopen it repeatedly
            let data = EngineDataset(count: quick ? 10_000 : 100_000, quick: quick)
            let subject = NEDBSubject()
            let dir = scratch + "/reopen-loop"
            try subject.load(data, directory: dir)
            var times: [Double] = []
            for _ in 0..<(getenv("NEDB_COUNT").flatMap { Int(String(cString: $0)) } ?? 40) { times.append(try subject.reopen(directory: dir)) }
            print("reopen ms: " + times.map { fmt($0, 2) }.joined(separator: " "))
            tables = []
        case "verify-loop":      // profiling aid: verify a directory repeatedly
            guard let directory = arguments.last, arguments.count > 1 else { print("usage: nedb-bench verify-loop DIR"); exit(2) }
            for _ in 0..<20 { _ = StoreVerifier.verify(directory: directory) }
            tables = []
        default:
            print("unknown suite \(suite)")
            exit(2)
        }
        for t in tables { print(t.markdown) }
    }
} catch {
    let message = Array("nedb-bench: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
