import Dispatch
import NEDBFormat
import Synchronization

/// What opening a store found and did.
public struct OpenReport: Sendable {
    /// A torn tail that was truncated (or, read-only, that was ignored).
    public var tornTail: FormatError?
    /// Bytes moved to `lost+found/` by point-in-time recovery, with the file they went to.
    public var salvaged: (path: String, bytes: UInt64)?
    /// Damage a read-only open stopped at.
    public var readOnlyLimit: FormatError?
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
    public internal(set) var openReport = OpenReport()
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
                if let active {
                    do throws(SystemError) {
                        try active.finishAppends()
                        try active.file.sync()
                    } catch {
                        throw .io(error)
                    }
                }
            }
            if let active {
                active.file.close()
            }
        }
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

    /// Number of records durable on disk (all records for an in-memory store).
    public var durableCount: UInt64 { mutex.locked { syncedUpTo } }

    /// The data keys, for modules that encrypt derived files (checkpoints).
    public var dataKeys: Keyring? { mutex.locked { keyring } }

    /// Decodes (and decrypts) the record with `seq`.
    public func record(_ seq: UInt64) throws(StoreError) -> Record {
        let (frame, location) = try frameBytes(seq)
        return try decodeFrame(frame, location: location, decrypt: true)
    }

    /// The raw frame of a record and where it lives.
    public func frameBytes(_ seq: UInt64) throws(StoreError) -> (bytes: [UInt8], location: Location) {
        let source = try mutex.locked { () throws(StoreError) -> FrameSource in
            guard seq < visibleUpTo else { throw .notFound(seq: seq) }
            return try frameSourceLocked(seq)
        }
        do {
            switch source {
            case let .sealed(segment):
                return (try segment.frame(seq: seq), Location(file: segment.file.path, seq: seq))
            case let .active(file, path, offset, length):
                let bytes: [UInt8]
                do { bytes = try file.read(at: offset, count: length) } catch { throw StoreError.io(error) }
                return (bytes, Location(file: path, offset: offset, seq: seq))
            }
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
        case active(file: WritableFile, path: String, offset: UInt64, length: Int)
    }

    func frameSourceLocked(_ seq: UInt64) throws(StoreError) -> FrameSource {
        if let active, seq >= active.header.firstSeq {
            let i = Int(seq - active.header.firstSeq)
            let offsets = active.accumulator.offsets
            let start = offsets[i]
            let end = i + 1 < offsets.count ? offsets[i + 1] : active.accumulator.dataEnd
            return .active(file: active.file, path: active.path, offset: start, length: Int(end - start))
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

    /// Parses, checks and decodes a frame.
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

    /// Like `scan`, also giving each record's chain hash.
    public func scanWithChain(from: UInt64 = 0, through: UInt64? = nil, decrypt: Bool = true,
                              _ body: (Record, Hash32) throws -> Bool) throws {
        let (segments, activePath, activeEnd, limit, activeStart) = mutex.locked {
            () -> ([SealedSegment], String?, UInt64, UInt64, UInt64?) in
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
            return (sealed, active?.path, end, min(through ?? last, last), start)
        }
        if from > limit || (from == 0 && mutex.locked({ visibleUpTo }) == 0) { return }
        // Each file with the offset to start scanning at (so a tail is read without the history).
        var files: [(SegmentFile, UInt64?)] = []
        for s in segments where s.lastSeq >= from && s.firstSeq <= limit {
            files.append((s.file, from > s.firstSeq ? try s.offset(of: from) : nil))
        }
        if let activePath {
            do { files.append((try SegmentFile.open(fs: fs, path: activePath, limitSize: activeEnd), activeStart)) } catch {
                throw StoreError.damaged(error)
            }
        }
        for (file, startOffset) in files where file.header.firstSeq <= limit {
            var scanner = startOffset.map { file.scanner(from: $0, expectedSeq: from) } ?? file.scanner(limitSeq: limit)
            while let event = try scanner.next() {
                switch event {
                case let .damage(d):
                    throw StoreError.damaged(d.reason)
                case let .record(frame):
                    if frame.seq > limit { return }
                    if frame.seq < from { continue }
                    let location = Location(file: file.path, offset: frame.offset, seq: frame.seq)
                    var record = try frame.decode(file: file.path, options: RecordCodec.Options(checkCanonicalDocuments: false))
                    if decrypt, record.isSealed {
                        guard let keyring = mutex.locked({ self.keyring }) else { throw StoreError.keyRequired(path: layout.root) }
                        record = try RecordSealer.open(record, keyring: keyring, location: location,
                                                       options: RecordCodec.Options(checkCanonicalDocuments: false))
                    }
                    if try !body(record, frame.view.storedChain) { return }
                }
            }
        }
    }

    /// Summary of the segments.
    public var segments: [Manifest.Entry] {
        mutex.locked { manifestEntriesLocked() }
    }
}
