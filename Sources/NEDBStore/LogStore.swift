import Dispatch
import NEDBFormat
import Synchronization

/// What opening a store found and did.
public struct OpenReport: Sendable {
    /// An interrupted write at the end of the log: truncated by a writer, not read by a reader.
    public var tornTail: FormatError?
    /// Bytes moved to `lost+found/` by point-in-time recovery, with the file they went to.
    public var salvaged: (path: String, bytes: UInt64)?
    /// What makes the store damaged (only when a read-only open allowed it): the store reads
    /// as the verified prefix of its log, which ends before the first of these.
    public var damage: [FormatError] = []
    /// What point-in-time recovery, asked for, accepted losing (moved to `lost+found/`).
    public var acceptedLoss: [FormatError] = []
    /// Derived files that could not be used and were ignored (rebuilt by a writer).
    public var notes: [FormatError] = []
    public var rebuiltManifest = false
    public var rebuiltReplayIndex = false
    public var created = false
    /// Records removed because their transaction was incomplete.
    public var droppedIncompleteTransaction: UInt64 = 0
}

/// The outcome of an append.
public enum AppendResult: Sendable, Equatable {
    /// The records were written with these seqs.
    case appended(seqs: [UInt64])
    /// An idempotency key was seen before: nothing was written; the seq of its first record.
    case duplicate(seq: UInt64)

    public var lastSeq: UInt64? {
        switch self {
        case let .appended(seqs): return seqs.last
        case let .duplicate(seq): return seq
        }
    }
}

/// A reservation made by `enqueue`: the records as written (with seqs and times) and the point
/// the caller must wait for.
public struct AppendTicket: Sendable {
    public let result: AppendResult
    /// The records as logged (plaintext), empty for a duplicate.
    public let records: [Record]
    let upTo: UInt64
    let durability: Durability
    /// Already written (and released) by `enqueue`.
    let done: Bool
}

/// A durable, segmented, hash-chained log in a directory (or in memory): the single writer of
/// spec/FORMAT.md. Thread-safe: any number of threads may append and read concurrently; one
/// sequencer assigns seqs and concurrent `batch` appends share fsyncs (group commit).
public final class LogStore: @unchecked Sendable {
    public let layout: StoreLayout
    public let options: StoreOptions
    public let storeId: StoreID
    public let hashAlgorithm: HashAlgorithm
    public let encrypted: Bool
    /// The origin line of signed checkpoints.
    public internal(set) var origin: String
    public let readOnly: Bool
    /// What opening found and did (and damage found since, see `restrictToPrefix`).
    public internal(set) var openReport: OpenReport {
        get { mutex.locked { report } }
        set { mutex.locked { report = newValue } }
    }
    /// Guarded by `mutex`.
    private var report = OpenReport()
    /// Checkpoints whose container opening checked (as witnesses), so loading the state does not
    /// open them again. Set once by the opener before the store is handed out, read-only after.
    public internal(set) var witnessCheckpoints: [(name: String, file: CheckpointFile)] = []
    let fs: FileSystem
    let lock: FileLock?

    // Everything below is guarded by `mutex`.
    let mutex = PthreadMutex()
    let condition = PthreadCondition()
    /// Wakes a leader that lingers to gather more appenders into its fsync.
    let leaderCondition = PthreadCondition()
    var keyring: Keyring?
    var keyFile: KeyFile?
    var masterKey: MasterKey?
    var sealed: [SealedSegment] = []
    var active: ActiveSegment?
    var encoder: RecordEncoder
    /// The next seq to assign.
    var nextSeq: UInt64 = 0
    var lastTime: Microseconds = 0
    /// Records [0, writtenUpTo) are in the file; [0, syncedUpTo) are durable; [0, visibleUpTo)
    /// have been acknowledged to their writers.
    var writtenUpTo: UInt64 = 0
    var syncedUpTo: UInt64 = 0
    var visibleUpTo: UInt64 = 0 {
        didSet { acknowledged.store(visibleUpTo, ordering: .releasing) }
    }
    /// `visibleUpTo`, readable without the lock.
    let acknowledged = Atomic<UInt64>(0)
    var pending: [UInt8] = []
    var flushing = false
    var failure: SystemError?
    var releaseQueue: [(upTo: UInt64, needsSync: Bool)] = []
    var releaseHead = 0
    var replay: ReplayTable
    var merkleCache: [MerkleKey: Hash32] = [:]
    var closed = false
    var compressionInFlight = 0
    var manifestGeneration: UInt64 = 0
    /// Group commit: appenders waiting for a sync, those whose records are buffered and not yet
    /// taken by a leader, and a running estimate of the fsync time (ns).
    var syncAppendersInFlight = 0
    var syncAppendersQueued = 0
    var syncNanosEstimate = 100_000
    /// A leader is waiting on `leaderCondition` for the appenders in flight to queue.
    var leaderLingering = false
    /// Appenders sleeping until a flush covers their records, each on its own semaphore so a
    /// flush wakes exactly the satisfied ones (no thundering herd on the mutex).
    var waiters: [Waiter] = []
    /// Waiters to signal once the lock is released (signalling under the lock makes the woken
    /// threads collide with it).
    var wakeList: [Waiter] = []

    final class Waiter: @unchecked Sendable {
        let upTo: UInt64
        let needsSync: Bool
        let semaphore = DispatchSemaphore(value: 0)
        var error: StoreError?
        /// Woken to lead the next flush rather than because its records are done.
        var lead = false
        /// Counted in `syncAppendersInFlight`; the waker uncounts it when its records are done.
        let counted: Bool
        /// Waiters this one wakes as soon as it is woken (set before it is signalled).
        var children: [Waiter] = []
        init(upTo: UInt64, needsSync: Bool, counted: Bool) { self.upTo = upTo; self.needsSync = needsSync; self.counted = counted }

        /// Wakes a list of waiters as a binary tree: the caller signals the first two, and each
        /// woken waiter signals two more, so a flush that satisfies many appenders does not
        /// spend its time in one wake-up after another. The first waiter is woken first (a new
        /// leader is put there).
        static func wake(_ list: [Waiter]) {
            guard !list.isEmpty else { return }
            for (i, w) in list.enumerated() {
                let first = 2 * i + 2
                w.children = first < list.count ? Array(list[first..<min(first + 2, list.count)]) : []
            }
            for w in list.prefix(2) { w.semaphore.signal() }
        }

        /// Called by a waiter right after it is woken.
        func wakeChildren() {
            let children = self.children
            self.children = []
            for c in children { c.semaphore.signal() }
        }
    }
    var stats = Statistics()

    /// Counters since open.
    public struct Statistics: Sendable {
        public var records: UInt64 = 0
        public var writes: UInt64 = 0
        public var syncs: UInt64 = 0
    }

    public var statistics: Statistics { mutex.locked { stats } }

    struct MerkleKey: Hashable { let level: Int, index: UInt64 }

    init(layout: StoreLayout, options: StoreOptions, storeId: StoreID, hashAlgorithm: HashAlgorithm, encrypted: Bool,
         origin: String, lock: FileLock?, keyring: Keyring?) {
        self.layout = layout
        self.options = options
        self.fs = options.fileSystem
        self.storeId = storeId
        self.hashAlgorithm = hashAlgorithm
        self.encrypted = encrypted
        self.origin = origin
        self.readOnly = options.readOnly
        self.lock = lock
        self.keyring = keyring
        self.encoder = RecordEncoder(algorithm: hashAlgorithm, storeId: storeId, keyring: keyring, chain: .zero)
        self.encoder.checkDocuments = !options.trustCanonicalDocuments
        self.replay = ReplayTable(storeId: storeId, keyring: keyring)
    }

    /// Opens (or creates) the store in `directory`.
    public static func open(_ directory: String, options: StoreOptions = StoreOptions()) throws(StoreError) -> LogStore {
        try StoreOpener(directory: directory, options: options).open()
    }

    /// What makes the store damaged when it was opened with `allowDamaged` (empty otherwise):
    /// it then reads as the verified prefix of its log.
    public var damage: [FormatError] { openReport.damage }

    deinit {
        try? close()
    }

    /// Flushes, writes the derived files and releases the lock. Further calls fail with `closed`.
    public func close() throws(StoreError) {
        let already = mutex.locked { () -> Bool in
            if closed { return true }
            closed = true
            return false
        }
        if already { return }
        waitForCompression()
        if !readOnly {
            try mutex.locked { () throws(StoreError) in
                while flushing { condition.wait(mutex) }
                if failure == nil {
                    try flushLocked(sync: true)
                    try writeReplayIndexLocked()
                }
                // Cut the reserved space off: a closed store's active segment ends with its data.
                if let active, failure == nil {
                    do throws(SystemError) {
                        try active.finishAppends()
                        try active.sync()
                    } catch {
                        throw .io(error)
                    }
                }
            }
        }
        mutex.locked { active?.close() }
        lock?.release()
    }

    // MARK: Reading

    /// The head of the acknowledged log: last visible seq, its chain hash and the Merkle root.
    public var head: LogHead {
        mutex.locked {
            let seq = visibleUpTo - 1
            return LogHead(seq: seq, chain: (try? chainLocked(seq: seq)) ?? .zero, root: (try? rootLocked(size: visibleUpTo)) ?? .zero)
        }
    }

    /// The seq of the last acknowledged record (lock-free).
    public var lastSeq: UInt64 { acknowledged.load(ordering: .acquiring) &- 1 }

    /// The number of acknowledged records (lock-free).
    public var count: UInt64 { acknowledged.load(ordering: .acquiring) }

    /// A read-only store opened with `allowDamaged` in which record `seq` turned out damaged
    /// when read: from now on it reads as the records before it, and `damage` says why.
    /// Returns false (and changes nothing) for any other store.
    public func restrictToPrefix(endingBefore seq: UInt64, because error: FormatError) -> Bool {
        guard readOnly, options.allowDamaged else { return false }
        return mutex.locked {
            guard seq < visibleUpTo else { return false }
            visibleUpTo = seq
            writtenUpTo = min(writtenUpTo, seq)
            syncedUpTo = min(syncedUpTo, seq)
            nextSeq = min(nextSeq, seq)
            if !report.damage.contains(error) { report.damage.append(error) }
            return true
        }
    }

    /// Number of records durable on disk (all records for an in-memory store).
    public var durableCount: UInt64 { mutex.locked { syncedUpTo } }

    /// The data keys, for modules that encrypt derived files (checkpoints).
    public var dataKeys: Keyring? { mutex.locked { keyring } }

    /// Decodes (and decrypts) the record with `seq`.
    public func record(_ seq: UInt64) throws(StoreError) -> Record {
        let (frame, location) = try frameBytes(seq)
        return try decodeFrame(frame, location: location, decrypt: true)
    }

    /// The raw frame of a record and where it lives, checked as it is read: its CRC, its seq,
    /// its stored chain hash against the Merkle leaf the store holds for it (the footer of a
    /// sealed segment, or what opening verified for the active one), and that chain hash
    /// recomputed from the previous leaf.
    public func frameBytes(_ seq: UInt64) throws(StoreError) -> (bytes: [UInt8], location: Location) {
        let source = try mutex.locked { () throws(StoreError) -> FrameSource in
            guard seq < visibleUpTo else { throw .notFound(seq: seq) }
            return try frameSourceLocked(seq)
        }
        do {
            let bytes: [UInt8], location: Location, leaf: Hash32, previous: Hash32
            switch source {
            case let .sealed(segment):
                bytes = try segment.frame(seq: seq)
                location = Location(file: segment.file.path, seq: seq)
                guard let l = try segment.merkleNode(level: 0, index: seq) else {
                    throw FormatError.malformed(location, detail: "the footer holds no leaf for seq \(seq)")
                }
                leaf = l
                if seq == segment.firstSeq {
                    previous = segment.header.previousChain
                } else if let p = try segment.merkleNode(level: 0, index: seq - 1) {
                    previous = p
                } else {
                    throw FormatError.malformed(location, detail: "the footer holds no leaf for seq \(seq - 1)")
                }
            case let .active(file, path, offset, length, l, p):
                do { bytes = try file.read(at: offset, count: length) } catch { throw StoreError.io(error) }
                location = Location(file: path, offset: offset, seq: seq)
                leaf = l
                previous = p
            }
            try FrameCheck.check(bytes, seq: seq, leaf: leaf, previous: previous, algorithm: hashAlgorithm, location: location)
            return (bytes, location)
        } catch let e as StoreError {
            throw e
        } catch let e as FormatError {
            throw .damaged(e)
        } catch {
            throw .damaged(.malformed(Location(seq: seq), detail: "\(error)"))
        }
    }

    enum FrameSource {
        case sealed(SealedSegment)
        case active(file: ReadableFile, path: String, offset: UInt64, length: Int, leaf: Hash32, previous: Hash32)
    }

    func frameSourceLocked(_ seq: UInt64) throws(StoreError) -> FrameSource {
        if let active, seq >= active.header.firstSeq {
            let i = Int(seq - active.header.firstSeq)
            let offsets = active.accumulator.offsets
            guard i < offsets.count, let leaf = active.accumulator.levels.node(level: 0, index: seq) else { throw .notFound(seq: seq) }
            let previous = i == 0 ? active.header.previousChain : (active.accumulator.levels.node(level: 0, index: seq - 1) ?? .zero)
            let start = offsets[i]
            let end = i + 1 < offsets.count ? offsets[i + 1] : active.accumulator.dataEnd
            return .active(file: active.file, path: active.path, offset: start, length: Int(end - start), leaf: leaf, previous: previous)
        }
        guard let segment = sealedSegmentLocked(containing: seq) else { throw .notFound(seq: seq) }
        return .sealed(segment)
    }

    func sealedSegmentLocked(containing seq: UInt64) -> SealedSegment? {
        var lo = 0, hi = sealed.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let s = sealed[mid]
            if seq < s.firstSeq { hi = mid - 1 } else if seq > s.lastSeq { lo = mid + 1 } else { return s }
        }
        return nil
    }

    /// Decodes a checked frame.
    func decodeFrame(_ frame: [UInt8], location: Location, decrypt: Bool) throws(StoreError) -> Record {
        let parse = frame.withUnsafeBytes { Frame.parse($0, at: 0) }
        guard case let .frame(view) = parse, view.crcValid, view.frameLength == frame.count else {
            throw .damaged(.checksumMismatch(location, what: "record frame", expected: 0, found: 0))
        }
        do {
            var record = try RecordCodec.decode(type: view.type, bytes: frame, bodyStart: view.bodyRange.lowerBound,
                                                bodyEnd: view.bodyRange.upperBound, location: location,
                                                options: RecordCodec.Options(checkCanonicalDocuments: false))
            if decrypt, record.isSealed {
                guard let keyring = mutex.locked({ self.keyring }) else { throw StoreError.keyRequired(path: layout.root) }
                record = try RecordSealer.open(record, keyring: keyring, location: location,
                                               options: RecordCodec.Options(checkCanonicalDocuments: false))
            }
            return record
        } catch let e as StoreError {
            throw e
        } catch let e as FormatError {
            throw .damaged(e)
        } catch {
            throw .damaged(.malformed(location, detail: "\(error)"))
        }
    }

    /// Calls `body` with every acknowledged record from `from` through `through` (inclusive) in
    /// order, decoded and, when `decrypt` is set, decrypted. Stops early when `body` returns
    /// false. Reads sealed segments with their footers and the active segment from disk.
    public func scan(from: UInt64 = 0, through: UInt64? = nil, decrypt: Bool = true,
                     _ body: (Record) throws -> Bool) throws {
        try scanWithChain(from: from, through: through, decrypt: decrypt) { record, _ in try body(record) }
    }

    /// One file of a scan: where to start, what the first record links to, and what the last
    /// record must match.
    struct ScanPart {
        let file: SegmentFile
        let startOffset: UInt64?
        let firstSeq: UInt64
        /// The chain hash before `firstSeq`.
        let anchor: Hash32
        /// A sealed segment's last seq and chain head (its footer), to end against.
        let sealedEnd: (seq: UInt64, chain: Hash32)?
    }

    /// Like `scan`, also giving each record's chain hash. Every record is checked as it is read:
    /// CRC, seq (one more than the previous), chain hash recomputed from the previous one (from
    /// the segment header, or the store's leaf when starting inside a segment), and at the end of
    /// a sealed segment the footer's chain head; a scan that stops inside the active segment
    /// ends against the chain hash that opening verified.
    public func scanWithChain(from: UInt64 = 0, through: UInt64? = nil, decrypt: Bool = true,
                              _ body: (Record, Hash32) throws -> Bool) throws {
        let (segments, activePath, activeEnd, limit, activeStart, visible) = mutex.locked {
            () -> ([SealedSegment], String?, UInt64, UInt64, UInt64?, UInt64) in
            let last = visibleUpTo == 0 ? 0 : visibleUpTo - 1
            let end: UInt64
            var start: UInt64? = nil
            if let a = active, visibleUpTo > a.header.firstSeq {
                let i = Int(visibleUpTo - a.header.firstSeq)
                end = i < a.accumulator.offsets.count ? a.accumulator.offsets[i] : a.accumulator.dataEnd
                if from > a.header.firstSeq, Int(from - a.header.firstSeq) < a.accumulator.offsets.count {
                    start = a.accumulator.offsets[Int(from - a.header.firstSeq)]
                }
            } else {
                end = UInt64(SegmentHeader.length)
            }
            return (sealed, active.flatMap { visibleUpTo > $0.header.firstSeq ? $0.path : nil }, end, min(through ?? last, last),
                    start, visibleUpTo)
        }
        if visible == 0 || from > limit { return }
        var parts: [ScanPart] = []
        for s in segments where s.lastSeq >= from && s.firstSeq <= limit {
            let offset = from > s.firstSeq ? try s.offset(of: from) : nil
            let anchor = offset != nil ? try chainHash(seq: from - 1) : s.header.previousChain
            parts.append(ScanPart(file: s.file, startOffset: offset, firstSeq: offset != nil ? from : s.firstSeq, anchor: anchor,
                                  sealedEnd: (s.lastSeq, s.meta.chainHead)))
        }
        if let activePath {
            let file: SegmentFile
            do { file = try SegmentFile.open(fs: fs, path: activePath, limitSize: activeEnd) } catch { throw StoreError.damaged(error) }
            let anchor = activeStart != nil ? try chainHash(seq: from - 1) : file.header.previousChain
            parts.append(ScanPart(file: file, startOffset: activeStart, firstSeq: activeStart != nil ? from : file.header.firstSeq,
                                  anchor: anchor, sealedEnd: nil))
        }
        let options = RecordCodec.Options(checkCanonicalDocuments: false)
        for part in parts where part.firstSeq <= limit {
            let file = part.file
            let plain = part.startOffset.map { file.scanner(from: $0, expectedSeq: part.firstSeq) } ?? file.scanner(limitSeq: limit)
            var scanner = PrehashingScanner(plain, algorithm: file.header.hashAlgorithm, previous: part.anchor, chainHashes: true)
            var expected = part.firstSeq
            var last: (seq: UInt64, chain: Hash32)? = nil
            // A record is handed out only once the next one linked to it (a record re-hashed
            // after an edit links to its predecessor; only its successor shows the edit), or,
            // for the last one, once it matches the chain hash the store vouches for.
            var pending: (record: Record, chain: Hash32)? = nil
            var beyondLimit = false
            scanning: while let (event, computed) = try scanner.next() {
                switch event {
                case let .damage(d):
                    throw StoreError.damaged(d.reason)
                case let .record(frame):
                    let location = try Self.checkScanned(frame, computed: computed, expected: expected, file: file.path)
                    expected += 1
                    if let p = pending {
                        pending = nil
                        if try !deliver(p, body, rest: &scanner, expected: expected, part: part) { return }
                    }
                    last = (frame.seq, frame.view.storedChain)
                    if frame.seq > limit { beyondLimit = true; break scanning }
                    if frame.seq < from { continue }
                    var record = try frame.decode(file: file.path, options: options)
                    if decrypt, record.isSealed {
                        guard let keyring = mutex.locked({ self.keyring }) else { throw StoreError.keyRequired(path: layout.root) }
                        record = try RecordSealer.open(record, keyring: keyring, location: location, options: options)
                    }
                    pending = (record, frame.view.storedChain)
                }
            }
            // The last record read must be the one the store vouches for.
            if !beyondLimit, let last {
                let vouched: Hash32
                if let end = part.sealedEnd, last.seq == end.seq { vouched = end.chain } else { vouched = try chainHash(seq: last.seq) }
                if vouched != last.chain {
                    throw StoreError.damaged(.chainBreak(Location(file: file.path, seq: last.seq),
                        detail: "record \(last.seq) has chain hash \(last.chain.hex), the store holds \(vouched.hex) for it: the records before it were rewritten"))
                }
            }
            if let p = pending, try !deliver(p, body, rest: &scanner, expected: expected, part: part) { return }
        }
    }

    /// A scanned frame must have the expected seq and (unless pruned) its recomputed chain hash.
    /// Returns its location.
    static func checkScanned(_ frame: ScannedFrame, computed: Hash32?, expected: UInt64, file: String) throws(StoreError) -> Location {
        let location = Location(file: file, offset: frame.offset, seq: frame.seq)
        guard frame.seq == expected else {
            throw .damaged(.chainBreak(location, detail: "seq \(frame.seq) where \(expected) was expected"))
        }
        if let computed, computed != frame.view.storedChain {
            throw .damaged(.hashMismatch(location, expected: computed, found: frame.view.storedChain))
        }
        return location
    }

    /// Hands a checked record to `body`. When `body` fails (a record the state cannot take),
    /// the rest of the segment is checked first: if it shows the records were rewritten, that
    /// damage is what is reported, not its symptom.
    private func deliver(_ p: (record: Record, chain: Hash32), _ body: (Record, Hash32) throws -> Bool,
                         rest scanner: inout PrehashingScanner, expected: UInt64, part: ScanPart) throws -> Bool {
        do {
            return try body(p.record, p.chain)
        } catch {
            var next = expected
            var last: (seq: UInt64, chain: Hash32)? = nil
            while let (event, computed) = try scanner.next() {
                switch event {
                case let .damage(d): throw StoreError.damaged(d.reason)
                case let .record(frame):
                    _ = try Self.checkScanned(frame, computed: computed, expected: next, file: part.file.path)
                    next += 1
                    last = (frame.seq, frame.view.storedChain)
                }
            }
            if let end = part.sealedEnd, let last, last.seq == end.seq, last.chain != end.chain {
                throw StoreError.damaged(.chainBreak(Location(file: part.file.path, seq: last.seq),
                    detail: "record \(last.seq) has chain hash \(last.chain.hex), the footer holds \(end.chain.hex): the records before it were rewritten"))
            }
            throw error
        }
    }

    /// Bytes of the segment files: sealed ones as sealed, the active one up to its data.
    public var fileBytes: UInt64 {
        mutex.locked { sealed.reduce(UInt64(0)) { $0 + $1.file.size } + (active?.fileEnd ?? 0) }
    }

    /// Summary of the segments.
    public var segments: [Manifest.Entry] {
        mutex.locked { manifestEntriesLocked() }
    }
}
