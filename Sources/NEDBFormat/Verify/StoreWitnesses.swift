/// Something another file of a store records about its log: that the log reached `seq`, with
/// chain hash `chain` there (spec/FORMAT.md §13.3). MANIFEST, REPLAY and checkpoints are
/// derived, but each was written after the records it describes were durable, so a log that
/// ends before one of them, or differs from it, lost or rewrote acknowledged records.
public struct LogWitness: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case manifest, replay, checkpoint
    }

    public var kind: Kind
    public var file: String
    public var seq: UInt64
    public var chain: Hash32
    /// Checkpoints: the Merkle root of the tree of size seq+1.
    public var root: Hash32?
    /// A manifest's active entry: the first seq of a segment file that must exist.
    public var segmentFirstSeq: UInt64?
    /// What recorded it, for messages ("MANIFEST entry of segment 3").
    public var what: String
    /// The store the recording file names.
    public var storeId: StoreID

    public init(kind: Kind, file: String, seq: UInt64, chain: Hash32, root: Hash32? = nil,
                segmentFirstSeq: UInt64? = nil, what: String, storeId: StoreID) {
        self.kind = kind; self.file = file; self.seq = seq; self.chain = chain; self.root = root
        self.segmentFirstSeq = segmentFirstSeq; self.what = what; self.storeId = storeId
    }
}

/// What the witness files of a store say.
public struct WitnessReading: Sendable {
    public var witnesses: [LogWitness] = []
    /// Witness files that cannot be used (damaged, foreign, unreadable): derived data, reported
    /// and otherwise ignored.
    public var unusable: [FormatError] = []
    /// The manifest, when it decoded and belongs to the store.
    public var manifest: Manifest?
    /// Checkpoints whose container checks (header CRC, checkpoint hash, name), by seq.
    public var checkpoints: [(name: String, file: CheckpointFile)] = []

    public init() {}

    /// The reading for one store: files naming another store become unusable.
    public func belonging(to storeId: StoreID) -> WitnessReading {
        var out = WitnessReading()
        out.unusable = unusable
        for w in witnesses {
            if w.storeId == storeId { out.witnesses.append(w); continue }
            let at = Location(file: w.file, offset: 16)
            if w.kind == .manifest {
                if !out.unusable.contains(where: { $0.location.file == w.file }) {
                    out.unusable.append(.manifestMismatch(at, detail: "MANIFEST belongs to store \(w.storeId)"))
                }
            } else if w.kind == .checkpoint {
                out.unusable.append(.checkpointMismatch(at, detail: "belongs to store \(w.storeId)"))
            } else {
                out.unusable.append(.replayMismatch(at, detail: "REPLAY belongs to store \(w.storeId)"))
            }
        }
        if let m = manifest, m.storeId == storeId { out.manifest = m }
        out.checkpoints = checkpoints.filter { $0.file.header.storeId == storeId }
        return out
    }
}

/// Reads and checks the witnesses of a store's log (spec/FORMAT.md §13.3).
public enum StoreWitnesses {
    /// Reads MANIFEST, REPLAY and the checkpoint headers. Reading costs what opening them
    /// costs: each file's fixed part (a checkpoint's header and group hashes), not its content.
    public static func read(layout: StoreLayout, fs: FileSystem) -> WitnessReading {
        var reading = WitnessReading()
        if fs.exists(layout.manifest) {
            do {
                let manifest = try Manifest.decode(try fs.readAll(layout.manifest), file: layout.manifest)
                reading.manifest = manifest
                reading.witnesses += witnesses(of: manifest, file: layout.manifest)
            } catch let e as FormatError {
                reading.unusable.append(.manifestMismatch(e.location, detail: e.detail))
            } catch let e as SystemError {
                reading.unusable.append(.system(e))
            } catch {}
        }
        let replayPath = PathUtil.join(layout.root, ReplayFileHeader.fileName)
        if fs.exists(replayPath) {
            do {
                let header: ReplayFileHeader
                do { header = try ReplayFileHeader.decode(try fs.readAll(replayPath), file: replayPath) } catch let e as FormatError {
                    throw FormatError.replayMismatch(e.location, detail: e.detail)
                }
                reading.witnesses.append(LogWitness(kind: .replay, file: replayPath, seq: header.seq, chain: header.chain,
                                                    what: "REPLAY (written when records 0…\(header.seq) were durable)",
                                                    storeId: header.storeId))
            } catch let e as FormatError {
                reading.unusable.append(e)
            } catch let e as SystemError {
                reading.unusable.append(.system(e))
            } catch {}
        }
        for name in layout.checkpointNames(fs: fs) {
            let path = PathUtil.join(layout.checkpoints, name)
            do {
                let file = try CheckpointFile(bytes: try fs.map(path), file: path)
                let h = file.header
                guard CheckpointContainer.parseName(name) == h.seq else {
                    reading.unusable.append(.checkpointMismatch(Location(file: path, offset: 32, seq: h.seq),
                                                                detail: "file is named for another seq than its header's \(h.seq)"))
                    continue
                }
                reading.checkpoints.append((name, file))
                reading.witnesses.append(LogWitness(kind: .checkpoint, file: path, seq: h.seq, chain: h.chainHead, root: h.root,
                                                    what: "checkpoint \(name)", storeId: h.storeId))
            } catch let e as FormatError {
                reading.unusable.append(e)
            } catch let e as SystemError {
                reading.unusable.append(.system(e))
            } catch {}
        }
        return reading
    }

    /// The witnesses of a manifest: every sealed entry's last seq and chain head, and for the
    /// active entry the chain before its first seq and the presence of its file.
    public static func witnesses(of manifest: Manifest, file: String) -> [LogWitness] {
        var out: [LogWitness] = []
        for e in manifest.segments {
            let name = "MANIFEST entry of segment \(e.segmentNumber) (\(e.fileName))"
            switch e.state {
            case .sealed, .sealedCompressed:
                guard e.lastSeq >= e.firstSeq else { continue }
                out.append(LogWitness(kind: .manifest, file: file, seq: e.lastSeq, chain: e.chainHead, what: name + ", sealed through seq \(e.lastSeq)", storeId: manifest.storeId))
            case .active:
                if e.firstSeq > 0 {
                    out.append(LogWitness(kind: .manifest, file: file, seq: e.firstSeq - 1, chain: e.chainHead,
                                          segmentFirstSeq: e.firstSeq, what: name + ", the active segment from seq \(e.firstSeq)",
                                          storeId: manifest.storeId))
                } else {
                    out.append(LogWitness(kind: .manifest, file: file, seq: 0, chain: .zero, segmentFirstSeq: 0,
                                          what: name + ", the active segment from seq 0", storeId: manifest.storeId))
                }
            }
        }
        return out
    }

    /// The witnesses the log contradicts: `missing_data` where it ends before one (or a segment
    /// file the manifest lists as active is gone), `chain_break` where a manifest or REPLAY names
    /// another chain hash than the log has at that seq (the log was rewritten after the file
    /// was), `checkpoint_mismatch` for a checkpoint bound to another chain hash. `lastSeq` is the
    /// last seq of the log as found (nil: no record); `chain` gives the chain hash of a seq at or
    /// below it (nil when no segment found holds it: that gap is reported on its own);
    /// `hasSegment` whether a segment file starting at a seq exists. Roots are not compared
    /// here: a checkpoint whose chain hash matches is checked by whoever uses it.
    public static func check(_ witnesses: [LogWitness], lastSeq: UInt64?, hasSegment: (UInt64) -> Bool,
                             chain: (UInt64) throws(FormatError) -> Hash32?) throws(FormatError) -> [FormatError] {
        var issues: [FormatError] = []
        let ends = lastSeq.map { "the log ends at seq \($0)" } ?? "the log holds no record"
        for w in witnesses {
            let at = Location(file: w.file, seq: w.seq)
            if let first = w.segmentFirstSeq, !hasSegment(first), (lastSeq.map { $0 < first } ?? true) {
                issues.append(.missingData(Location(file: w.file, seq: first),
                    detail: "\(w.what): segment file \(SegmentName.make(firstSeq: first)) is gone and \(ends)"))
                continue
            }
            if w.kind == .manifest && w.segmentFirstSeq == 0 { continue }
            guard let last = lastSeq, w.seq <= last else {
                issues.append(.missingData(at, detail: "\(w.what) shows the log reached seq \(w.seq), but \(ends)"))
                continue
            }
            guard let found = try chain(w.seq) else { continue }
            if found != w.chain {
                let detail = "\(w.what) records chain hash \(w.chain.hex) at seq \(w.seq), the log has \(found.hex): the log was rewritten after it was written"
                issues.append(w.kind == .checkpoint ? .checkpointMismatch(at, detail: detail) : .chainBreak(at, detail: detail))
            }
        }
        return issues
    }
}
