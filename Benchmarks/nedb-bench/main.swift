#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat
import NEDBStore
import NEDBState

// nedb-bench [--quick] [SUITE ...]   (run with: swift run -c release nedb-bench)
// Suites: format. Results are printed as Markdown tables.
var arguments = Array(CommandLine.arguments.dropFirst())
let quick = arguments.contains("--quick")
arguments.removeAll { $0.hasPrefix("--") }
let suites = arguments.isEmpty ? ["format", "store", "state"] : arguments
let scratch = getenv("NEDB_BENCH_DIR").map { String(cString: $0) } ?? "/tmp"
do {
    for suite in suites {
        let tables: [ResultTable]
        switch suite {
        case "format": tables = try FormatBench.run(quick: quick, scratch: scratch)
        case "store": tables = try StoreBench.run(quick: quick, scratch: scratch)
        case "state": tables = try StateBench.run(quick: quick, scratch: scratch)
        case "make-store":       // profiling aid: write a 200K-record store to the last argument
            try FormatBench.makeStore(count: 200_000, directory: arguments.last!)
            tables = []
        case "append-loop":      // profiling aid: 100K appends with durability none
            let docs = StoreBench.documents(1000)
            print(try StoreBench.appendRate(dir: scratch + "/append-loop", durability: .none, writers: 1, count: 100_000, docs: docs))
            tables = []
        case "batch-loop":       // profiling aid: 64 writers, durability batch
            let docs = StoreBench.documents(1000)
            print(try StoreBench.appendRate(dir: scratch + "/batch-loop", durability: .batch, writers: 64, count: 40_000, docs: docs))
            tables = []
        case "open-loop":        // profiling aid: open a checkpointed store 20 times
            let dir = scratch + "/open-loop"
            if getenv("NEDB_REUSE") == nil { try StateBench.build(dir: dir, count: 100_000, checkpoint: true) }
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
        case "verify-loop":      // profiling aid: verify a directory repeatedly
            for _ in 0..<20 { _ = StoreVerifier.verify(directory: arguments.last!) }
            tables = []
        default:
            print("unknown suite \(suite)")
            exit(2)
        }
        for t in tables { print(t.markdown) }
    }
} catch {
    print("nedb-bench: \(error)")
    exit(1)
}
