import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Verifies a store directory as spec/FORMAT.md §13 describes: every segment is scanned (in
/// parallel), then the segments are joined by their chain links, the Merkle tree is rebuilt,
/// and the manifest and checkpoints are compared with the log.
public enum StoreVerifier {
    public static func verify(directory: String, fs: FileSystem = PosixFileSystem(),
                              options: VerifyOptions = VerifyOptions()) -> VerifyReport {
        var report = VerifyReport()
        report.mode = options.mode
        report.decrypted = options.keyring != nil
        var issues: [FormatError] = []
        let layout = StoreLayout(root: directory)
        // Witnesses first: each was written after the records it describes were durable, so the
        // segments listed afterwards must reach them even while a writer appends and rotates.
        let witnessFiles = StoreWitnesses.read(layout: layout, fs: fs)
        let names: [String]
        do { names = try layout.segmentNames(fs: fs) } catch {
            report.issues = [error]
            return report
        }
        guard !names.isEmpty else {
            report.issues = [.missingSegment(Location(file: layout.segments), detail: "the store has no segment files")]
            return report
        }
        // Checkpoints first, so segment scans can note the chain hashes they bind to.
        var checkpointFiles: [(name: String, header: CheckpointHeader, file: CheckpointFile)] = []
        if options.checkCheckpoints {
            for name in layout.checkpointNames(fs: fs) {
                let path = PathUtil.join(layout.checkpoints, name)
                do {
                    // Mapped, not read: only the pages are hashed, and only a state check copies.
                    let opened = try CheckpointFile(bytes: try fs.map(path), file: path)
                    try opened.verifyAllPages()
                    checkpointFiles.append((name, opened.header, opened))
                } catch let e as FormatError {
                    issues.append(e)
                    report.checkpoints.append(CheckpointSummary(name: name, seq: CheckpointContainer.parseName(name), valid: false))
                } catch let e as SystemError {
                    issues.append(.system(e))
                    report.checkpoints.append(CheckpointSummary(name: name, seq: CheckpointContainer.parseName(name), valid: false))
                } catch {}
            }
        }
        let checkpointSeqs = Set(checkpointFiles.map(\.header.seq)).union(witnessFiles.witnesses.map(\.seq))
        let paths = names.map { PathUtil.join(layout.segments, $0) }
        let total = paths.reduce(UInt64(0)) { $0 + fs.sizeOrZero($1) }
        let progress = ProgressCounter(total: total, callback: options.progress)
        // Join in log order: by the segment number in each header (a file whose name disagrees
        // with its header was reported as reordered by its own check).
        var scanned = runParallel(paths: paths, options: options, fs: fs, checkpointSeqs: checkpointSeqs, progress: progress)
        settleLastSegment(&scanned, options: options, fs: fs, checkpointSeqs: checkpointSeqs)
        let checks = scanned
            .enumerated().sorted { a, b in
                switch (a.element.header, b.element.header) {
                case let (x?, y?): return (x.segmentNumber, x.firstSeq, a.offset) < (y.segmentNumber, y.firstSeq, b.offset)
                default: return a.offset < b.offset
                }
            }.map(\.element)
        let joined = join(checks, options: options, issues: &issues, report: &report)
        // A pruned record the rule does not vouch for: nothing in its segment is vouched for.
        var pruningIssues: [FormatError] = []
        checkPruning(checks, report: report, options: options, fs: fs, issues: &pruningIssues, notes: &report.notes)
        issues.append(contentsOf: pruningIssues)
        capHead(&report, at: pruningIssues, checks: checks, joined: joined, ids: ["malformed"])
        issues.append(contentsOf: checkReplayRules(checks))
        // What MANIFEST, REPLAY and the checkpoints say the log reached.
        let witnesses = report.storeId.map { witnessFiles.belonging(to: $0) } ?? WitnessReading()
        let lastSeq = checks.compactMap(\.lastSeq).max()
        let present = Set(names.compactMap(SegmentName.parse))
        let witnessIssues = (try? StoreWitnesses.check(witnesses.witnesses, lastSeq: lastSeq, hasSegment: { present.contains($0) },
                                                       chain: { seq throws(FormatError) -> Hash32? in joined.chains[seq] })) ?? []
        issues.append(contentsOf: witnessIssues)
        capHead(&report, at: witnessIssues, checks: checks, joined: joined)
        // A damaged or foreign REPLAY is derived data: reported, rebuilt by the next writer.
        let replayPath = PathUtil.join(layout.root, ReplayFileHeader.fileName)
        issues.append(contentsOf: witnesses.unusable.filter { $0.location.file == replayPath })
        report.notes.append(contentsOf: unknownFiles(layout: layout, fs: fs))
        if options.checkManifest {
            let manifestContradicted = witnessIssues.contains { $0.location.file == layout.manifest }
            checkManifest(layout: layout, reading: witnessFiles, checks: checks, report: report, contradicted: manifestContradicted,
                          issues: &issues, notes: &report.notes)
        }
        if options.checkCheckpoints {
            let prunings = checks.flatMap(\.compaction).filter { ($0.prunedCount ?? 0) > 0 }.map(\.seq)
            checkCheckpoints(checkpointFiles, layout: layout, joined: joined, options: options, prunings: prunings,
                             report: &report, issues: &issues)
            // Record N+1 must vouch for the file, or no reader loads it (spec/STATE.md §8): a note.
            let markers = readRecords(Set(checkpointFiles.map { $0.header.seq + 1 }), checks: checks, fs: fs, keyring: nil)
            for f in checkpointFiles where joined.chains[f.header.seq] == f.header.chainHead {
                let m = markers[f.header.seq + 1]
                if m?.type != .checkpointMarker || m?.checkpointSeq != f.header.seq || m?.checkpointHash != f.file.hash {
                    report.notes.append(.checkpointMismatch(Location(file: PathUtil.join(layout.checkpoints, f.name), seq: f.header.seq),
                        detail: "record \(f.header.seq + 1) is not the checkpoint record vouching for this file: readers never load it"))
                }
            }
        }
        report.omittedIssues = max(0, issues.count - options.maxIssues)
        report.issues = Array(issues.prefix(options.maxIssues))
        return report
    }

    /// The last segment of a store a writer is appending to may change while it is scanned:
    /// frames land mid-read, reserved space is cut off when it is sealed. An end that looks torn
    /// is scanned again until two scans agree (a crash's torn tail stays where it is; a write in
    /// progress completes within moments), at most a few times.
    static func settleLastSegment(_ checks: inout [SegmentCheck], options: VerifyOptions, fs: FileSystem,
                                  checkpointSeqs: Set<UInt64>) {
        guard let i = checks.indices.last, checks[i].header != nil else { return }
        func endsTorn(_ c: SegmentCheck) -> Bool {
            !c.sealed && ((c.damages.last?.reachesEnd ?? false) || !c.issues.isEmpty || c.incompleteTransaction != nil)
        }
        // Bytes appended after the first scan are not part of this verification (as a segment
        // created after the listing is not): rescans read the same range, whose frames a writer
        // may still have been filling in (a reader sees its bytes in address order, not in the
        // order they were stored).
        let listed = checks[i].fileSize
        var attempts = 0
        while endsTorn(checks[i]) && attempts < 8 {
            attempts += 1
            usleep(UInt32(2_000 * attempts))
            var again = checkSegment(path: checks[i].path, options: options, fs: fs, checkpointSeqs: checkpointSeqs,
                                     progress: ProgressCounter(total: 0, callback: nil), limitSize: listed)
            // A frame or transaction cut by that limit goes on in the file: the end of what was
            // listed, not a torn tail.
            if fs.sizeOrZero(checks[i].path) > listed {
                if let last = again.damages.last, last.reachesEnd { again.damages.removeLast() }
                again.incompleteTransaction = nil
            }
            let same = again.damages == checks[i].damages && again.records == checks[i].records && again.issues == checks[i].issues
            checks[i] = again
            if same { break }
        }
    }

    static func runParallel(paths: [String], options: VerifyOptions, fs: FileSystem, checkpointSeqs: Set<UInt64>,
                            progress: ProgressCounter) -> [SegmentCheck] {
        let results = ResultSlots<SegmentCheck>(count: paths.count)
        let workers = max(1, min(options.parallelism, paths.count))
        if workers == 1 {
            for (i, path) in paths.enumerated() {
                results.set(i, checkSegment(path: path, options: options, fs: fs, checkpointSeqs: checkpointSeqs, progress: progress))
            }
        } else {
            let next = ResultSlots<Int>(count: 1)
            next.set(0, 0)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let i = next.takeNext(limit: paths.count) {
                    results.set(i, checkSegment(path: paths[i], options: options, fs: fs,
                                                checkpointSeqs: checkpointSeqs, progress: progress))
                }
            }
        }
        return results.values.compactMap { $0 }
    }

    /// What the join produced for later checks.
    struct Joined {
        /// Compact range at the start of each segment (by index), when known.
        var startRanges: [CompactRange?]
        var head: LogHead?
        var chains: [UInt64: Hash32]
        var checkpointRoots: [UInt64: Hash32] = [:]
        var lastSeq: UInt64?
    }

    static func join(_ checks: [SegmentCheck], options: VerifyOptions, issues: inout [FormatError],
                     report: inout VerifyReport) -> Joined {
        var joined = Joined(startRanges: [], head: nil, chains: [:], lastSeq: nil)
        guard let firstHeader = checks.compactMap(\.header).first else {
            for c in checks { issues.append(contentsOf: c.issues) }
            return joined
        }
        let algorithm = firstHeader.hashAlgorithm
        let hasher = MerkleHasher(algorithm)
        report.storeId = firstHeader.storeId
        report.hashAlgorithm = algorithm
        report.encrypted = firstHeader.encrypted
        if let keyring = options.keyring, keyring.storeId != firstHeader.storeId {
            issues.append(.wrongKey(Location(), detail: "the key file belongs to store \(keyring.storeId), not \(firstHeader.storeId)"))
        }
        var range: CompactRange? = CompactRange(hasher: hasher)
        var headOpen = true          // still extending the clean prefix
        var previous: SegmentCheck? = nil
        var expectedNumber: UInt64 = 0
        for (index, check) in checks.enumerated() {
            let isLast = index == checks.count - 1
            report.segments.append(SegmentSummary(name: check.name, segmentNumber: check.header?.segmentNumber,
                                                  firstSeq: check.firstSeq ?? check.header?.firstSeq, lastSeq: check.lastSeq,
                                                  records: check.records, fileSize: check.fileSize, sealed: check.sealed,
                                                  compressed: check.header?.compressed ?? false, pruned: check.pruned))
            report.records += check.records
            report.bytes += check.fileSize
            report.prunedRecords += check.pruned
            joined.startRanges.append(range)
            guard let header = check.header else {
                // A last segment whose header never became whole is debris of a crash while
                // the next segment was being created: it holds no record.
                if isLast, index > 0, check.fileSize < UInt64(SegmentHeader.length),
                   check.issues.allSatisfy({ ["truncated", "bad_magic", "checksum_mismatch"].contains($0.id) }) {
                    issues.append(.tornTail(Location(file: check.path, offset: 0),
                                            detail: "segment file of \(check.fileSize) bytes with an incomplete header (a crash while it was created)"))
                    continue
                }
                issues.append(contentsOf: check.issues)
                headOpen = false
                range = nil
                continue
            }
            let at = Location(file: check.path, offset: 0, seq: header.firstSeq)
            var linked = true
            if header.storeId != firstHeader.storeId {
                issues.append(.reorderedSegment(Location(file: check.path, offset: 16),
                                                detail: "belongs to store \(header.storeId), not \(firstHeader.storeId)"))
                linked = false
            }
            if header.hashAlgorithm != algorithm || header.encrypted != firstHeader.encrypted {
                issues.append(.malformed(at, detail: "hash algorithm or encryption differs from the first segment"))
                linked = false
            }
            // Position: segment numbers and seqs must continue the previous segment.
            if header.segmentNumber != expectedNumber {
                if header.segmentNumber > expectedNumber, previous == nil || header.firstSeq > (previous?.lastSeq ?? 0) + 1 {
                    let missing = header.segmentNumber - expectedNumber
                    issues.append(.missingSegment(at, detail: "segment number \(header.segmentNumber) follows \(expectedNumber == 0 ? "the start of the log" : "segment \(expectedNumber - 1)"): \(missing) segment(s) absent"
                        + (previous.map { " (seqs \(($0.lastSeq ?? 0) + 1)…\(header.firstSeq - 1))" } ?? "")))
                } else {
                    issues.append(.reorderedSegment(at, detail: "segment number \(header.segmentNumber) is out of place (expected \(expectedNumber))"))
                }
                linked = false
            } else if let previous, let prevLast = previous.lastSeq, header.firstSeq != prevLast + 1, previous.damages.isEmpty {
                if header.firstSeq > prevLast + 1 {
                    issues.append(.missingSegment(at, detail: "seqs \(prevLast + 1)…\(header.firstSeq - 1) are missing before this segment"))
                } else {
                    issues.append(.chainBreak(at, detail: "segment starts at seq \(header.firstSeq), overlapping the previous segment (last seq \(prevLast))"))
                }
                linked = false
            } else if previous == nil && header.firstSeq != 0 {
                issues.append(.missingSegment(at, detail: "the first segment starts at seq \(header.firstSeq), not 0"))
                linked = false
            }
            if linked, let previous, let prevChain = previous.lastChain, previous.damages.isEmpty,
               header.previousChain != prevChain {
                issues.append(.chainBreak(Location(file: check.path, offset: 48, seq: header.firstSeq),
                    detail: "header's previous chain hash \(header.previousChain.hex) is not the chain hash \(prevChain.hex) of seq \(previous.lastSeq ?? 0)"))
                linked = false
            }
            if linked, previous == nil, header.previousChain != .zero {
                issues.append(.chainBreak(Location(file: check.path, offset: 48), detail: "the first segment's previous chain hash must be zero"))
                linked = false
            }
            if !check.sealed && !isLast {
                issues.append(.malformed(Location(file: check.path), detail: "only the last segment may be unsealed"))
            }
            // Damage: a torn tail only at the end of the final, unsealed segment.
            var segmentIssues = check.issues + check.footerIssues
            for d in check.damages {
                if isLast && !check.sealed && d.reachesEnd {
                    segmentIssues.append(.tornTail(Location(file: check.path, offset: d.start, seq: d.reason.location.seq),
                        detail: "\(d.end - d.start) bytes at the end of the log do not form a complete record (\(d.reason.detail))"))
                } else {
                    segmentIssues.append(d.reason)
                }
            }
            if let at = check.incompleteTransaction {
                if isLast && !check.sealed {
                    segmentIssues.append(.tornTail(at, detail: "the transaction starting at seq \(at.seq ?? 0) is incomplete at the end of the log (an interrupted write: a writer drops it)"))
                } else {
                    segmentIssues.append(.malformed(at, detail: "the transaction starting at seq \(at.seq ?? 0) does not end in its segment"))
                }
            }
            segmentIssues.sort { ($0.location.offset ?? 0) < ($1.location.offset ?? 0) }
            issues.append(contentsOf: segmentIssues)
            if let g = check.genesis {
                if g.storeId != header.storeId || g.hashAlgorithm != algorithm
                    || (g.encryption == .aes256gcm) != header.encrypted {
                    issues.append(.malformed(Location(file: check.path, seq: 0), detail: "the genesis record does not match the segment headers"))
                }
            }
            // Merkle: extend the global compact range with this segment's subtrees.
            if !linked { range = nil }
            if var r = range, r.size == header.firstSeq {
                if let decomposition = check.decomposition {
                    for (level, h) in decomposition { r.append(subtree: h, level: level) }
                    range = r
                } else if let frontier = check.footerFrontier, frontier.size == (check.lastSeq ?? 0) + 1 {
                    range = frontier
                } else {
                    range = nil
                }
                if let frontier = check.footerFrontier, let current = range, options.mode == .full,
                   check.damages.isEmpty, current.size == frontier.size, current != frontier {
                    issues.append(.footerMismatch(Location(file: check.path), detail: "the footer's compact range differs from the recomputed tree"))
                }
                if let meta = check.footerMeta, let current = range, options.mode == .full, check.damages.isEmpty,
                   current.size == meta.lastSeq + 1, current.root != meta.root {
                    issues.append(.footerMismatch(Location(file: check.path), detail: "the footer's Merkle root \(meta.root.hex) differs from the recomputed root \(current.root.hex)"))
                }
            } else {
                range = nil
            }
            for (seq, chain) in check.checkpointChains { joined.chains[seq] = chain }
            if linked, let start = joined.startRanges[index], start.size == header.firstSeq {
                for (seq, decomposition) in check.checkpointDecompositions {
                    var r = start
                    for (level, h) in decomposition { r.append(subtree: h, level: level) }
                    if r.size == seq + 1 { joined.checkpointRoots[seq] = r.root }
                }
            }
            // Head: the longest clean prefix.
            if headOpen && linked {
                let cleanAll = check.issues.isEmpty && check.damages.isEmpty
                if check.cleanCount > 0, let chain = check.cleanChain {
                    let seq = header.firstSeq + check.cleanCount - 1
                    var root: Hash32? = nil
                    if cleanAll, let r = range, r.size == seq + 1 {
                        root = r.root
                    } else if var r = joined.startRanges[index], let d = check.cleanDecomposition, r.size == header.firstSeq {
                        for (level, h) in d { r.append(subtree: h, level: level) }
                        if r.size == seq + 1 { root = r.root }
                    }
                    joined.head = root.map { LogHead(seq: seq, chain: chain, root: $0) }
                }
                if !cleanAll { headOpen = false }
            } else {
                headOpen = false
            }
            joined.lastSeq = check.lastSeq ?? joined.lastSeq
            previous = check
            expectedNumber = header.segmentNumber + 1
        }
        report.head = joined.head
        return joined
    }

    /// Every pruned record against the pruning rule (§3.7); superseding records are read on demand.
    static func checkPruning(_ checks: [SegmentCheck], report: VerifyReport, options: VerifyOptions, fs: FileSystem,
                             issues: inout [FormatError], notes: inout [FormatError]) {
        let pruned = checks.flatMap(\.prunedRecords)
        guard !pruned.isEmpty, let storeId = report.storeId else { return }
        let compactions = checks.flatMap { c in c.compaction.map { PruningCheck.Compaction(record: $0, at: Location(file: c.path, seq: $0.seq)) } }
        let check = PruningCheck(pruned: pruned, compactions: compactions, storeId: storeId, encrypted: report.encrypted,
                                 keyring: options.keyring)
        let found = check.run { seqs in readRecords(seqs, checks: checks, fs: fs, keyring: options.keyring) }
        issues.append(contentsOf: found.issues)
        notes.append(contentsOf: found.notes)
    }

    /// The writer's replay rules (§3.6), over the records this verification decoded (all of them
    /// with `--documents` or a key): nonces rise per client, an idempotency key is logged once
    /// (several records of one transaction may carry it).
    static func checkReplayRules(_ checks: [SegmentCheck]) -> [FormatError] {
        var issues: [FormatError] = []
        // Pruning's third rule (§3.7): no record names a version compaction pruned as its cause.
        let pruned = Set(checks.flatMap { $0.prunedRecords.map(\.record.seq) })
        var lastNonce: [String: (nonce: UInt64, seq: UInt64)] = [:]
        var firstKey: [String: (seq: UInt64, transaction: UInt64?)] = [:]
        for r in checks.flatMap(\.replayFields) {
            if !pruned.isEmpty, let cause = r.causedBy.first(where: { pruned.contains($0) }) {
                issues.append(.malformed(r.at, detail: "record \(r.seq) names seq \(cause) as a cause, but compaction pruned that record"))
            }
            if let client = r.client, let nonce = r.nonce {
                if let last = lastNonce[client], nonce <= last.nonce {
                    issues.append(.malformed(r.at, detail: "nonce \(nonce) of client \(client) is not above its nonce \(last.nonce) at seq \(last.seq)"))
                }
                lastNonce[client] = (max(nonce, lastNonce[client]?.nonce ?? 0), r.seq)
            }
            if let key = r.idempotencyKey {
                if let first = firstKey[key] {
                    if first.transaction == nil || first.transaction != r.transaction {
                        issues.append(.malformed(r.at, detail: "idempotency key \(key.debugDescription) was logged before, at seq \(first.seq)"))
                    }
                } else {
                    firstKey[key] = (r.seq, r.transaction)
                }
            }
        }
        return issues
    }

    /// The records with these seqs, decoded (and opened, with a key), from the segments holding them.
    static func readRecords(_ seqs: Set<UInt64>, checks: [SegmentCheck], fs: FileSystem, keyring: Keyring?) -> [UInt64: Record] {
        var out: [UInt64: Record] = [:]
        for c in checks {
            guard let first = c.firstSeq, let last = c.lastSeq, seqs.contains(where: { $0 >= first && $0 <= last }),
                  let segment = try? SegmentFile.open(fs: fs, path: c.path) else { continue }
            var scanner = segment.scanner()
            while let event = try? scanner.next() {
                guard case let .record(frame) = event, seqs.contains(frame.seq),
                      var r = try? frame.decode(file: c.path, options: RecordCodec.Options(checkCanonicalDocuments: false)) else { continue }
                if r.isSealed, let keyring, let opened = try? RecordSealer.open(r, keyring: keyring, location: Location(file: c.path, seq: r.seq)) {
                    r = opened
                }
                out[frame.seq] = r
            }
        }
        return out
    }

    /// Files the format does not define (spec/FORMAT.md §1: readers ignore them), named as notes.
    static func unknownFiles(layout: StoreLayout, fs: FileSystem) -> [FormatError] {
        let known: Set<String> = ["LOCK", Manifest.fileName, KeyFile.fileName, ReplayFileHeader.fileName, "segments", "checkpoints",
                                  "segments.next", "segments.old", ".creating", "lost+found", "backup"]
        var notes: [FormatError] = []
        func note(_ path: String) {
            notes.append(.malformed(Location(file: path), detail: "not a file of the format (ignored; interrupted temporaries end in .tmp and a writer removes them)"))
        }
        for name in (try? fs.listDirectory(layout.root)) ?? [] where !known.contains(name) { note(PathUtil.join(layout.root, name)) }
        for name in (try? fs.listDirectory(layout.segments)) ?? [] where SegmentName.parse(name) == nil { note(PathUtil.join(layout.segments, name)) }
        if fs.isDirectory(layout.checkpoints) {
            for name in (try? fs.listDirectory(layout.checkpoints)) ?? [] where CheckpointContainer.parseName(name) == nil {
                note(PathUtil.join(layout.checkpoints, name))
            }
        }
        return notes
    }

    /// A witness that recorded another chain hash at seq S than the log has shows the log was
    /// rewritten somewhere up to S; nothing in S's segment is vouched for then, so the verified
    /// prefix ends before that segment (whose start its header links to the one before).
    static func capHead(_ report: inout VerifyReport, at witnessIssues: [FormatError], checks: [SegmentCheck], joined: Joined,
                        ids: Set<String> = ["chain_break", "checkpoint_mismatch"]) {
        for issue in witnessIssues where ids.contains(issue.id) {
            guard let seq = issue.location.seq,
                  let i = checks.firstIndex(where: { c in (c.header?.firstSeq ?? .max) <= seq && seq <= (c.lastSeq ?? 0) }),
                  let header = checks[i].header, let head = report.head, head.seq >= header.firstSeq else { continue }
            if header.firstSeq > 0, i < joined.startRanges.count, let range = joined.startRanges[i], range.size == header.firstSeq {
                report.head = LogHead(seq: header.firstSeq - 1, chain: header.previousChain, root: range.root)
            } else {
                report.head = nil
            }
        }
    }

    /// Compares the manifest with the segments. A manifest that is only behind them — every
    /// entry consistent with the log, as an interrupted rotation, compression or compaction
    /// leaves it — is a note; one that contradicts them is `manifest_mismatch`.
    static func checkManifest(layout: StoreLayout, reading: WitnessReading, checks: [SegmentCheck], report: VerifyReport,
                              contradicted: Bool, issues: inout [FormatError], notes: inout [FormatError]) {
        let path = layout.manifest
        // The manifest as read before the segments were listed (a writer may rewrite it since).
        guard let manifest = reading.manifest else {
            if let e = reading.unusable.first(where: { $0.location.file == path }) {
                issues.append(e)
            } else {
                // Missing: as a crash right after a store is created leaves it; derived, rebuilt.
                notes.append(.manifestMismatch(Location(file: path), detail: "MANIFEST is missing (a writer rebuilds it from the segments)"))
            }
            return
        }
        var problems: [String] = []
        var contradictions = contradicted
        if let id = report.storeId, manifest.storeId != id { problems.append("store id \(manifest.storeId) differs"); contradictions = true }
        if let alg = report.hashAlgorithm, manifest.hashAlgorithm != alg { problems.append("hash algorithm differs"); contradictions = true }
        if manifest.encrypted != report.encrypted { problems.append("encryption flag differs"); contradictions = true }
        let listed = manifest.segments.map(\.fileName)
        let present = checks.map(\.name)
        // Seqs some segment file holds: an entry whose file is gone is only stale when other
        // files (compaction's merged segments) hold its seqs.
        let ranges = checks.compactMap { c -> ClosedRange<UInt64>? in
            guard let first = c.firstSeq ?? c.header?.firstSeq, let last = c.lastSeq, last >= first else { return nil }
            return first...last
        }
        func covered(_ first: UInt64, _ last: UInt64) -> Bool {
            var next = first
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where r.lowerBound <= next && r.upperBound >= next {
                if r.upperBound >= last { return true }
                next = r.upperBound + 1
            }
            return false
        }
        for entry in manifest.segments where !present.contains(entry.fileName) {
            problems.append("lists \(entry.fileName), which does not exist")
            if entry.state == .active || !covered(entry.firstSeq, entry.lastSeq) { contradictions = true }
        }
        let lastListed = manifest.segments.map(\.firstSeq).max()
        for c in checks where !listed.contains(c.name) {
            problems.append("does not list \(c.name)")
            // Newer than every entry (a rotation the manifest missed) or holding seqs of listed
            // entries (compaction): stale. Anything else contradicts it.
            if let first = c.header?.firstSeq, let lastListed, first < lastListed,
               !manifest.segments.contains(where: { $0.firstSeq <= first && first <= max($0.lastSeq, $0.firstSeq) }) {
                contradictions = true
            }
        }
        for entry in manifest.segments {
            guard let c = checks.first(where: { $0.name == entry.fileName }), let header = c.header else { continue }
            if entry.segmentNumber != header.segmentNumber || entry.firstSeq != header.firstSeq {
                problems.append("entry for \(entry.fileName) names segment \(entry.segmentNumber) at seq \(entry.firstSeq), the file holds segment \(header.segmentNumber) at seq \(header.firstSeq)")
                contradictions = true
            } else if entry.state != .active {
                let lastSeq = c.footerMeta?.lastSeq ?? c.lastSeq
                let chain = c.footerMeta?.chainHead ?? c.lastChain
                if lastSeq != entry.lastSeq || c.fileSize != entry.fileSize || chain != entry.chainHead {
                    problems.append("entry for \(entry.fileName) does not match the sealed segment")
                    if !c.sealed || (lastSeq ?? 0) < entry.lastSeq { contradictions = true }
                }
            } else if entry.fileSize > c.fileSize {
                problems.append("active segment \(entry.fileName) is shorter than the manifest says")
                contradictions = true
            }
        }
        if problems.isEmpty { return }
        if contradictions {
            issues.append(.manifestMismatch(Location(file: path), detail: problems.joined(separator: "; ")))
        } else {
            notes.append(.manifestMismatch(Location(file: path),
                detail: "MANIFEST is behind the segments, as an interrupted rotation, compression or compaction leaves it (a writer rewrites it): " + problems.joined(separator: "; ")))
        }
    }

    static func checkCheckpoints(_ files: [(name: String, header: CheckpointHeader, file: CheckpointFile)],
                                 layout: StoreLayout, joined: Joined, options: VerifyOptions, prunings: [UInt64] = [],
                                 report: inout VerifyReport, issues: inout [FormatError]) {
        for file in files {
            let path = PathUtil.join(layout.checkpoints, file.name)
            let h = file.header
            var problem: FormatError? = nil
            if CheckpointContainer.parseName(file.name) != h.seq {
                problem = .checkpointMismatch(Location(file: path, offset: 32), detail: "file is named for another seq than its header's \(h.seq)")
            } else if let id = report.storeId, h.storeId != id {
                problem = .checkpointMismatch(Location(file: path, offset: 16), detail: "checkpoint belongs to store \(h.storeId)")
            } else if let chain = joined.chains[h.seq], chain != h.chainHead {
                // Reported by the witness check (the log was rewritten after the checkpoint).
                problem = nil
                report.checkpoints.append(CheckpointSummary(name: file.name, seq: h.seq, valid: false))
                continue
            } else if joined.chains[h.seq] == nil {
                // Beyond the log (a witness issue) or inside a gap: nothing to compare with.
                report.checkpoints.append(CheckpointSummary(name: file.name, seq: h.seq, valid: false))
                continue
            }
            if problem == nil, options.mode == .full, let rootCheck = rootAt(seq: h.seq, joined: joined, report: report) {
                if rootCheck != h.root {
                    problem = .checkpointMismatch(Location(file: path, offset: 72, seq: h.seq),
                        detail: "bound Merkle root \(h.root.hex) is not the log's \(rootCheck.hex) at seq \(h.seq)")
                }
            }
            // A checkpoint made before a pruning holds the unpruned state: nothing to compare it with (§3.7).
            let beforePruning = prunings.contains { $0 > h.seq }
            if beforePruning {
                report.notes.append(.checkpointMismatch(Location(file: path, seq: h.seq),
                    detail: "made before compaction record \(prunings.max() ?? 0) pruned history: its state is not compared with a replay of the pruned log"))
            }
            if problem == nil, !beforePruning, options.mode == .full, let hook = options.checkpointState {
                problem = hook(h, file.file.bytes.slice(CheckpointHeader.length, file.file.payloadLength), path)
            }
            if let problem { issues.append(problem) }
            report.checkpoints.append(CheckpointSummary(name: file.name, seq: h.seq, valid: problem == nil))
        }
        report.checkpoints.sort { ($0.seq ?? 0) < ($1.seq ?? 0) }
    }

    /// Not stored during the join: checkpoint roots are recomputed by `rootAt` from what the
    /// segment checks kept.
    static func rootAt(seq: UInt64, joined: Joined, report: VerifyReport) -> Hash32? {
        joined.checkpointRoots[seq]
    }
}

/// Fixed slots filled from several threads.
final class ResultSlots<T>: @unchecked Sendable {
    private let mutex = PthreadMutex()
    private(set) var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ v: T) { mutex.locked { values[i] = v } }

    /// Atomically takes the next index (stored in slot 0 of an Int slot array).
    func takeNext(limit: Int) -> Int? where T == Int {
        mutex.locked {
            guard let current = values[0], current < limit else { return nil }
            values[0] = current + 1
            return current
        }
    }
}
