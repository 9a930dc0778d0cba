import NEDBFormat
import NEDBState

extension Fixtures {
    /// Fixtures for the checked open (spec/FORMAT.md §13.2–13.3): damage in the active segment a
    /// reader must refuse, and rollbacks its witnesses (MANIFEST, REPLAY, checkpoints) show.
    static func generateCheckedOpenFixtures(small: LogBuilder, multi: LogBuilder, frames: [(offset: Int, seq: UInt64, length: Int)],
                                            into directory: String, _ out: inout [Expectation]) throws {
        let dir = FixtureDirectory(root: directory)
        let fs = dir.fs
        func path(_ name: String) -> String { dir.path(name) }
        func fresh(_ name: String) throws -> String { try dir.fresh(name) }
        func segment(_ store: String, _ firstSeq: UInt64) -> String { dir.segment(store, firstSeq) }
        func editSmall(_ name: String, _ edit: (inout [UInt8]) -> Void) throws {
            try small.write(to: try fresh(name))
            var b = try FileEdits.read(segment(name, 0))
            edit(&b)
            try FileEdits.write(b, to: segment(name, 0))
        }

        try editSmall("active-frame-copied") { b in
            let copy = Array(b[frames[10].offset..<(frames[10].offset + frames[10].length)])
            for (i, byte) in copy.enumerated() where frames[11].offset + i < b.count { b[frames[11].offset + i] = byte }
        }
        out.append(Expectation(name: "active-frame-copied", description: "record 10's frame copied over record 11 in the active segment (a replayed frame)",
                               errors: ["chain_break", "hash_mismatch", "malformed"], primary: "chain_break", headSeq: 10, reads: "refuse"))

        try editSmall("active-zeroed") { b in
            let start = frames[8].offset + 5
            for i in start..<min(b.count - 64, start + 512) { b[i] = 0 }
        }
        out.append(Expectation(name: "active-zeroed", description: "512 zero bytes in the middle of the active segment, valid records after them",
                               errors: ["checksum_mismatch"], primary: "checksum_mismatch", headSeq: 7, reads: "refuse"))

        try editSmall("active-cut-middle") { b in
            b.removeSubrange((frames[10].offset + 20)..<(frames[12].offset + 20))
        }
        out.append(Expectation(name: "active-cut-middle", description: "bytes cut out of the active segment from inside record 10 to inside record 12, valid records after",
                               errors: ["checksum_mismatch"], primary: "checksum_mismatch", headSeq: 9, reads: "refuse"))

        // Rollbacks.
        try multi.write(to: try fresh("active-deleted"), compress: { $0 % 2 == 1 })
        try fs.remove(segment("active-deleted", 600))
        out.append(Expectation(name: "active-deleted", description: "the active segment (seq 600) deleted: MANIFEST still lists it",
                               errors: ["manifest_mismatch", "missing_data"], primary: "missing_data", headSeq: 599, reads: "refuse"))

        try small.write(to: try fresh("replay-ahead"))
        try FileEdits.write(ReplayFileHeader.encode(storeId: small.options.storeId, seq: 30, chain: small.chain, clientEntries: [],
                                                    idempotencyEntries: []), to: PathUtil.join(path("replay-ahead"), ReplayFileHeader.fileName))
        out.append(Expectation(name: "replay-ahead", description: "REPLAY written when the log reached seq 30; the log ends at seq 24 (records lost or rolled back)",
                               errors: ["missing_data"], primary: "missing_data", headSeq: 24, reads: "refuse"))

        try small.write(to: try fresh("replay-rewritten"))
        try FileEdits.write(ReplayFileHeader.encode(storeId: small.options.storeId, seq: 20, chain: HashAlgorithm.blake2b256.hash(Array("other".utf8)),
                                                    clientEntries: [], idempotencyEntries: []),
                            to: PathUtil.join(path("replay-rewritten"), ReplayFileHeader.fileName))
        out.append(Expectation(name: "replay-rewritten", description: "REPLAY records another chain hash at seq 20 than the log has: the log was rewritten after it, so nothing in the segment holding seq 20 is vouched for",
                               errors: ["chain_break"], primary: "chain_break", headSeq: nil, reads: "refuse"))

        // A checkpoint of the whole log, then the log cut back to seq 20 at a record boundary.
        try small.write(to: try fresh("checkpoint-ahead"))
        try writeCheckpoint(of: small, into: path("checkpoint-ahead"))
        var bytes = try FileEdits.read(segment("checkpoint-ahead", 0))
        bytes.removeLast(bytes.count - frames[21].offset)
        try FileEdits.write(bytes, to: segment("checkpoint-ahead", 0))
        out.append(Expectation(name: "checkpoint-ahead", description: "a checkpoint at seq 24 of a log that now ends at seq 20 (cut at a record boundary)",
                               errors: ["missing_data"], primary: "missing_data", headSeq: 20, reads: "refuse"))

        try small.write(to: try fresh("checkpoint-damaged"))
        let checkpointFile = try writeCheckpoint(of: small, into: path("checkpoint-damaged"))
        var cp = try FileEdits.read(checkpointFile)
        cp[CheckpointHeader.length + 40] ^= 0x01
        try FileEdits.write(cp, to: checkpointFile)
        out.append(Expectation(name: "checkpoint-damaged", description: "one bit flipped in a checkpoint's payload: derived, skipped by readers (who replay the log)",
                               errors: ["checkpoint_mismatch"], primary: "checkpoint_mismatch", headSeq: 24, reads: "answer"))

        var options = LogBuilder.Options(storeId: storeId(9))
        options.genesis = false
        options.origin = "nedb.example/fixture-9"
        let headless = try LogBuilder(options: options)
        for i in 0..<6 {
            var r = Record(type: .put, seq: 0, time: 0)
            r.collection = "users"
            r.id = "u\(i)"
            r.document = JCS.serialize(["n": .number(Double(i))])
            try headless.append(r)
        }
        try headless.write(to: try fresh("no-genesis"))
        out.append(Expectation(name: "no-genesis", description: "a log whose seq 0 is a put, not the genesis record",
                               errors: ["malformed"], primary: "malformed", headSeq: nil, reads: "refuse"))
    }

    /// Writes a checkpoint of the builder's whole log into the store's checkpoints directory.
    @discardableResult
    static func writeCheckpoint(of builder: LogBuilder, into store: String) throws -> String {
        let state = try DatabaseState()
        let leaves = builder.leaves
        for (i, r) in builder.records.enumerated() { try state.apply(r, chain: leaves[i]) }
        let payload = try SnapshotWriter.encode(state)
        let seq = builder.nextSeq - 1
        let built = try CheckpointContainer.build(state: payload, stateVersion: 1, hashAlgorithm: builder.options.algorithm,
                                                  storeId: builder.options.storeId, seq: seq, chainHead: builder.chain,
                                                  root: builder.root, created: builder.options.startTime, compress: false)
        let fs = PosixFileSystem()
        let dir = PathUtil.join(store, CheckpointContainer.directory)
        try fs.createDirectory(dir)
        let file = PathUtil.join(dir, CheckpointContainer.fileName(seq: seq))
        try FileEdits.write(built.bytes, to: file)
        return file
    }
}
