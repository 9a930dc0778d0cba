import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

extension LogStore {
    /// Appends records atomically (several records form one transaction) and returns once
    /// they are as durable as `durability` asks. Seqs, times and transaction marks are assigned
    /// here; whatever the drafts carry in those fields is replaced.
    @discardableResult
    public func append(_ drafts: consuming [Record], durability: Durability? = nil) throws(StoreError) -> AppendResult {
        let ticket = try enqueue(consume drafts, durability: durability)
        try wait(for: ticket)
        return ticket.result
    }

    /// Appends one record.
    @discardableResult
    public func append(_ draft: Record, durability: Durability? = nil) throws(StoreError) -> AppendResult {
        try append([draft], durability: durability)
    }

    /// Assigns seqs and buffers the records' frames without waiting for the disk. The caller
    /// must then `wait(for:)`; until it returns the records are not acknowledged (nor visible).
    /// Replay protection and idempotency are checked here: a stale nonce throws, a repeated
    /// idempotency key returns `.duplicate` and buffers nothing.
    public func enqueue(_ drafts: consuming [Record], durability: Durability? = nil) throws(StoreError) -> AppendTicket {
        let mode = durability ?? options.durability
        // Taken over (not copied) when the caller passes its last reference: seqs and times are
        // then filled in place.
        var records = consume drafts
        guard !records.isEmpty else {
            return AppendTicket(result: .appended(seqs: []), records: [], upTo: 0, durability: mode, done: true)
        }
        return try mutex.locked { () throws(StoreError) -> AppendTicket in
            try checkWritableLocked()
            if let seq = replay.duplicate(of: records) {
                // Acknowledged as soon as the original is.
                return AppendTicket(result: .duplicate(seq: seq), records: [], upTo: seq + 1, durability: mode, done: false)
            }
            try replay.checkNonces(records)
            if let a = active, !a.accumulator.isEmpty, a.accumulator.dataEnd >= options.segmentSize {
                try rotateLocked()
            }
            let time = max(options.clock(), lastTime)
            let first = nextSeq
            let mark = records.count > 1 ? TransactionMark(firstSeq: first, count: UInt32(records.count)) : nil
            for i in records.indices {
                records[i].seq = first + UInt64(i)
                records[i].time = time
                records[i].transaction = mark
                do throws(FormatError) { try RecordCodec.validateForWriting(records[i], checkDocument: encoder.checkDocuments) } catch {
                    throw .invalidRecord(error)
                }
            }
            // Everything is validated: encoding can fail only if encryption itself fails, and
            // then nothing more may be written (the store fails rather than half-buffer).
            guard let a = active else { throw .closed }
            for i in records.indices {
                let before = pending.count
                do throws(FormatError) {
                    let chain = try encoder.append(records[i], to: &pending, validated: true)
                    a.accumulator.add(frameLength: pending.count - before, seq: first + UInt64(i), time: time, chain: chain)
                } catch {
                    failure = SystemError(operation: "encode", path: a.path, errno: EIO)
                    throw .invalidRecord(error)
                }
            }
            for i in records.indices where records[i].client != nil || records[i].idempotencyKey != nil { replay.apply(records[i]) }
            stats.records += UInt64(records.count)
            nextSeq += UInt64(records.count)
            lastTime = time
            releaseQueue.append((nextSeq, mode.needsSync))
            // Without a sync to wait for and no flush in progress, write now: one lock round trip.
            if mode.needsSync {
                syncAppendersInFlight += 1
                syncAppendersQueued += 1
                if leaderLingering && syncAppendersQueued >= syncAppendersInFlight { leaderCondition.signal() }
            }
            var done = false
            if !mode.needsSync && !flushing {
                try flushLocked(sync: false)
                done = true
            }
            return AppendTicket(result: .appended(seqs: Array(first..<nextSeq)), records: records, upTo: nextSeq,
                                durability: mode, done: done)
        }
    }

    /// Waits until the ticket's records are written (durability `none`) or fsynced (`batch`,
    /// `always`). Concurrent waiters share the work: one leads a flush while the others sleep
    /// on their own semaphores and are woken exactly when a flush covers them.
    public func wait(for ticket: AppendTicket) throws(StoreError) {
        guard ticket.upTo > 0, !ticket.done else { return }
        let needSync = ticket.durability.needsSync
        let counted = needSync && ticket.records.count > 0
        mutex.lock()
        func finish() {
            if counted {
                syncAppendersInFlight -= 1
                if leaderLingering && syncAppendersQueued >= syncAppendersInFlight { leaderCondition.signal() }
            }
            let wake = wakeList
            wakeList.removeAll()
            mutex.unlock()
            Waiter.wake(wake)
        }
        var lingered = false
        while true {
            if let failure { finish(); throw .failed(failure) }
            if writtenUpTo >= ticket.upTo && (!needSync || syncedUpTo >= ticket.upTo) { finish(); return }
            if flushing {
                let waiter = Waiter(upTo: ticket.upTo, needsSync: needSync, counted: counted)
                waiters.append(waiter)
                let wake = wakeList
                wakeList.removeAll()
                mutex.unlock()
                Waiter.wake(wake)
                waiter.semaphore.wait()
                waiter.wakeChildren()
                // Woken as done (already uncounted by the waker) or failed: return without the lock.
                if let error = waiter.error { throw error }
                if !waiter.lead { return }
                mutex.lock()
                continue
            }
            // Group commit: before leading a sync, give appenders that are about to buffer a
            // record a moment (at most half an fsync) so one fsync covers them too.
            if needSync && !lingered && syncAppendersQueued < syncAppendersInFlight {
                lingered = true
                let deadline = Clock.nanoseconds() + syncNanosEstimate / 2
                leaderLingering = true
                while syncAppendersQueued < syncAppendersInFlight && !flushing && failure == nil {
                    let left = deadline - Clock.nanoseconds()
                    if left <= 0 { break }
                    leaderCondition.wait(mutex, nanoseconds: left)
                }
                leaderLingering = false
                continue
            }
            do throws(StoreError) { try leadFlushLocked(sync: needSync || waiters.contains { $0.needsSync }) } catch {
                finish()
                throw error
            }
        }
    }

    /// Writes (and fsyncs) everything buffered, as one leader, releasing the lock during I/O.
    func leadFlushLocked(sync: Bool) throws(StoreError) {
        guard let a = active else { throw .closed }
        flushing = true
        let bytes = pending
        pending.removeAll(keepingCapacity: true)
        let upTo = nextSeq
        let offset = a.fileEnd
        syncAppendersQueued = 0
        mutex.unlock()
        var error: SystemError? = nil
        let started = Clock.nanoseconds()
        do {
            if !bytes.isEmpty { try a.write(bytes, at: offset) }
            if sync { try a.sync() }
        } catch let e {
            error = e
        }
        let took = Clock.nanoseconds() - started
        mutex.lock()
        stats.writes += bytes.isEmpty ? 0 : 1
        stats.syncs += sync ? 1 : 0
        if sync { syncNanosEstimate = (syncNanosEstimate * 7 + min(took, 10_000_000)) / 8 }
        flushing = false
        defer { condition.broadcast() }
        if let error {
            // Nothing after the last successful fsync can be acknowledged any more: fail the store.
            failure = error
            wakeWaitersLocked()
            throw .failed(error)
        }
        active?.fileEnd = offset + UInt64(bytes.count)
        writtenUpTo = upTo
        if sync { syncedUpTo = upTo }
        releaseLocked()
    }

    /// Signals pending wakeups while holding the lock (rare paths: rotation, close, failures).
    func signalWakeListLocked() {
        Waiter.wake(wakeList)
        wakeList.removeAll()
    }

    /// Wakes every waiter whose records are covered (or all of them, with the error, after a
    /// failure); if some remain, wakes the first of those to lead the next flush.
    func wakeWaitersLocked() {
        guard !waiters.isEmpty else { return }
        var remaining: [Waiter] = []
        for w in waiters {
            if let failure {
                w.error = .failed(failure)
                if w.counted { syncAppendersInFlight -= 1 }
                wakeList.append(w)
            } else if writtenUpTo >= w.upTo && (!w.needsSync || syncedUpTo >= w.upTo) {
                if w.counted { syncAppendersInFlight -= 1 }
                wakeList.append(w)
            } else {
                remaining.append(w)
            }
        }
        if !flushing, let next = remaining.first {
            // Woken first, so the next flush starts while the others are still being woken.
            remaining.removeFirst()
            next.lead = true
            wakeList.insert(next, at: 0)
        }
        waiters = remaining
    }

    /// Flushes with the lock held throughout (rotation and close).
    func flushLocked(sync: Bool) throws(StoreError) {
        guard let a = active else { return }
        if pending.isEmpty && (!sync || syncedUpTo >= writtenUpTo) { return }
        do {
            if !pending.isEmpty { try a.write(pending, at: a.fileEnd) }
            if sync { try a.sync() }
        } catch {
            failure = error
            wakeWaitersLocked()
            signalWakeListLocked()
            throw .failed(error)
        }
        active?.fileEnd = a.fileEnd + UInt64(pending.count)
        defer { signalWakeListLocked() }
        stats.writes += pending.isEmpty ? 0 : 1
        stats.syncs += sync ? 1 : 0
        pending.removeAll(keepingCapacity: true)
        if sync { syncAppendersQueued = 0 }
        writtenUpTo = nextSeq
        if sync { syncedUpTo = nextSeq }
        releaseLocked()
    }

    /// Advances the visible watermark over every append whose requirement is met, in order.
    func releaseLocked() {
        while releaseHead < releaseQueue.count {
            let entry = releaseQueue[releaseHead]
            guard writtenUpTo >= entry.upTo, !entry.needsSync || syncedUpTo >= entry.upTo else { break }
            visibleUpTo = max(visibleUpTo, entry.upTo)
            releaseHead += 1
        }
        if releaseHead > 1024 && releaseHead * 2 > releaseQueue.count {
            releaseQueue.removeFirst(releaseHead)
            releaseHead = 0
        }
        if releaseHead == releaseQueue.count { visibleUpTo = max(visibleUpTo, min(writtenUpTo, nextSeq)) }
        wakeWaitersLocked()
    }

    func checkWritableLocked() throws(StoreError) {
        if closed { throw .closed }
        if readOnly { throw .readOnly }
        if let failure { throw .failed(failure) }
    }

    // MARK: Rotation

    /// Seals the active segment and starts the next one. Holds the lock throughout.
    func rotateLocked() throws(StoreError) {
        while flushing { condition.wait(mutex) }
        if let failure { throw .failed(failure) }
        try flushLocked(sync: true)
        guard let old = active, !old.accumulator.isEmpty else { return }
        let footer = old.accumulator.footer().encode(dataEnd: old.fileEnd)
        do {
            try old.finishAppends()          // reserved space is cut off before the footer
            try old.writeFooter(footer)
        } catch {
            failure = error
            throw .failed(error)
        }
        // From here on the old segment is sealed: any failure leaves the store without an
        // active segment to write to, so it fails (nothing is written to a closed file).
        old.close()
        active = nil
        let sealedFile: SegmentFile
        do { sealedFile = try SegmentFile.open(fs: fs, path: old.path) } catch {
            failure = SystemError(operation: "reopen sealed segment", path: old.path, errno: EIO)
            throw .damaged(error)
        }
        guard let footerIndex = sealedFile.footer else {
            failure = SystemError(operation: "reopen sealed segment", path: old.path, errno: EIO)
            throw .damaged(sealedFile.footerError ?? .malformed(Location(file: old.path), detail: "sealed segment has no footer"))
        }
        sealed.append(SealedSegment(file: sealedFile, footer: footerIndex))
        try startSegmentLocked(number: old.header.segmentNumber + 1, frontier: old.accumulator.frontier())
        try writeManifestLocked()
        try writeReplayIndexLocked()
        if options.compressSealed { scheduleCompression(path: old.path, accumulator: old.accumulator) }
    }

    /// Creates the next active segment file with its header, durably.
    func startSegmentLocked(number: UInt64, frontier: CompactRange) throws(StoreError) {
        let header = SegmentHeader(hashAlgorithm: hashAlgorithm, encrypted: encrypted, compressed: false, storeId: storeId,
                                   segmentNumber: number, firstSeq: nextSeq, previousChain: encoder.chain,
                                   created: max(options.clock(), lastTime))
        let path = layout.segment(firstSeq: nextSeq)
        let bytes = header.encode()
        let file: WritableFile
        do {
            file = try fs.openForWriting(path, create: true)
            try file.truncate(to: 0)
            try file.write(bytes, at: 0)
            try file.sync()
            try fs.syncDirectory(layout.segments)
        } catch {
            failure = error
            throw .failed(error)
        }
        active = ActiveSegment(path: path, header: header, writer: file,
                               accumulator: SegmentAccumulator(header: header, frontier: frontier), fileEnd: UInt64(bytes.count),
                               mapped: options.mappedAppends, segmentSize: options.segmentSize)
    }

    /// Manifest entries for the current segments.
    func manifestEntriesLocked() -> [Manifest.Entry] {
        var entries = sealed.map { s in
            Manifest.Entry(segmentNumber: s.header.segmentNumber, firstSeq: s.firstSeq, lastSeq: s.lastSeq,
                           state: s.header.compressed ? .sealedCompressed : .sealed, fileSize: s.file.size, chainHead: s.meta.chainHead)
        }
        if let a = active {
            entries.append(Manifest.Entry(segmentNumber: a.header.segmentNumber, firstSeq: a.header.firstSeq,
                                          lastSeq: a.header.firstSeq, state: .active, fileSize: UInt64(a.header.headerLength),
                                          chainHead: a.header.previousChain))
        }
        return entries
    }

    func writeManifestLocked() throws(StoreError) {
        let manifest = Manifest(hashAlgorithm: hashAlgorithm, encrypted: encrypted, storeId: storeId,
                                generation: manifestGeneration &+ 1, written: max(options.clock(), lastTime),
                                segments: manifestEntriesLocked())
        do { try fs.writeAtomically(manifest.encode(), to: layout.manifest) } catch {
            failure = error
            throw .failed(error)
        }
        manifestGeneration &+= 1
    }

    /// Writes and fsyncs everything buffered; afterwards every sequenced record is acknowledged.
    public func flush() throws(StoreError) {
        try mutex.locked { () throws(StoreError) in
            try checkWritableLocked()
            while flushing { condition.wait(mutex) }
            try flushLocked(sync: true)
        }
    }

    /// Makes everything durable, seals the active segment and writes the REPLAY index: after a
    /// checkpoint this leaves only the records after it to be read at the next open.
    public func sealForCheckpoint() throws(StoreError) {
        try mutex.locked { () throws(StoreError) in
            try checkWritableLocked()
            try rotateLocked()
        }
    }

    /// Writes the derived REPLAY file as of the last durable record.
    func writeReplayIndexLocked() throws(StoreError) {
        guard syncedUpTo > 0 else { return }
        let seq = syncedUpTo - 1
        guard let chain = try? chainLocked(seq: seq) else { return }
        let bytes = replay.encode(storeId: storeId, seq: seq, chain: chain)
        do { try fs.writeAtomically(bytes, to: PathUtil.join(layout.root, ReplayTable.fileName)) } catch {
            throw .io(error)
        }
    }

    // MARK: Compression

    /// Rewrites a sealed segment compressed, in the background, then swaps it in atomically.
    func scheduleCompression(path: String, accumulator: SegmentAccumulator) {
        compressionInFlight += 1
        let fs = self.fs
        DispatchQueue.global(qos: .utility).async { [weak self] in
            defer { self?.mutex.locked { self?.compressionInFlight -= 1; self?.condition.broadcast() } }
            do {
                let plain = try fs.readAll(path)
                let start = Int(accumulator.header.headerLength), end = Int(accumulator.dataEnd)
                guard end <= plain.count else { return }
                let compressed = try SegmentCompressor.compress(frames: Array(plain[start..<end]), accumulator: accumulator)
                let temp = path + ".tmp"
                let f = try fs.openForWriting(temp, create: true)
                try f.truncate(to: 0)
                try f.write(compressed, at: 0)
                try f.sync()
                f.close()
                let file = try SegmentFile.open(fs: fs, path: temp)
                guard let footer = file.footer else { try? fs.remove(temp); return }
                guard let self else { return }
                try self.mutex.locked { () throws in
                    try fs.rename(temp, to: path)
                    try fs.syncDirectory(PathUtil.directory(of: path))
                    let reopened = try SegmentFile.open(fs: fs, path: path)
                    if let i = self.sealed.firstIndex(where: { $0.file.path == path }) {
                        self.sealed[i] = SealedSegment(file: reopened, footer: reopened.footer ?? footer)
                    }
                    if !self.closed { try self.writeManifestLocked() }
                }
            } catch {
                // The plain segment stays in place; compression is an optimisation.
            }
        }
    }

    /// Blocks until background compressions finish (tests and close).
    public func waitForCompression() {
        mutex.locked { while compressionInFlight > 0 { condition.wait(mutex) } }
    }

    /// Seals the active segment now (normally done at the size threshold).
    public func rotate() throws(StoreError) {
        try mutex.locked { () throws(StoreError) in
            try checkWritableLocked()
            try rotateLocked()
        }
    }
}

/// Monotonic time for group-commit decisions.
enum Clock {
    static func nanoseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }
}
