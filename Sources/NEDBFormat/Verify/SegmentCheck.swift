/// Everything one segment contributes to a verification, computed independently of the other
/// segments so segments can be checked in parallel and joined by their chain links.
struct SegmentCheck: Sendable {
    var name: String
    var path: String
    var fileSize: UInt64 = 0
    var header: SegmentHeader?
    var sealed = false
    var footerMeta: FooterMeta?
    var footerFrontier: CompactRange?
    var issues: [FormatError] = []
    /// Problems in the footer only (derived data: they do not shorten the verified prefix).
    var footerIssues: [FormatError] = []
    var damages: [ScanDamage] = []
    var firstSeq: UInt64?
    var lastSeq: UInt64?
    var lastChain: Hash32?
    var records: UInt64 = 0
    var pruned: UInt64 = 0
    var genesis: Record?
    var compaction: [Record] = []
    /// The replay-protection fields of the records decoded (plaintext or opened), in seq order,
    /// checked across segments by `StoreVerifier.checkReplayRules` (§3.6).
    var replayFields: [ReplayFields] = []
    /// A transaction still open at the end of the segment: where it starts.
    var incompleteTransaction: Location?
    /// Pruned records, decoded, with where they are (checked against the pruning rule, §3.7).
    var prunedRecords: [(record: Record, at: Location)] = []
    /// Records before the first problem in this segment, their last chain hash, and the aligned
    /// subtrees covering them.
    var cleanCount: UInt64 = 0
    var cleanChain: Hash32?
    var cleanDecomposition: [(level: Int, hash: Hash32)]?
    /// Aligned subtrees covering all scanned records (nil in quick mode for sealed segments).
    var decomposition: [(level: Int, hash: Hash32)]?
    /// For checkpoint seqs inside this segment: their chain hash and the subtrees up to them.
    var checkpointChains: [UInt64: Hash32] = [:]
    var checkpointDecompositions: [UInt64: [(level: Int, hash: Hash32)]] = [:]
    var lastTime: Microseconds?
    /// Bytes of all frames scanned.
    var frameBytes: UInt64 = 0
}

extension StoreVerifier {
    /// Scans and checks one segment file.
    static func checkSegment(path: String, options: VerifyOptions, fs: FileSystem,
                             checkpointSeqs: Set<UInt64>, progress: ProgressCounter, limitSize: UInt64? = nil) -> SegmentCheck {
        var result = SegmentCheck(name: PathUtil.lastComponent(path), path: path)
        let segment: SegmentFile
        do {
            segment = try SegmentFile.open(fs: fs, path: path, limitSize: limitSize)
        } catch {
            result.issues.append(error)
            result.fileSize = fs.sizeOrZero(path)
            return result
        }
        result.fileSize = segment.size
        let header = segment.header
        result.header = header
        result.sealed = segment.isSealed
        let full = options.mode == .full
        let hasher = MerkleHasher(header.hashAlgorithm)
        var offsets: [UInt64] = []
        var knownOffsets: [UInt64]? = nil
        // Quick mode trusts a sealed segment's stored Merkle levels (after their CRC check)
        // instead of recomputing them; full mode recomputes and compares.
        var storedLevels: MerkleLevels? = nil
        if let footer = segment.footer {
            result.footerMeta = footer.meta
            do { knownOffsets = try footer.recordOffsets(file: path, reader: segment.reader) } catch { result.footerIssues.append(error) }
            do { storedLevels = try footer.levels(hasher: hasher, file: path, reader: segment.reader) } catch { result.footerIssues.append(error) }
        }
        if let e = segment.footerError { result.footerIssues.append(e) }
        // Full mode recomputes every node: against the stored levels node by node when the footer
        // has them (no second copy is built), otherwise into a fresh set of levels.
        let buildLevels = storedLevels == nil
        var levels = MerkleLevels(hasher: hasher, firstLeaf: header.firstSeq)
        var storedMismatch: (level: Int, index: UInt64)? = nil
        var scanner = PrehashingScanner(segment.scanner(limitSeq: options.limitSeq, knownOffsets: knownOffsets),
                                        algorithm: header.hashAlgorithm, previous: header.previousChain, chainHashes: full)
        var expected = header.firstSeq
        var afterDamage = false
        var clean = true
        var lastTime: Microseconds? = nil
        let keyOptions = RecordCodec.Options(checkCanonicalDocuments: true)
        var bytesSinceReport: UInt64 = 0
        /// The transaction being read (§3.6): its mark, where it starts, and the clean prefix before it.
        var openTransaction: (mark: TransactionMark, at: Location, countBefore: UInt64, chainBefore: Hash32?)? = nil
        /// Consecutive legacy pruned records just read (they lost their transaction marks).
        var legacyRun: (seq: UInt64, countBefore: UInt64, chainBefore: Hash32?, at: Location)? = nil
        func decomposition(upTo end: UInt64) -> [(level: Int, hash: Hash32)] {
            if buildLevels { levels.catchUp() }
            return (buildLevels ? levels : storedLevels ?? levels).decomposition(upTo: end)
        }
        /// The chain hash before the last record read (the header's link before the second).
        var beforeLast = header.previousChain
        /// Ends the clean prefix before the record being read, or (`dropLast`) before the last
        /// one read too: a record whose successor does not link to it is not vouched for.
        func endClean(dropLast: Bool = false) {
            guard clean else { return }
            clean = false
            let drop = dropLast && result.records > 0
            result.cleanCount = result.records - (drop ? 1 : 0)
            result.cleanChain = drop ? (result.cleanCount > 0 ? beforeLast : nil) : result.lastChain
            result.cleanDecomposition = decomposition(upTo: header.firstSeq + result.cleanCount)
        }
        func problem(_ e: FormatError) {
            result.issues.append(e)
            endClean()
        }
        /// The first record whose stored chain hash is not the footer's leaf: the records from
        /// there on were rewritten, or the footer was; the segment's end decides which.
        var firstLeafMismatch: (seq: UInt64, count: UInt64, chain: Hash32?, leaf: Hash32, found: Hash32)? = nil
        if let nameSeq = SegmentName.parse(result.name), nameSeq != header.firstSeq {
            problem(.reorderedSegment(Location(file: path, offset: 40),
                detail: "file is named for seq \(nameSeq) but its header says it starts at seq \(header.firstSeq)"))
        }

        while true {
            let next: (event: ScanEvent, computed: Hash32?)?
            do { next = try scanner.next() } catch {
                problem(error)
                break
            }
            guard let (event, computedChain) = next else { break }
            switch event {
            case let .damage(d):
                result.damages.append(d)
                endClean()
                afterDamage = true
                openTransaction = nil     // its records may be in the damage already reported
            case let .record(frame):
                var at: Location { Location(file: path, offset: frame.offset, seq: frame.seq) }
                if frame.seq != expected {
                    if afterDamage && frame.seq > expected {
                        // Records were lost in the damage already reported.
                    } else {
                        problem(.chainBreak(at, detail: "seq \(frame.seq) where seq \(expected) was expected"))
                    }
                    // Leaves must stay contiguous: a gap or overlap ends Merkle accumulation.
                }
                let contiguous = frame.seq == header.firstSeq + result.records
                if frame.view.type == .pruned {
                    result.pruned += 1
                } else if full && !afterDamage, let computed = computedChain {
                    if computed != frame.view.storedChain {
                        // Either this record changed, or the one before was rewritten with its
                        // hash recomputed: the one before counts only if the footer vouches.
                        let vouched = result.records == 0 || (storedLevels?.node(level: 0, index: frame.seq &- 1) == result.lastChain)
                        endClean(dropLast: !vouched)
                        problem(.hashMismatch(at, expected: computed, found: frame.view.storedChain))
                    }
                }
                if full {
                    let structural = frame.buffer.withUnsafeBytes { raw in
                        StructureCheck.check(type: frame.view.type, body: UnsafeRawBufferPointer(rebasing: raw[frame.view.bodyRange]))
                    }
                    if let s = structural { problem(.malformed(at, detail: s)) }
                }
                if let t = lastTime, frame.time < t {
                    problem(.malformed(at, detail: "transaction time \(frame.time) is earlier than the previous record's \(t)"))
                }
                lastTime = frame.time
                if frame.seq == 0 || frame.view.type == .genesis || frame.view.type == .compaction || frame.view.type == .pruned
                    || options.checkDocuments || options.keyring != nil {
                    let found = check(frame: frame, at: at, header: header, options: options, keyOptions: keyOptions)
                    if let g = found.genesis { result.genesis = g }
                    if let c = found.compaction { result.compaction.append(c) }
                    if let p = found.pruned { result.prunedRecords.append((p, at)) }
                    if let r = found.replay { result.replayFields.append(r) }
                    for p in found.problems { problem(p) }
                }
                let mark = frame.buffer.withUnsafeBytes { raw in
                    StructureCheck.transactionMark(body: UnsafeRawBufferPointer(rebasing: raw[frame.view.bodyRange]))
                }
                // Revision 1.0 compaction dropped the mark of the records it pruned (§3.7): a
                // legacy pruned record counts as whatever member of a transaction it replaced.
                let legacyPruned = frame.view.type == .pruned && mark == nil
                    && result.prunedRecords.last.map { $0.record.seq == frame.seq && $0.record.prunedBy == nil } == true
                if legacyPruned {
                    if let open = openTransaction, frame.seq == open.mark.firstSeq &+ UInt64(open.mark.count) &- 1 { openTransaction = nil }
                    if legacyRun == nil { legacyRun = (frame.seq, result.records, result.lastChain, at) }
                } else {
                    if let open = openTransaction, mark != open.mark {
                        problem(.malformed(at, detail: "transaction of \(open.mark.count) records from seq \(open.mark.firstSeq) ends after \(frame.seq - open.mark.firstSeq) of them"))
                        // Not a whole transaction: none of it is in the verified prefix.
                        if result.cleanCount > open.countBefore {
                            result.cleanCount = open.countBefore
                            result.cleanChain = open.countBefore > 0 ? open.chainBefore : nil
                            result.cleanDecomposition = decomposition(upTo: header.firstSeq + open.countBefore)
                        }
                        openTransaction = nil
                    }
                    if let open = openTransaction {
                        if frame.seq == open.mark.firstSeq &+ UInt64(open.mark.count) &- 1 { openTransaction = nil }
                    } else if let mark {
                        let last = mark.firstSeq &+ UInt64(mark.count) &- 1
                        if mark.firstSeq == frame.seq {
                            if mark.count > 1 { openTransaction = (mark, at, result.records, result.lastChain) }
                        } else if let run = legacyRun, mark.firstSeq >= run.seq, mark.firstSeq < frame.seq, frame.seq <= last {
                            // Its first records were pruned under revision 1.0.
                            if frame.seq < last { openTransaction = (mark, run.at, run.countBefore, run.chainBefore) }
                        } else {
                            problem(.malformed(at, detail: "record \(frame.seq) is marked as part of the transaction from seq \(mark.firstSeq), which does not start there"))
                        }
                    }
                    legacyRun = nil
                }
                if contiguous {
                    offsets.append(frame.offset)
                    if buildLevels {
                        levels.appendDeferred(frame.view.storedChain)
                    } else if full, let stored = storedLevels, storedMismatch == nil,
                              let leaf = stored.node(level: 0, index: frame.seq), leaf != frame.view.storedChain {
                        storedMismatch = (0, frame.seq)
                        if firstLeafMismatch == nil {
                            firstLeafMismatch = (frame.seq, result.records, result.lastChain, leaf, frame.view.storedChain)
                        }
                    }
                    result.records += 1
                    if result.firstSeq == nil { result.firstSeq = frame.seq }
                    result.lastSeq = frame.seq
                    beforeLast = result.lastChain ?? header.previousChain
                    result.lastChain = frame.view.storedChain
                    if !checkpointSeqs.isEmpty && checkpointSeqs.contains(frame.seq) {
                        result.checkpointChains[frame.seq] = frame.view.storedChain
                        if buildLevels {
                            levels.catchUp()
                            result.checkpointDecompositions[frame.seq] = levels.decomposition(upTo: frame.seq + 1)
                        }
                    }
                }
                expected = frame.seq &+ 1
                afterDamage = false
                bytesSinceReport += UInt64(frame.view.frameLength)
                result.frameBytes += UInt64(frame.view.frameLength)
                if bytesSinceReport >= 4 << 20 {
                    progress.add(bytesSinceReport)
                    bytesSinceReport = 0
                }
            }
        }
        progress.add(bytesSinceReport)
        result.lastTime = lastTime
        // A transaction that does not end in its segment: an interrupted write at the end of the
        // log (the join decides), never acknowledged, so not part of the verified prefix.
        if let open = openTransaction {
            result.incompleteTransaction = open.at
            if clean || result.cleanCount > open.countBefore {
                clean = false
                result.cleanCount = open.countBefore
                result.cleanChain = open.countBefore > 0 ? open.chainBefore : nil
                result.cleanDecomposition = decomposition(upTo: header.firstSeq + open.countBefore)
            }
        }
        if !buildLevels, let stored = storedLevels {
            for seq in checkpointSeqs where result.checkpointChains[seq] != nil {
                result.checkpointDecompositions[seq] = stored.decomposition(upTo: seq + 1)
            }
        }
        // The stored leaves matched the records one by one; every stored node above them must
        // be the hash of its stored children (checked a level at a time, many nodes at once).
        if full, !buildLevels, storedMismatch == nil, let stored = storedLevels {
            storedMismatch = firstInnerMismatch(stored, leafCount: result.records)
        }
        // The footer's chain head must be the last record's. If it is not, the records were
        // rewritten from the first one the footer's leaves disagree with (or the last one is not
        // vouched for); if it is, a disagreeing leaf is the footer's fault (reported with it).
        if let meta = result.footerMeta, meta.lastSeq == result.lastSeq, meta.chainHead != result.lastChain {
            if let m = firstLeafMismatch {
                if clean || result.cleanCount > m.count {
                    clean = false
                    result.cleanCount = m.count
                    result.cleanChain = m.count > 0 ? m.chain : nil
                    result.cleanDecomposition = decomposition(upTo: header.firstSeq + m.count)
                }
                result.issues.append(.footerMismatch(Location(file: path, seq: m.seq),
                    detail: "record \(m.seq) has chain hash \(m.found.hex), the footer's leaf is \(m.leaf.hex), and the footer's chain head is not the last record's: the records from seq \(m.seq) on were rewritten"))
                storedMismatch = nil
            } else {
                endClean(dropLast: true)
            }
        }
        endClean()
        result.decomposition = decomposition(upTo: header.firstSeq + result.records)
        if let footer = segment.footer, result.damages.isEmpty,
           options.limitSeq == nil || (result.lastSeq ?? 0) >= footer.meta.lastSeq {
            checkFooter(footer, segment: segment, offsets: offsets, result: &result)
            if full, let mismatch = storedMismatch {
                result.footerIssues.append(.footerMismatch(Location(file: path, offset: footer.dataEnd),
                    detail: "Merkle node (level \(mismatch.level), index \(mismatch.index)) differs from the records' hashes"))
            }
        }
        return result
    }

    /// The lowest-level stored node above the leaves that is not the hash of its two stored
    /// children, among the nodes covering only the first `leafCount` leaves.
    static func firstInnerMismatch(_ stored: MerkleLevels, leafCount: UInt64) -> (level: Int, index: UInt64)? {
        var batch = HashBatch(stored.hasher.algorithm)
        var computed: [Hash32] = []
        for level in 1..<max(1, stored.levels.count) {
            let first = stored.firstIndex(level: level)
            let from = Int(2 * first - stored.firstIndex(level: level - 1))
            // Clamped to what is stored (a footer claiming fewer records mismatches at level 0).
            let n = min(Int(MerkleLevels.nodeCount(firstLeaf: stored.firstLeaf, leafCount: leafCount, level: level)),
                        stored.levels[level].count, max(0, stored.levels[level - 1].count - from) / 2)
            if n == 0 { break }
            computed.removeAll(keepingCapacity: true)
            stored.hasher.appendParents(of: stored.levels[level - 1][from..<(from + 2 * n)], batch: &batch, to: &computed)
            for i in 0..<n where computed[i] != stored.levels[level][i] { return (level, first + UInt64(i)) }
        }
        return nil
    }

    /// What decoding one record for its field checks found.
    struct RecordFindings {
        var genesis: Record?
        var compaction: Record?
        var pruned: Record?
        var replay: ReplayFields?
        var problems: [FormatError] = []
    }

    /// Decodes a record for the checks that need its fields.
    static func check(frame: ScannedFrame, at: Location, header: SegmentHeader, options: VerifyOptions,
                      keyOptions: RecordCodec.Options) -> RecordFindings {
        var found = RecordFindings()
        let decodeOptions = RecordCodec.Options(checkCanonicalDocuments: options.checkDocuments)
        var record: Record
        do { record = try frame.decode(file: at.file, options: decodeOptions) } catch {
            found.problems.append(error)
            return found
        }
        if frame.seq == 0 {
            if record.type != .genesis {
                found.problems.append(.malformed(at, detail: "seq 0 must be the genesis record, found \(record.type)"))
            } else {
                found.genesis = record
            }
        } else if record.type == .genesis {
            found.problems.append(.malformed(at, detail: "a genesis record may only appear at seq 0"))
        }
        if record.type == .compaction { found.compaction = record }
        if record.type == .pruned { found.pruned = record }
        if let keyring = options.keyring, record.isSealed {
            do { record = try RecordSealer.open(record, keyring: keyring, location: at, options: keyOptions) } catch {
                found.problems.append(error)
            }
        } else if record.isSealed && !header.encrypted {
            found.problems.append(.malformed(at, detail: "sealed record in a segment not marked encrypted"))
        } else if !record.isSealed && header.encrypted && record.type.isSealedWhenEncrypted {
            found.problems.append(.malformed(at, detail: "\(record.type) record is not sealed in an encrypted store"))
        }
        if !record.isSealed, record.client != nil || record.idempotencyKey != nil || !record.causedBy.isEmpty {
            found.replay = ReplayFields(seq: record.seq, at: at, client: record.client, nonce: record.nonce,
                                        idempotencyKey: record.idempotencyKey, transaction: record.transaction?.firstSeq,
                                        causedBy: record.causedBy)
        }
        return found
    }

    /// Compares the footer with what the scan found.
    static func checkFooter(_ footer: FooterIndex, segment: SegmentFile, offsets: [UInt64], result: inout SegmentCheck) {
        let path = segment.path
        let meta = footer.meta
        let at = Location(file: path, offset: footer.dataEnd)
        var mismatches: [String] = []
        if meta.recordCount != result.records { mismatches.append("record count \(meta.recordCount) vs \(result.records) found") }
        if meta.firstSeq != segment.header.firstSeq { mismatches.append("first seq \(meta.firstSeq) vs header \(segment.header.firstSeq)") }
        if let last = result.lastSeq, meta.lastSeq != last { mismatches.append("last seq \(meta.lastSeq) vs \(last) found") }
        if let chain = result.lastChain, meta.chainHead != chain { mismatches.append("chain head \(meta.chainHead.hex) vs \(chain.hex) found") }
        if let t = result.lastTime, meta.lastTime != t { mismatches.append("last time \(meta.lastTime) vs \(t) found") }
        if meta.logicalLength != result.frameBytes {
            mismatches.append("logical length \(meta.logicalLength) vs \(result.frameBytes) bytes of frames")
        }
        if let index = try? footer.recordOffsets(file: path, reader: segment.reader), index != offsets {
            mismatches.append("record offset index differs from the records")
        }
        do {
            result.footerFrontier = try footer.frontier(hasher: MerkleHasher(segment.header.hashAlgorithm), file: path, reader: segment.reader)
        } catch { result.footerIssues.append(error) }
        if segment.header.compressed {
            do {
                let blocks = try footer.blocks(file: path, reader: segment.reader)
                let covered = blocks.reduce(UInt64(0)) { $0 + UInt64($1.recordCount) }
                if covered != meta.recordCount { mismatches.append("block table covers \(covered) of \(meta.recordCount) records") }
            } catch { result.footerIssues.append(error) }
        }
        if !mismatches.isEmpty {
            result.footerIssues.append(.footerMismatch(at, detail: mismatches.joined(separator: "; ")))
        }
    }
}

/// A thread-safe byte counter that forwards progress.
final class ProgressCounter: @unchecked Sendable {
    private let mutex = PthreadMutex()
    private var done: UInt64 = 0
    let total: UInt64
    let callback: (@Sendable (UInt64, UInt64) -> Void)?

    init(total: UInt64, callback: (@Sendable (UInt64, UInt64) -> Void)?) {
        self.total = total
        self.callback = callback
    }

    func add(_ n: UInt64) {
        guard let callback, n > 0 else { return }
        let now = mutex.locked { done += n; return done }
        callback(now, total)
    }
}

/// What the replay rules (§3.6) need of a record.
struct ReplayFields: Sendable {
    var seq: UInt64
    var at: Location
    var client: String?
    var nonce: UInt64?
    var idempotencyKey: String?
    /// The first seq of the record's transaction, if it is in one.
    var transaction: UInt64?
    /// Its causes (a pruned version must not be one, §3.7).
    var causedBy: [UInt64] = []
}
