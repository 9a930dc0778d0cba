import NEDBFormat
import NEDBFixtureKit

/// Issue 2's benchmark: record encode+hash throughput, full re-hash verification speed, and the
/// raw BLAKE2b speed of the same machine measured in the same run.
enum FormatBench {
    static func run(quick: Bool, scratch: String) throws -> [ResultTable] {
        let count = quick ? 20_000 : 200_000
        let rounds = quick ? 3 : 5
        var random = DeterministicRandom(seed: 42)
        var records: [Record] = []
        records.reserveCapacity(count)
        for i in 0..<count {
            var r = Record(type: .put, seq: UInt64(i + 1), time: 1_700_000_000_000_000 + Int64(i))
            r.collection = "users"
            r.id = "user\(i)"
            r.document = JCS.serialize(BenchData.document(i, random: &random))
            records.append(r)
        }
        let docBytes = records.reduce(0) { $0 + ($1.document?.count ?? 0) } / count

        // Raw BLAKE2b: 1 MiB buffers, and record-sized messages.
        let big = [UInt8](repeating: 0xA5, count: 1 << 20)
        var rawBig = Samples(), rawSmall = Samples(), rawLanes = Samples(), encode = Samples(), verify = Samples(), quickVerify = Samples()
        let small = [UInt8](repeating: 0x5A, count: 380)
        var frameBytes = 0
        let fs = PosixFileSystem()
        let dir = PathUtil.join(scratch, "format-bench")
        if fs.exists(dir) { try fs.remove(dir) }
        var options = LogBuilder.Options(storeId: StoreID.random())
        options.recordsPerSegment = quick ? 20_000 : 100_000
        let builder = try LogBuilder(options: options)
        for r in records { try builder.append(r) }
        try builder.write(to: dir)
        var storeBytes: UInt64 = 0
        for name in try fs.listDirectory(PathUtil.join(dir, "segments")) {
            let f = try fs.openForReading(PathUtil.join(PathUtil.join(dir, "segments"), name))
            storeBytes += try f.size()
            f.close()
        }
        _ = StoreVerifier.verify(directory: dir)    // warm the page cache
        for _ in 0..<rounds {
            var sink = Hash32.zero
            let t1 = Clock.time { for _ in 0..<256 { sink = HashAlgorithm.blake2b256.hash(big); _ = sink } }
            rawBig.add(Double(256 << 20) / t1 / 1e6)
            let t2 = Clock.time { for _ in 0..<200_000 { sink = HashAlgorithm.blake2b256.hash(small) } }
            rawSmall.add(200_000.0 * 380 / t2 / 1e6)
            // The same messages through HashBatch (four per AVX2 instruction), as verification hashes.
            var batch = HashBatch(.blake2b256)
            var digests: [Hash32] = []
            let t2b = Clock.time {
                for _ in 0..<50 {
                    batch.removeAll()
                    small.withUnsafeBytes { for _ in 0..<4000 { batch.append($0); batch.finishMessage() } }
                    batch.digests(into: &digests)
                }
            }
            rawLanes.add(200_000.0 * 380 / t2b / 1e6)
            let encoder = RecordEncoder(algorithm: .blake2b256, storeId: options.storeId, keyring: nil, chain: .zero)
            encoder.checkDocuments = false      // the engine's path: documents come from JCS.serialize
            var buffer: [UInt8] = []
            buffer.reserveCapacity(count * 400)
            let t3 = try Clock.time { for r in records { try encoder.append(r, to: &buffer) } }
            frameBytes = buffer.count
            encode.add(Double(count) / t3)
            var vo = VerifyOptions(mode: .full)
            vo.parallelism = 1
            var report: VerifyReport? = nil
            let t4 = Clock.time { report = StoreVerifier.verify(directory: dir, options: vo) }
            guard report?.ok == true else { throw BenchError.failed("verification failed: \(report?.issues ?? [])") }
            verify.add(Double(storeBytes) / t4 / 1e6)
            vo.mode = .quick
            let t5 = Clock.time { report = StoreVerifier.verify(directory: dir, options: vo) }
            quickVerify.add(Double(storeBytes) / t5 / 1e6)
        }
        try fs.remove(dir)
        var table = ResultTable(title: "Format (issue 2): \(fmtCount(Double(count))) records, documents ≈ \(docBytes) B, frames ≈ \(frameBytes / count) B, one core",
                                columns: ["measurement", "median", "spread", "ratio"])
        table.add(["raw BLAKE2b-256, 1 MiB buffers", fmt(rawBig.median) + " MB/s", "±" + fmt(rawBig.spreadPercent) + "%", "1.00 (reference)"])
        table.add(["raw BLAKE2b-256, 380-byte messages", fmt(rawSmall.median) + " MB/s", "±" + fmt(rawSmall.spreadPercent) + "%",
                   fmt(rawSmall.median / rawBig.median, 2)])
        table.add(["BLAKE2b-256 batches, 380-byte messages" + (HashBatch.isVectorized ? " (4 per AVX2 instruction)" : " (no AVX2: one by one)"),
                   fmt(rawLanes.median) + " MB/s", "±" + fmt(rawLanes.spreadPercent) + "%", fmt(rawLanes.median / rawBig.median, 2)])
        table.add(["encode + chain hash + frame (plaintext)", fmtCount(encode.median) + " records/s", "±" + fmt(encode.spreadPercent) + "%", "—"])
        table.add(["full verification (re-hash, chain, Merkle, structure, footers)", fmt(verify.median) + " MB/s",
                   "±" + fmt(verify.spreadPercent) + "%", fmt(verify.median / rawBig.median, 2) + " of raw (target ≥ 0.60)"])
        table.add(["quick verification (CRC, links, footers)", fmt(quickVerify.median) + " MB/s", "±" + fmt(quickVerify.spreadPercent) + "%",
                   fmt(quickVerify.median / rawBig.median, 2)])
        return [table]
    }
}

extension FormatBench {
    static func makeStore(count: Int, directory: String) throws {
        var random = DeterministicRandom(seed: 42)
        var options = LogBuilder.Options(storeId: StoreID.random())
        options.recordsPerSegment = 100_000
        let builder = try LogBuilder(options: options)
        for i in 0..<count {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "users"; r.id = "user\(i)"
            r.document = JCS.serialize(BenchData.document(i, random: &random))
            try builder.append(r)
        }
        try builder.write(to: directory)
    }
}

enum BenchError: Error, CustomStringConvertible {
    case failed(String)
    var description: String { if case let .failed(s) = self { return s }; return "" }
}

extension FormatBench {
    /// Profiling aid: nanoseconds per record for presence, validation, encoding, decoding and the
    /// JSON view of 100K put records (the format suite's records).
    static func codecLoop() {
        var random = DeterministicRandom(seed: 42)
        let records: [Record] = (0..<100_000).map { i in
            var r = Record(type: .put, seq: UInt64(i + 1), time: 1_700_000_000_000_000 + Int64(i))
            r.collection = "users"; r.id = "user\(i)"; r.document = JCS.serialize(BenchData.document(i, random: &random))
            return r
        }
        var sink = 0
        func ns(_ n: Int, _ body: () throws -> Void) rethrows -> String { "\(Int(try Clock.time(body) * 1e9 / Double(n))) ns" }
        print("presentMask", ns(records.count) { for r in records { sink &+= Int(truncatingIfNeeded: RecordCodec.presentMask(r)) } })
        print("validateForWriting", (try? ns(records.count) { for r in records { try RecordCodec.validateForWriting(r, checkDocument: false) } }) ?? "failed")
        print("encodeBody", ns(records.count) { for r in records { sink &+= RecordCodec.encodeBody(r).count } })
        let bodies = records.map { RecordCodec.encodeBody($0) }
        print("decode", (try? ns(records.count) {
            for (r, b) in zip(records, bodies) {
                sink &+= try RecordCodec.decode(type: r.type, bytes: b, bodyStart: 0, bodyEnd: b.count,
                                                options: RecordCodec.Options(checkCanonicalDocuments: false)).causedBy.count
            }
        }) ?? "failed")
        print("json", ns(10_000) { for r in records.prefix(10_000) { if case let .object(o) = RecordJSON.encode(r) { sink &+= o.count } } })
        if sink == 42 { print(sink) }
    }
}
