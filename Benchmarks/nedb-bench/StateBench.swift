import NEDBFormat
import NEDBFixtureKit
import NEDBState
import NEDBStore

/// Issue 4's benchmark: open time (state ready) for stores of 10K, 100K and 1M records with and
/// without a checkpoint, and the full-replay rate.
enum StateBench {
    static func build(dir: String, count: Int, checkpoint: Bool) throws {
        try StoreBench.fresh(dir)
        var options = StoreOptions()
        options.durability = .none
        options.trustCanonicalDocuments = true
        let store = try LogStore.open(dir, options: options)
        let docs = StoreBench.documents(5000)
        var batch: [Record] = []
        for i in 0..<count {
            // 70% updates of existing documents, so history is longer than the live set.
            batch.append(StoreBench.draft(i % max(1, count * 3 / 10), docs[i % docs.count]))
            if batch.count == 1 {
                try store.append(batch)
                batch.removeAll()
            }
        }
        if checkpoint {
            let (state, _) = try StateLoader.load(store: store, useCheckpoints: false)
            try StateLoader.writeCheckpoint(state, store: store)
            // A small tail after the checkpoint.
            for i in 0..<100 { try store.append(StoreBench.draft(i, docs[i])) }
        }
        try store.close()
    }

    /// Opens the store and loads the state; returns total seconds, the seconds spent loading
    /// the state (after the store is open) and the records replayed.
    static func open(dir: String, useCheckpoints: Bool) throws -> (seconds: Double, stateSeconds: Double, replayed: UInt64) {
        var replayed: UInt64 = 0
        var stateSeconds = 0.0
        let t = try Clock.time {
            var options = StoreOptions()
            options.readOnly = true
            let store = try LogStore.open(dir, options: options)
            let start = Clock.now()
            let (state, report) = try StateLoader.load(store: store, useCheckpoints: useCheckpoints)
            stateSeconds = Clock.now() - start
            replayed = report.replayed
            _ = try state.document(collection: "users", id: "user1", at: ReadPoint(asOf: store.lastSeq))
        }
        return (t, stateSeconds, replayed)
    }

    static func run(quick: Bool, scratch: String) throws -> [ResultTable] {
        let sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]
        var table = ResultTable(title: "State (issue 4): open time (store opened read-only and state loaded), median of 3",
                                columns: ["records", "open without checkpoint", "full replay rate (state fold only)",
                                          "open with checkpoint (tail 100)", "ratio to 10K"])
        var base: Double = 0
        for n in sizes {
            let dirA = PathUtil.join(scratch, "state-\(n)"), dirB = PathUtil.join(scratch, "state-\(n)-ckpt")
            try build(dir: dirA, count: n, checkpoint: false)
            try build(dir: dirB, count: n, checkpoint: true)
            var full = Samples(), fold = Samples(), withCheckpoint = Samples()
            var replayed: UInt64 = 0
            for _ in 0..<3 {
                let a = try open(dir: dirA, useCheckpoints: false)
                full.add(a.seconds)
                fold.add(a.stateSeconds)
                replayed = a.replayed
                withCheckpoint.add(try open(dir: dirB, useCheckpoints: true).seconds)
            }
            if n == sizes[0] { base = withCheckpoint.median }
            table.add([fmtCount(Double(n)), fmt(full.median * 1000) + " ms", fmtCount(Double(replayed) / fold.median) + " records/s (target ≥ 500,000)",
                       fmt(withCheckpoint.median * 1000, 2) + " ms", fmt(withCheckpoint.median / base, 2) + "× (target ≤ 3×)"])
            try StoreBench.fresh(dirA)
            try StoreBench.fresh(dirB)
        }
        return [table]
    }
}
