import NEDBStore
import NEDBState

/// Repair (nedb-repair). Salvage copies exactly the verified prefix of a damaged store into a
/// new directory, record by record (the same frame bytes, so every chain hash, Merkle root and
/// proof stays valid), and sets everything after it aside in `lost+found/` with a report; its
/// output verifies. In place, only an interrupted write or stale derived files are fixed (and a
/// rollback, when explicitly accepted), holding the store's lock, after a backup; evidence of
/// tampering is never repaired away.
public enum Repair {
    public struct Options: Sendable {
        public var key: KeySource?
        public var fileSystem: FileSystem = PosixFileSystem()
        /// In place: accept that the log lost records its witnesses (MANIFEST, REPLAY,
        /// checkpoints) show it had — move those witnesses aside and continue from what is left.
        public var acceptRollback = false
        /// Write a checkpoint of the salvaged store.
        public var checkpoint = false
        /// Time for file names in lost+found and backup (µs).
        public var clock: @Sendable () -> Microseconds = { Wallclock.now() }
        public init() {}
    }

    /// What verification found and what a repair would do.
    public struct Plan: Sendable {
        public var report: VerifyReport
        /// The last seq of the verified prefix (nil: not even seq 0 verifies).
        public var keepThrough: UInt64?
        /// The only problem is an interrupted write at the end of the log.
        public var tornTailOnly: Bool
        /// Only derived data is damaged or stale (including footers of segments whose records
        /// verify, which are rebuilt from the records).
        public var derivedOnly: Bool
        /// Sealed segments whose records verify but whose footer does not: rebuilt.
        public var reseal: [String]
        /// The log lost records that MANIFEST, REPLAY or a checkpoint show it had.
        public var rollback: [FormatError]
        /// Seqs that are not salvaged (as far as they are known).
        public var lost: ClosedRange<UInt64>?

        /// Nothing to do.
        public var clean: Bool { report.issues.isEmpty }
        /// Whether an in-place repair may proceed (and with `acceptRollback`).
        public func inPlaceAllowed(acceptRollback: Bool) -> Bool {
            clean || tornTailOnly || derivedOnly || (acceptRollback && !rollback.isEmpty && onlyRollback)
        }
        var onlyRollback: Bool {
            report.issues.allSatisfy { ["missing_data", "torn_tail"].contains($0.id) || $0.verdict == .derived }
        }
    }

    /// What a salvage wrote.
    public struct Salvage: Sendable {
        public var out: String
        /// Records copied (seqs 0…keepThrough).
        public var records: UInt64
        /// Files written into lost+found (empty when nothing was set aside).
        public var setAside: [String]
        public var verification: VerifyReport
    }

    public struct InPlace: Sendable {
        public var backups: [String]
        public var setAside: [String]
        public var verification: VerifyReport
    }

    // MARK: Planning

    public static func plan(_ directory: String, options: Options) throws(MaintenanceError) -> Plan {
        let fs = options.fileSystem
        guard fs.isDirectory(directory) else { throw .store(.notAStore(path: directory)) }
        var vo = VerifyOptions(mode: .full)
        vo.keyring = try keyring(directory, options)
        vo.maxIssues = 1000
        let report = StoreVerifier.verify(directory: directory, fs: fs, options: vo)
        let serious = report.issues.filter { $0.verdict != .derived }
        let keep = report.head?.seq
        let lastReadable = report.segments.compactMap(\.lastSeq).max()
        var plan = Plan(report: report, keepThrough: keep, tornTailOnly: !serious.isEmpty && serious.allSatisfy { $0.id == "torn_tail" },
                        derivedOnly: serious.isEmpty && !report.issues.isEmpty, reseal: [],
                        rollback: report.issues.filter { $0.id == "missing_data" }, lost: nil)
        // Every record verified and only footers are damaged: footers are derived from records.
        if let keep, keep == lastReadable, !serious.isEmpty,
           serious.allSatisfy({ ["checksum_mismatch", "footer_mismatch", "malformed", "truncated"].contains($0.id) && ($0.location.offset ?? 0) > 0 }),
           serious.allSatisfy({ issue in report.segments.contains { $0.sealed && issue.location.file.map(PathUtil.lastComponent) == $0.name } }) {
            plan.reseal = Array(Set(serious.compactMap { $0.location.file.map(PathUtil.lastComponent) })).sorted()
            plan.derivedOnly = true
            return plan
        }
        if !serious.isEmpty && !plan.tornTailOnly {
            let first = keep.map { $0 + 1 } ?? 0
            var last = max(lastReadable ?? first, first)
            for issue in plan.rollback { if let s = issue.location.seq { last = max(last, s) } }
            plan.lost = first...last
        }
        return plan
    }

    static func keyring(_ directory: String, _ options: Options) throws(MaintenanceError) -> Keyring? {
        let layout = StoreLayout(root: directory)
        let fs = options.fileSystem
        guard fs.exists(layout.keys), let source = options.key else { return nil }
        do {
            let file = try KeyFile.decode(try fs.readAll(layout.keys), file: layout.keys)
            let master = try KeyResolver.masterKey(source, keyFile: file, fs: fs)
            return try file.unwrapAll(tmk: master.key, file: layout.keys)
        } catch {
            throw MaintenanceError.wrap(error)
        }
    }

    // MARK: Salvage into a new directory

    /// Copies the verified prefix into `out` (which must not exist or be empty) and sets the
    /// rest aside in `out/lost+found/`; the source is only read.
    public static func salvage(_ directory: String, into out: String, plan: Plan, options: Options) throws(MaintenanceError) -> Salvage {
        let fs = options.fileSystem
        if fs.exists(out), !((try? fs.listDirectory(out)) ?? []).isEmpty { throw .outputExists(out) }
        guard let keep = plan.keepThrough else { throw .nothingToSalvage("seq 0 does not verify") }
        let source = StoreLayout(root: directory), target = StoreLayout(root: out)
        do {
            try fs.createDirectories(out)
            let staging = PathUtil.join(out, ".salvage")
            try fs.createDirectory(staging)
            try fs.createDirectory(PathUtil.join(staging, "segments"))
            let copied = try copyPrefix(plan: plan, through: keep, from: source, to: PathUtil.join(staging, "segments"), fs: fs)
            if fs.exists(source.keys) { try fs.writeAtomically(try fs.readAll(source.keys), to: target.keys) }
            try fs.rename(PathUtil.join(staging, "segments"), to: target.segments)
            try fs.remove(staging)
            try fs.syncDirectory(out)
            var setAside: [String] = []
            if !plan.report.issues.filter({ $0.verdict != .derived }).isEmpty || !copied.rest.isEmpty {
                setAside = try writeLostAndFound(copied.rest, plan: plan, source: source, into: out, options: options)
            }
            // Opening read-write builds the manifest and the REPLAY index of the salvaged log.
            var so = StoreOptions()
            so.key = options.key
            so.fileSystem = fs
            so.create = false
            let store = try LogStore.open(out, options: so)
            if options.checkpoint {
                let (state, _) = try StateLoader.load(store: store, useCheckpoints: false)
                try StateLoader.writeCheckpoint(state, store: store)
            }
            let keyring = store.dataKeys
            try store.close()
            var vo = VerifyOptions()
            vo.keyring = keyring
            return Salvage(out: out, records: keep + 1, setAside: setAside,
                           verification: StoreVerifier.verify(directory: out, fs: fs, options: vo))
        } catch {
            throw MaintenanceError.wrap(error)
        }
    }

    /// What copying left behind: for each source segment file, the offset its uncopied bytes
    /// start at (0: the whole file), in log order.
    struct CopyResult {
        var rest: [(name: String, from: UInt64)] = []
    }

    /// Copies records 0…`through` frame by frame into new segment files in `segments`, each
    /// source segment into one of the same number and first seq; every frame is checked again
    /// as it is copied (seq, CRC, chain hash). The last segment written stays unsealed.
    static func copyPrefix(plan: Plan, through keep: UInt64, from source: StoreLayout, to segments: String,
                           fs: FileSystem) throws -> CopyResult {
        var result = CopyResult()
        let ordered = plan.report.segments.filter { $0.segmentNumber != nil }.sorted { ($0.segmentNumber ?? 0) < ($1.segmentNumber ?? 0) }
        // Files whose header does not even decode hold nothing salvageable: set aside whole.
        for s in plan.report.segments where s.segmentNumber == nil { result.rest.append((s.name, 0)) }
        var expected: UInt64 = 0
        var previous = Hash32.zero
        var frontier: CompactRange? = nil
        var done = false
        var written: [(name: String, bytes: [UInt8], accumulator: SegmentAccumulator)] = []
        for summary in ordered {
            let path = PathUtil.join(source.segments, summary.name)
            if done { result.rest.append((summary.name, 0)); continue }
            let segment = try SegmentFile.open(fs: fs, path: path)
            guard segment.header.firstSeq == expected, segment.header.previousChain == previous else {
                result.rest.append((summary.name, 0))
                done = true
                continue
            }
            var header = segment.header
            header.compressed = false
            header.segmentNumber = UInt64(written.count)
            var accumulator = SegmentAccumulator(header: header, frontier: frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm)))
            var frames: [UInt8] = []
            var scanner = PrehashingScanner(segment.scanner(), algorithm: header.hashAlgorithm, previous: previous, chainHashes: true)
            var stoppedAt: UInt64? = nil
            while let (event, computed) = try scanner.next() {
                guard case let .record(frame) = event, frame.seq == expected, frame.seq <= keep,
                      computed == nil || computed == frame.view.storedChain else {
                    if case let .record(frame) = event { stoppedAt = frame.offset } else if case let .damage(d) = event { stoppedAt = d.start }
                    break
                }
                frames.append(contentsOf: frame.frameBytes)
                accumulator.add(frameLength: frame.view.frameLength, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
                previous = frame.view.storedChain
                expected += 1
            }
            if expected > keep { done = true }
            if let stoppedAt {
                done = true
                // A compressed file's offsets are not the file's: set the whole file aside.
                result.rest.append((summary.name, segment.header.compressed ? 0 : stoppedAt))
            } else if done, summary.lastSeq.map({ $0 > keep }) ?? false {
                result.rest.append((summary.name, 0))
            }
            if !accumulator.isEmpty {
                written.append((SegmentName.make(firstSeq: header.firstSeq), accumulator.header.encode() + frames, accumulator))
                frontier = accumulator.frontier()
            }
        }
        for (i, var w) in written.enumerated() {
            var bytes = w.bytes
            if i < written.count - 1 { bytes += w.accumulator.footer().encode(dataEnd: UInt64(bytes.count)) }
            try fs.writeAtomically(bytes, to: PathUtil.join(segments, w.name))
        }
        try fs.syncDirectory(segments)
        return result
    }

    /// Everything not salvaged, with a report of what it held.
    static func writeLostAndFound(_ rest: [(name: String, from: UInt64)], plan: Plan, source: StoreLayout, into out: String,
                                  options: Options) throws -> [String] {
        let fs = options.fileSystem
        let lost = PathUtil.join(out, "lost+found")
        try fs.createDirectory(lost)
        var written: [String] = []
        for (name, from) in rest {
            let bytes = try fs.readAll(PathUtil.join(source.segments, name))
            guard Int(clamping: from) < bytes.count else { continue }
            let target = PathUtil.join(lost, from == 0 ? name : "\(name).from-\(from)")
            try fs.writeAtomically(Array(bytes[Int(from)...]), to: target)
            written.append(target)
        }
        var report = "nedb-repair set these bytes aside from \(source.root):\n"
        for issue in plan.report.issues { report += "  [\(issue.id)] \(issue.location): \(issue.detail)\n" }
        if let keep = plan.keepThrough { report += "salvaged: seqs 0…\(keep) (verified)\n" }
        if let lostSeqs = plan.lost { report += "lost: seqs \(lostSeqs.lowerBound)…\(lostSeqs.upperBound) as far as known (from the segments and the store's witnesses)\n" }
        for w in written { report += "set aside: \(PathUtil.lastComponent(w))\n" }
        let path = PathUtil.join(lost, "REPORT.txt")
        try fs.writeAtomically(Array(report.utf8), to: path)
        written.append(path)
        return written
    }

    // MARK: In place

    /// Fixes a torn tail, stale or damaged derived files and footers, or (accepted) a
    /// rollback, holding the store's lock; backs up what it changes; refuses anything else.
    public static func inPlace(_ directory: String, plan: Plan, options: Options) throws(MaintenanceError) -> InPlace {
        guard plan.inPlaceAllowed(acceptRollback: options.acceptRollback) else {
            if !plan.rollback.isEmpty && plan.onlyRollback {
                throw .refusedInPlace("the log lost records its MANIFEST, REPLAY or checkpoints show it had (a rollback); accept it with --accept-rollback, or salvage with --out")
            }
            throw .refusedInPlace("the damage is not only a torn tail (it may be tampering or missing data); salvage with --out instead")
        }
        let fs = options.fileSystem
        let layout = StoreLayout(root: directory)
        var result = InPlace(backups: [], setAside: [], verification: plan.report)
        if plan.clean { return result }
        do {
            let holder = try StoreLockHolder.acquire(directory, fileSystem: fs, key: options.key)
            defer { holder.release() }
            let stamp = options.clock()
            let backupDir = PathUtil.join(directory, "backup")
            func backup(_ path: String) throws {
                try fs.createDirectory(backupDir)
                let target = PathUtil.join(backupDir, "\(PathUtil.lastComponent(path)).\(stamp)")
                try fs.writeAtomically(try fs.readAll(path), to: target)
                result.backups.append(target)
            }
            // Footers rebuilt from their records.
            if !plan.reseal.isEmpty {
                var frontier: CompactRange? = nil
                let ordered = plan.report.segments.sorted { ($0.segmentNumber ?? 0) < ($1.segmentNumber ?? 0) }
                for s in ordered {
                    let path = PathUtil.join(layout.segments, s.name)
                    if plan.reseal.contains(s.name) {
                        let rebuilt = try Resealer.reseal(path: path, fs: fs, frontier: &frontier)
                        try backup(path)
                        try fs.writeAtomically(rebuilt, to: path)
                    } else {
                        try Resealer.advance(path: path, fs: fs, frontier: &frontier)
                    }
                }
            }
            // The last segment's torn tail is cut by the writer's recovery below; back it up.
            if plan.tornTailOnly || !plan.rollback.isEmpty, let last = plan.report.segments.last {
                try backup(PathUtil.join(layout.segments, last.name))
            }
            // An accepted rollback: the witnesses of what was lost go to lost+found (kept as
            // evidence), so the log may continue from what is left.
            if options.acceptRollback && !plan.rollback.isEmpty {
                let lost = PathUtil.join(directory, "lost+found")
                try fs.createDirectory(lost)
                let end = plan.keepThrough
                var witnesses = [layout.manifest, PathUtil.join(directory, ReplayFileHeader.fileName)]
                for name in layout.checkpointNames(fs: fs) {
                    if let seq = CheckpointContainer.parseName(name), end.map({ seq >= $0 }) ?? true {
                        witnesses.append(PathUtil.join(layout.checkpoints, name))
                    }
                }
                for path in witnesses where fs.exists(path) {
                    let target = PathUtil.join(lost, "\(PathUtil.lastComponent(path)).\(stamp)")
                    try fs.rename(path, to: target)
                    result.setAside.append(target)
                }
                var text = "nedb-repair accepted a rollback of \(directory):\n"
                for issue in plan.rollback { text += "  [\(issue.id)] \(issue.location): \(issue.detail)\n" }
                if let lostSeqs = plan.lost { text += "lost: seqs \(lostSeqs.lowerBound)…\(lostSeqs.upperBound) as far as known\n" }
                for p in result.setAside { text += "set aside: \(PathUtil.lastComponent(p))\n" }
                let reportPath = PathUtil.join(lost, "REPORT.\(stamp).txt")
                try fs.writeAtomically(Array(text.utf8), to: reportPath)
                result.setAside.append(reportPath)
            }
            // Checkpoints that failed their checks are derived: set aside (kept), not deleted.
            for issue in plan.report.issues where issue.location.file.map({ PathUtil.directory(of: $0) == layout.checkpoints }) ?? false {
                guard let path = issue.location.file, fs.exists(path) else { continue }
                let lost = PathUtil.join(directory, "lost+found")
                try fs.createDirectory(lost)
                let target = PathUtil.join(lost, "\(PathUtil.lastComponent(path)).\(stamp)")
                try fs.rename(path, to: target)
                result.setAside.append(target)
            }
            // Opening read-write (under the held lock) truncates a torn tail and rebuilds the
            // manifest and the REPLAY index.
            var so = StoreOptions()
            so.key = options.key
            so.create = false
            let store = try holder.open(options: so)
            let keyring = store.dataKeys
            try store.close()
            var vo = VerifyOptions()
            vo.keyring = keyring
            result.verification = StoreVerifier.verify(directory: directory, fs: fs, options: vo)
            return result
        } catch {
            throw MaintenanceError.wrap(error)
        }
    }
}

/// Rebuilds a sealed segment's footer from its records.
enum Resealer {
    /// Reads every frame of a segment; returns the accumulator (started at `frontier`) and the
    /// frame bytes.
    static func scan(path: String, fs: FileSystem, frontier: inout CompactRange?) throws -> (SegmentAccumulator, [UInt8]) {
        let segment = try SegmentFile.open(fs: fs, path: path)
        var header = segment.header
        header.compressed = false
        let start = frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm))
        var accumulator = SegmentAccumulator(header: header, frontier: start)
        var frames: [UInt8] = []
        var scanner = segment.scanner()
        while let event = try scanner.next() {
            guard case let .record(frame) = event else { throw FormatError.malformed(Location(file: path), detail: "damaged records") }
            frames.append(contentsOf: frame.frameBytes)
            accumulator.add(frameLength: frame.view.frameLength, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
        }
        frontier = accumulator.frontier()
        return (accumulator, frames)
    }

    static func reseal(path: String, fs: FileSystem, frontier: inout CompactRange?) throws -> [UInt8] {
        var (accumulator, frames) = try scan(path: path, fs: fs, frontier: &frontier)
        let body = accumulator.header.encode() + frames
        return body + accumulator.footer().encode(dataEnd: UInt64(body.count))
    }

    static func advance(path: String, fs: FileSystem, frontier: inout CompactRange?) throws {
        _ = try scan(path: path, fs: fs, frontier: &frontier)
    }
}
