import NEDBStore

/// What loading the state did.
public struct LoadReport: Sendable {
    /// The checkpoint the state started from (nil: full replay).
    public var checkpointSeq: UInt64?
    /// Checkpoints that were found unusable, with why (reported, skipped, never trusted); each
    /// error's location names the checkpoint file.
    public var skipped: [FormatError] = []
    /// Records replayed from the log.
    public var replayed: UInt64 = 0

    public init() {}
}

/// A checkpoint that was written.
public struct CheckpointInfo: Sendable, Equatable {
    public var seq: UInt64
    public var hash: Hash32
    public var path: String
    public var bytes: Int
}

/// Loads the state of a store (newest valid checkpoint plus the tail of the log, or a full
/// replay), and writes checkpoints (spec/STATE.md §8).
public enum StateLoader {
    public static let stateVersion: UInt32 = 1

    /// The state of `store` as of its last record: from the newest checkpoint that checks out
    /// (skipping the file names in `skipping`), or a full replay. A checkpoint that fails is
    /// noted in the report and skipped; damage in the log itself is thrown.
    public static func load(store: LogStore, useCheckpoints: Bool = true, skipping: Set<String> = []) throws -> (DatabaseState, LoadReport) {
        var report = LoadReport()
        let head = store.lastSeq
        if useCheckpoints && store.count > 0 {
            let names = store.layout.checkpointNames(fs: store.options.fileSystem).reversed()
            for name in names where !skipping.contains(name) {
                let path = PathUtil.join(store.layout.checkpoints, name)
                let snapshot: StateSnapshot
                let state: DatabaseState
                do {
                    snapshot = try openCheckpoint(path: path, store: store, head: head)
                    state = try DatabaseState(base: snapshot)
                } catch let e as StoreError where e.isDamage {
                    throw e
                } catch {
                    report.skipped.append(skippedNote(error, path: path))
                    continue
                }
                try replay(store: store, into: state, from: snapshot.seq + 1, through: head, report: &report)
                try requireResolvedPruning(state)
                report.checkpointSeq = snapshot.seq
                return (state, report)
            }
        }
        let state = try DatabaseState()
        try replay(store: store, into: state, from: 0, through: head, report: &report)
        try requireResolvedPruning(state)
        return (state, report)
    }

    /// Pruned records that no compaction record accounts for are damage to the log (FORMAT §3.7).
    static func requireResolvedPruning(_ state: DatabaseState) throws {
        if let problem = state.unresolvedPruning() { throw damage(problem) }
    }

    /// A record replay cannot apply is damage to the log, refused like any other (FORMAT §13.2).
    static func damage(_ error: Error) -> Error {
        guard let stateError = error as? StateError, case let .invalidRecord(seq, reason) = stateError else { return error }
        return StoreError.damaged(.malformed(Location(seq: seq), detail: reason))
    }

    /// Why a checkpoint was skipped, located in its file.
    static func skippedNote(_ error: Error, path: String) -> FormatError {
        let e: FormatError
        switch error {
        case let f as FormatError: e = f
        case let StateError.checkpoint(f): e = f
        case let StoreError.damaged(f): e = f
        default: e = .checkpointMismatch(Location(file: path), detail: "\(error)")
        }
        return e.inFile(path)
    }

    /// Opens a checkpoint and checks that it belongs to this log: store id, and the chain hash
    /// and Merkle root at its seq. Pages are checked lazily as they are read.
    public static func openCheckpoint(path: String, store: LogStore, head: UInt64) throws -> StateSnapshot {
        let fs = store.options.fileSystem
        let name = PathUtil.lastComponent(path)
        let file = try store.witnessCheckpoints.first { $0.name == name }?.file ?? CheckpointFile(bytes: try fs.map(path), file: path)
        let h = file.header
        let at = Location(file: path, seq: h.seq)
        guard h.storeId == store.storeId else { throw FormatError.checkpointMismatch(at, detail: "belongs to store \(h.storeId)") }
        guard h.seq <= head else { throw FormatError.checkpointMismatch(at, detail: "checkpoint seq \(h.seq) is beyond the log head \(head)") }
        guard h.stateVersion == stateVersion else {
            throw FormatError.unsupportedVersion(at, what: "state encoding", found: UInt16(truncatingIfNeeded: h.stateVersion), supported: 1)
        }
        guard try store.chainHash(seq: h.seq) == h.chainHead else {
            throw FormatError.checkpointMismatch(at, detail: "its chain hash does not match the log at seq \(h.seq)")
        }
        guard try store.rootHash(size: h.seq + 1) == h.root else {
            throw FormatError.checkpointMismatch(at, detail: "its Merkle root does not match the log at seq \(h.seq)")
        }
        // The log must say this file is its checkpoint: record N+1 is the checkpoint record
        // carrying N and this file's hash (spec/STATE.md §8). Without it the file is not trusted.
        guard h.seq < head else {
            throw FormatError.checkpointMismatch(at, detail: "the log ends at seq \(h.seq): no checkpoint record vouches for it")
        }
        let marker = try store.record(h.seq + 1)
        guard marker.type == .checkpointMarker, marker.checkpointSeq == h.seq else {
            throw FormatError.checkpointMismatch(at, detail: "record \(h.seq + 1) is not the checkpoint record for seq \(h.seq)")
        }
        guard marker.checkpointHash == file.hash else {
            throw FormatError.checkpointMismatch(at, detail: "record \(h.seq + 1) names checkpoint hash \(marker.checkpointHash?.hex ?? "none"), the file's is \(file.hash.hex)")
        }
        if h.encrypted || h.compressed {
            let payload = try CheckpointContainer.openPayload(try file.payload(), header: h, keyring: store.dataKeys, file: path)
            return try StateSnapshot(payload: payload, source: path)
        }
        return try StateSnapshot(file: file)
    }

    /// Applies records [from, through] of the log to `state`.
    public static func replay(store: LogStore, into state: DatabaseState, from: UInt64, through: UInt64,
                              report: inout LoadReport) throws {
        guard from <= through else { return }
        var count: UInt64 = 0
        try store.scanWithChain(from: from, through: through) { record, chain in
            do { try state.apply(record, chain: chain) } catch { throw damage(error) }
            count += 1
            return true
        }
        report.replayed += count
    }

    /// The checkpoint file of `state` (at seq `state.lastSeq`, which must be acknowledged),
    /// bound to the store's chain hash and Merkle root there.
    public static func buildCheckpoint(_ state: DatabaseState, store: LogStore, compress: Bool = false) throws -> (bytes: [UInt8], hash: Hash32) {
        guard let seq = state.lastSeq else { throw StateError.invalidRecord(seq: 0, reason: "nothing to checkpoint") }
        let payload = try SnapshotWriter.encode(state)
        let key = store.encrypted ? store.dataKeys?.current : nil
        return try CheckpointContainer.build(state: payload, stateVersion: stateVersion, hashAlgorithm: store.hashAlgorithm,
                                             storeId: store.storeId, seq: seq, chainHead: try store.chainHash(seq: seq),
                                             root: try store.rootHash(size: seq + 1), created: Wallclock.now(),
                                             compress: compress || key != nil, key: key)
    }

    /// Writes a built checkpoint atomically into the store's checkpoints directory.
    /// How many checkpoint files a writer keeps: the newest, and the one before it as the
    /// fallback should the newest fail its checks (spec/STATE.md §8).
    public static let checkpointsKept = 2

    public static func saveCheckpoint(_ bytes: [UInt8], hash: Hash32, seq: UInt64, store: LogStore) throws -> CheckpointInfo {
        let fs = store.options.fileSystem
        try fs.createDirectory(store.layout.checkpoints)
        let path = store.layout.checkpoint(seq: seq)
        try fs.writeAtomically(bytes, to: path)
        // Older checkpoints are derived data: drop all but the newest `checkpointsKept`.
        let names = store.layout.checkpointNames(fs: fs).sorted()      // zero-padded seqs: name order is seq order
        for name in names.dropLast(checkpointsKept) { try? fs.remove(PathUtil.join(store.layout.checkpoints, name)) }
        return CheckpointInfo(seq: seq, hash: hash, path: path, bytes: bytes.count)
    }

    /// Writes a checkpoint of `state` (at the store's last seq), logs a checkpoint record binding
    /// its hash into the chain, and seals the segment so opening reads only what follows.
    /// (The checkpoint record itself is not applied to `state`.)
    @discardableResult
    public static func writeCheckpoint(_ state: DatabaseState, store: LogStore, compress: Bool = false) throws -> CheckpointInfo {
        guard let seq = state.lastSeq else { throw StateError.invalidRecord(seq: 0, reason: "nothing to checkpoint") }
        let built = try buildCheckpoint(state, store: store, compress: compress)
        let info = try saveCheckpoint(built.bytes, hash: built.hash, seq: seq, store: store)
        var marker = Record(type: .checkpointMarker, seq: 0, time: 0)
        marker.checkpointSeq = seq
        marker.checkpointHash = built.hash
        try store.append(marker, durability: .always)
        try store.sealForCheckpoint()
        return info
    }

    /// A canonical digest of the whole state: equal states have equal digests.
    public static func digest(_ state: DatabaseState) throws -> Hash32 {
        HashAlgorithm.blake2b256.hash(try SnapshotWriter.encode(state))
    }
}
