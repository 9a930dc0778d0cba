import Testing
import Foundation
@testable import NEDBState
import NEDBStore

/// Checkpoints whose container checks out (every hash recomputed) but whose content is not what
/// the log vouches for: never loaded as state, and decoding them never traps.
@Suite struct ForgedCheckpointTests {
    /// A store with a checkpoint (and its checkpoint record), and the state of a full replay.
    func makeStore() throws -> (MemoryFileSystem, LogStore, CheckpointInfo, Hash32) {
        let fs = MemoryFileSystem()
        var options = StoreOptions()
        options.fileSystem = fs
        let store = try LogStore.open("/db", options: options)
        var gen = Generator(rng: SplitMix(state: 21))
        for _ in 0..<400 { _ = try? store.append(gen.record(nextSeq: store.lastSeq + 1)) }
        let (state, _) = try StateLoader.load(store: store)
        let info = try StateLoader.writeCheckpoint(state, store: store)
        for _ in 0..<20 { _ = try? store.append(gen.record(nextSeq: store.lastSeq + 1)) }
        let truth = try StateLoader.digest(try StateLoader.load(store: store, useCheckpoints: false).0)
        return (fs, store, info, truth)
    }

    /// Rebuilds the checkpoint file around `payload` with the same header fields and every hash
    /// recomputed: what a forger with write access to the directory can do.
    func forge(_ original: [UInt8], payload: [UInt8]) throws -> [UInt8] {
        let header = try CheckpointHeader.decode(Array(original[0..<CheckpointHeader.length]), file: nil)
        return try CheckpointContainer.build(state: payload, stateVersion: header.stateVersion, hashAlgorithm: header.hashAlgorithm,
                                             storeId: header.storeId, seq: header.seq, chainHead: header.chainHead, root: header.root,
                                             created: header.created, compress: false).bytes
    }

    @Test func aForgedPayloadWithValidHashesIsNotLoaded() throws {
        let (fs, store, info, truth) = try makeStore()
        // The state of another history — one document's content changed — bound to this log's
        // chain hash and root.
        let other = try DatabaseState()
        var changed = false
        try store.scanWithChain(from: 0, through: info.seq) { record, chain in
            var r = record
            if !changed, r.type == .put, r.seq > 10 {
                r.document = JCS.serialize(["forged": true])
                changed = true
            }
            try other.apply(r, chain: chain)
            return true
        }
        #expect(changed)
        let forged = try forge(fs.contents(info.path)!, payload: try SnapshotWriter.encode(other))
        fs.setContents(info.path, forged)
        let (loaded, report) = try StateLoader.load(store: store)
        #expect(report.checkpointSeq == nil, "a checkpoint the log does not vouch for was loaded")
        #expect(report.skipped.first?.id == "checkpoint_mismatch")
        #expect(try StateLoader.digest(loaded) == truth)
    }

    @Test func mutatedPayloadsWithValidHashesNeverTrap() throws {
        let (fs, store, info, _) = try makeStore()
        let original = fs.contents(info.path)!
        let header = try CheckpointHeader.decode(Array(original[0..<CheckpointHeader.length]), file: nil)
        let payload = Array(original[CheckpointHeader.length..<(CheckpointHeader.length + Int(header.payloadLength))])
        var rng = SplitMix(state: 7)
        for round in 0..<120 {
            var mutated = payload
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let at = Int(rng.next() % UInt64(mutated.count))
                switch rng.next() % 3 {
                case 0: mutated[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1:     // a huge little-endian u64 where an offset or count may be
                    for k in 0..<min(8, mutated.count - at) { mutated[at + k] = 0xFF }
                default: mutated[at] = 0
                }
            }
            let file = try CheckpointFile(bytes: MappedBytes(bytes: try forge(original, payload: mutated)), file: "forged-\(round)")
            // Decoding and every kind of read either works or throws; none traps.
            if let snapshot = try? StateSnapshot(file: file), let state = try? DatabaseState(base: snapshot) {
                for c in (try? state.collectionNames()) ?? [] {
                    for id in ((try? state.ids(collection: c)) ?? []).prefix(50) {
                        _ = try? state.versions(collection: c, id: id)
                        _ = try? state.document(collection: c, id: id, at: ReadPoint(asOf: header.seq))
                        _ = try? state.outgoing(from: "\(c):\(id)", relation: nil, at: header.seq)
                    }
                }
                for def in state.indexes() {
                    let index = IndexID(collection: def.collection, field: def.field, kind: def.kind)
                    _ = try? state.postingKeys(index)
                    _ = try? state.orderedPostingLists(index)
                }
                _ = try? state.effects(of: 3, asOf: header.seq)
                _ = try? state.idempotencySeq("k")
            }
        }
        _ = store
    }
}
