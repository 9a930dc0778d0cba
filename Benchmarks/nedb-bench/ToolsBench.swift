#if canImport(Glibc)
import Glibc
#endif
import NEDB

/// Issue 5's benchmark: full verification throughput (what `nedb-verify` runs) on a large store
/// with one core and with every core, beside raw BLAKE2b measured in the same run; and proof
/// generation, verification and size (what `nedb-prove` writes and `nedb-prove verify` checks)
/// on a store of a million records.
enum ToolsBench {
    static func run(quick: Bool, scratch: String) throws -> [ResultTable] {
        [try verification(quick: quick, scratch: scratch), try proofs(quick: quick, scratch: scratch)]
    }

    /// Appends `count` ~250-byte put records (segments sealed as they fill).
    static func build(_ dir: String, count: Int, ids: Int, segmentSize: UInt64 = 64 << 20) throws {
        try StoreBench.fresh(dir)
        var options = StoreOptions()
        options.segmentSize = segmentSize
        options.durability = .none
        options.trustCanonicalDocuments = true
        let store = try LogStore.open(dir, options: options)
        let docs = StoreBench.documents(4096)
        var batch: [Record] = []
        for i in 0..<count {
            batch.append(StoreBench.draft(i % ids, docs[i & 4095]))
            if batch.count == 256 { try store.append(batch); batch.removeAll(keepingCapacity: true) }
        }
        if !batch.isEmpty { try store.append(batch) }
        try store.close()
    }

    static func verification(quick: Bool, scratch: String) throws -> ResultTable {
        let count = quick ? 250_000 : 4_200_000            // ≈ 64 MiB and ≈ 1.05 GiB
        let dir = PathUtil.join(scratch, "tools-verify")
        try build(dir, count: count, ids: count, segmentSize: quick ? 8 << 20 : 64 << 20)
        let bytes = directoryBytes(PathUtil.join(dir, "segments"))
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var raw = Samples(), one = Samples(), all = Samples()
        _ = StoreVerifier.verify(directory: dir)           // warm the page cache
        let buffer = [UInt8](repeating: 0xA5, count: 1 << 20)
        for _ in 0..<3 {
            var sink = Hash32.zero
            let t = Clock.time { for _ in 0..<256 { sink = HashAlgorithm.blake2b256.hash(buffer) } }
            _ = sink
            raw.add(Double(256 << 20) / t / 1e6)
            for (parallelism, samples) in [(1, 0), (cores, 1)] {
                var options = VerifyOptions(mode: .full)
                options.parallelism = parallelism
                var ok = false
                let seconds = Clock.time { ok = StoreVerifier.verify(directory: dir, options: options).ok }
                guard ok else { throw BenchError.failed("verification failed") }
                if samples == 0 { one.add(bytes / seconds / 1e6) } else { all.add(bytes / seconds / 1e6) }
            }
        }
        try StoreBench.fresh(dir)
        var table = ResultTable(title: "Tools (issue 5): full verification of a \(fmt(bytes / 1_073_741_824, 2)) GiB store (\(fmtCount(Double(count))) records), median of 3",
                                columns: ["measurement", "median", "spread", "ratio"])
        table.add(["raw BLAKE2b-256, one core", fmt(raw.median) + " MB/s", "±" + fmt(raw.spreadPercent) + "%", "1.00 (reference)"])
        table.add(["nedb-verify (full), 1 core", fmt(one.median) + " MB/s", "±" + fmt(one.spreadPercent) + "%",
                   fmt(one.median / raw.median, 2) + " of raw (target ≥ 0.60)"])
        table.add(["nedb-verify (full), \(cores) cores", fmt(all.median) + " MB/s", "±" + fmt(all.spreadPercent) + "%",
                   fmt(all.median / one.median, 2) + "× one core; " + fmt(all.median / raw.median / Double(cores), 2) + " of raw per core"])
        return table
    }

    static func proofs(quick: Bool, scratch: String) throws -> ResultTable {
        let count = quick ? 100_000 : 1_000_000
        let ids = count / 4
        let dir = PathUtil.join(scratch, "tools-prove")
        try build(dir, count: count, ids: ids)
        let reader = try Reader.open(dir)
        let signer = try NoteSigner.generate(name: "bench")
        let verifier = signer.verifier
        var random = Rng(state: 5)
        let n = quick ? 200 : 1000
        var proofs: [ProofFile] = []
        let generate = try microsPerCall(n) { _ in
            // A proof of the version as written (what `nedb-prove --written` makes): the
            // inclusion path and the signed checkpoint, no following records.
            let id = "user\(random.next(ids))"
            guard let version = try reader.get("users", id)?.seq else { throw BenchError.failed("no \(id)") }
            proofs.append(try reader.prove("users", id, asOf: version, signer: signer))
        }
        var pathHashes = 0, sizes = Samples(), checkpointBytes = 0
        let verify = try microsPerCall(n) { i in
            let proven = try proofs[i].verifyRecord(verifier: verifier)
            guard proven.record.id != nil else { throw BenchError.failed("empty proof") }
        }
        for p in proofs {
            pathHashes = max(pathHashes, p.path.count)
            sizes.add(Double(p.encoded.utf8.count))
            checkpointBytes = max(checkpointBytes, p.note.utf8.count)
        }
        try StoreBench.fresh(dir)
        let log2n = Int(ceil(log2(Double(count + 1))))      // tree size: the records plus genesis
        var table = ResultTable(title: "Tools (issue 5): proofs on a \(fmtCount(Double(count)))-record store, \(n) random documents",
                                columns: ["measurement", "value", "target"])
        table.add(["proof generation (nedb-prove --written, store open)", fmt(generate, 1) + " µs per proof", "< 1 ms"])
        table.add(["proof verification (nedb-prove verify)", fmt(verify, 1) + " µs per proof", "< 1 ms"])
        table.add(["inclusion path", "\(pathHashes) hashes (ceil(log2 n) = \(log2n))", "≤ ceil(log2 n)"])
        table.add(["inclusion path, binary", "\(32 * pathHashes) B", "≤ 32 × \(log2n) = \(32 * log2n) B"])
        table.add(["whole proof file (text: base64 path, the record itself, signed checkpoint)",
                   "median \(fmtCount(sizes.median)) B, max \(fmtCount(sizes.max)) B (checkpoint \(checkpointBytes) B)", "path + record + checkpoint"])
        return table
    }
}
