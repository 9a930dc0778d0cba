#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// Opens a store: takes the lock, finishes an interrupted compaction switch, loads keys,
/// checks the segment chain, recovers the active segment (spec/FORMAT.md §13.2), and rebuilds
/// derived files that are missing or stale.
struct StoreOpener {
    let directory: String
    let options: StoreOptions
    var fs: FileSystem { options.fileSystem }
    var layout: StoreLayout { StoreLayout(root: directory) }

    func open() throws(StoreError) -> LogStore {
        var lock: FileLock? = nil
        if !options.readOnly {
            if !fs.isDirectory(directory) {
                guard options.create else { throw .notAStore(path: directory) }
                do { try fs.createDirectories(directory) } catch { throw .io(error) }
            }
            do { lock = try fs.lock(layout.lock, owner: LockOwner.describe()) } catch {
                if error.errno == EWOULDBLOCK || error.errno == EAGAIN {
                    let holder = error.path.suffix(after: " held by ") ?? "unknown"
                    throw .locked(path: layout.lock, holder: holder)
                }
                throw .io(error)
            }
            try finishCompactionSwitch()
        }
        do {
            let names = fs.isDirectory(layout.segments) ? try layout.segmentNames(fs: fs) : []
            if names.isEmpty {
                guard options.create, !options.readOnly else { throw StoreError.notAStore(path: directory) }
                return try create(lock: lock)
            }
            return try recover(names: names, lock: lock)
        } catch let e as StoreError {
            lock?.release()
            throw e
        } catch let e as FormatError {
            lock?.release()
            throw .damaged(e)
        } catch {
            lock?.release()
            throw .damaged(.malformed(Location(file: directory), detail: "\(error)"))
        }
    }

    /// spec/FORMAT.md §1: complete or undo a compaction that was interrupted.
    func finishCompactionSwitch() throws(StoreError) {
        let next = layout.segmentsNext, old = layout.segmentsOld
        let complete = fs.exists(PathUtil.join(next, StoreLayout.completeMarker))
        do {
            if !fs.isDirectory(layout.segments) {
                if fs.isDirectory(next) && complete {
                    try fs.rename(next, to: layout.segments)
                } else if fs.isDirectory(old) {
                    try fs.rename(old, to: layout.segments)
                }
                try fs.syncDirectory(directory)
            }
            if fs.isDirectory(next) { try fs.remove(next) }
            if fs.isDirectory(old) { try fs.remove(old) }
            let marker = PathUtil.join(layout.segments, StoreLayout.completeMarker)
            if fs.exists(marker) { try fs.remove(marker) }
        } catch {
            throw .io(error)
        }
    }

    // MARK: Creation

    func create(lock: FileLock?) throws(StoreError) -> LogStore {
        let storeId = StoreID.random()
        var keyring: Keyring? = nil
        var keyFile: KeyFile? = nil
        var master: MasterKey? = nil
        if options.encrypt || options.key != nil {
            guard let source = options.key else { throw .keyRequired(path: directory) }
            let m = try KeyResolver.newMasterKey(source, options: options)
            do {
                let (file, ring) = try KeyFile.create(storeId: storeId, master: m)
                try fs.writeAtomically(file.encode(), to: layout.keys)
                keyring = ring
                keyFile = file
                master = m
            } catch let e as FormatError {
                throw .damaged(e)
            } catch let e as SystemError {
                throw .io(e)
            } catch {
                throw .damaged(.malformed(Location(), detail: "\(error)"))
            }
        }
        do { try fs.createDirectory(layout.segments) } catch { throw .io(error) }
        let origin = options.origin ?? "nedb/\(storeId.hex)"
        let store = LogStore(layout: layout, options: options, storeId: storeId, hashAlgorithm: options.hashAlgorithm,
                             encrypted: keyring != nil, origin: origin, lock: lock, keyring: keyring)
        store.keyFile = keyFile
        store.masterKey = master
        store.openReport.created = true
        try store.mutex.locked { () throws(StoreError) in
            try store.startSegmentLocked(number: 0, frontier: CompactRange(hasher: MerkleHasher(options.hashAlgorithm)))
            try store.writeManifestLocked()
        }
        var genesis = Record(type: .genesis, seq: 0, time: 0)
        genesis.storeId = storeId
        genesis.hashAlgorithm = options.hashAlgorithm
        genesis.encryption = keyring == nil ? EncryptionMode.none : .aes256gcm
        genesis.origin = options.origin
        try store.append([genesis], durability: .always)
        return store
    }

    // MARK: Recovery

    func recover(names: [String], lock: FileLock?) throws -> LogStore {
        var files: [SegmentFile] = []
        var report = OpenReport()
        for (i, name) in names.enumerated() {
            let path = PathUtil.join(layout.segments, name)
            do {
                files.append(try SegmentFile.open(fs: fs, path: path))
            } catch {
                // A last segment whose header never became durable is debris of a crash during
                // rotation: it can hold no records (the header is synced before any record).
                let isLast = i == names.count - 1
                let size: UInt64 = (try? fs.openForReading(path)).map { f -> UInt64 in defer { f.close() }; return (try? f.size()) ?? 0 } ?? 0
                if isLast, i > 0, size < UInt64(SegmentHeader.length), ["truncated", "bad_magic", "checksum_mismatch"].contains(error.id) {
                    if !options.readOnly { try fs.remove(path) }
                    report.tornTail = .tornTail(Location(file: path, offset: 0), detail: "segment file of \(size) bytes with an incomplete header (removed)")
                    continue
                }
                throw StoreError.damaged(error)
            }
        }
        guard let first = files.first else { throw StoreError.notAStore(path: directory) }
        let header = first.header
        if options.readOnly == false && header.writeVersion > FormatVersion.write {
            throw StoreError.damaged(.unsupportedVersion(Location(file: first.path, offset: 10), what: "segment write",
                                                         found: header.writeVersion, supported: FormatVersion.write))
        }
        // Keys.
        var keyring: Keyring? = nil
        var keyFile: KeyFile? = nil
        var master: MasterKey? = nil
        if header.encrypted {
            let bytes: [UInt8]
            do { bytes = try fs.readAll(layout.keys) } catch {
                throw StoreError.damaged(.wrongKey(Location(file: layout.keys), detail: "the key file is missing or unreadable: \(error.message)"))
            }
            let file = try KeyFile.decode(bytes, file: layout.keys)
            guard file.storeId == header.storeId else {
                throw StoreError.damaged(.wrongKey(Location(file: layout.keys), detail: "the key file belongs to store \(file.storeId)"))
            }
            guard let source = options.key else { throw StoreError.keyRequired(path: directory) }
            let m = try KeyResolver.masterKey(source, keyFile: file, fs: fs)
            keyring = try file.unwrapAll(tmk: m.key, file: layout.keys)
            keyFile = file
            master = m
        }
        // Sealed segments must link; only the last may be unsealed.
        var sealed: [SealedSegment] = []
        var previous: (lastSeq: UInt64, chain: Hash32, number: UInt64, frontier: CompactRange?)? = nil
        var activeFile: SegmentFile? = nil
        for (i, file) in files.enumerated() {
            let h = file.header
            let at = Location(file: file.path, offset: 0, seq: h.firstSeq)
            guard h.storeId == header.storeId, h.hashAlgorithm == header.hashAlgorithm, h.encrypted == header.encrypted else {
                throw StoreError.damaged(.reorderedSegment(at, detail: "segment belongs to another store or uses other settings"))
            }
            if let p = previous {
                if h.segmentNumber != p.number + 1 || h.firstSeq > p.lastSeq + 1 {
                    throw StoreError.damaged(.missingSegment(at, detail: "expected segment \(p.number + 1) at seq \(p.lastSeq + 1), found segment \(h.segmentNumber) at seq \(h.firstSeq)"))
                }
                if h.firstSeq != p.lastSeq + 1 {
                    throw StoreError.damaged(.reorderedSegment(at, detail: "segment starts at seq \(h.firstSeq), expected \(p.lastSeq + 1)"))
                }
                if h.previousChain != p.chain {
                    throw StoreError.damaged(.chainBreak(Location(file: file.path, offset: 48, seq: h.firstSeq),
                                                         detail: "previous chain hash does not match the end of segment \(p.number)"))
                }
            } else if h.segmentNumber != 0 || h.firstSeq != 0 || h.previousChain != .zero {
                throw StoreError.damaged(.missingSegment(at, detail: "the first segment is segment \(h.segmentNumber) at seq \(h.firstSeq)"))
            }
            if SegmentName.parse(file.name) != h.firstSeq {
                throw StoreError.damaged(.reorderedSegment(at, detail: "file name does not match the header's first seq \(h.firstSeq)"))
            }
            if let footer = file.footer {
                let hasher = MerkleHasher(h.hashAlgorithm)
                let frontier = try footer.frontier(hasher: hasher, file: file.path, reader: file.reader)
                sealed.append(SealedSegment(file: file, footer: footer))
                previous = (footer.meta.lastSeq, footer.meta.chainHead, h.segmentNumber, frontier)
            } else if let e = file.footerError {
                throw StoreError.damaged(e)
            } else if i == files.count - 1 {
                activeFile = file
            } else {
                throw StoreError.damaged(.malformed(at, detail: "segment \(h.segmentNumber) is not sealed but is not the last"))
            }
        }
        let origin = "nedb/\(header.storeId.hex)"
        let store = LogStore(layout: layout, options: options, storeId: header.storeId, hashAlgorithm: header.hashAlgorithm,
                             encrypted: header.encrypted, origin: origin, lock: lock, keyring: keyring)
        store.keyFile = keyFile
        store.masterKey = master
        store.sealed = sealed
        let startFrontier = previous?.frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm))
        var activeRecords: [Record] = []
        try store.mutex.locked { () throws in
            store.nextSeq = previous.map { $0.lastSeq + 1 } ?? 0
            store.encoder.reset(chain: previous?.chain ?? .zero)
            store.lastTime = sealed.last?.meta.lastTime ?? 0
            if let activeFile {
                activeRecords = try recoverActive(activeFile, store: store, frontier: startFrontier, report: &report)
            } else if !options.readOnly {
                try store.startSegmentLocked(number: (previous?.number ?? 0) + 1, frontier: startFrontier)
                report.rebuiltManifest = true
            }
            store.writtenUpTo = store.nextSeq
            store.syncedUpTo = store.nextSeq
            store.visibleUpTo = store.nextSeq
        }
        if store.mutex.locked({ store.visibleUpTo }) > 0, let origin = try store.record(0).origin {
            store.origin = origin
        }
        try loadReplay(store, activeRecords: activeRecords, report: &report)
        if !options.readOnly { try reconcileManifest(store, report: &report) }
        store.openReport = report
        return store
    }

    /// Scans the active segment (CRC, seq, chain hash and structure of every record),
    /// truncating what the policy allows; returns its records.
    func recoverActive(_ file: SegmentFile, store: LogStore, frontier: CompactRange, report: inout OpenReport) throws -> [Record] {
        let header = file.header
        var accumulator = SegmentAccumulator(header: header, frontier: frontier)
        var scanner = PrehashingScanner(file.scanner(), algorithm: header.hashAlgorithm, previous: header.previousChain,
                                        chainHashes: true)
        var expected = accumulator.nextSeq
        var frames: [(offset: UInt64, length: Int, seq: UInt64, time: Int64, chain: Hash32)] = []
        var records: [Record] = []
        var cut: (offset: UInt64, reason: FormatError)? = nil
        scanning: while let (event, computedChain) = try scanner.next() {
            switch event {
            case let .damage(d):
                if d.reachesEnd && options.recovery != .strict {
                    cut = (d.start, .tornTail(Location(file: file.path, offset: d.start, seq: expected),
                                              detail: "\(d.end - d.start) bytes after the last complete record (\(d.reason.detail))"))
                } else if options.recovery == .pointInTime || options.readOnly {
                    cut = (d.start, d.reason)
                } else if d.reachesEnd {
                    throw StoreError.damaged(.tornTail(Location(file: file.path, offset: d.start, seq: expected),
                                                       detail: "the strict recovery policy refuses to truncate \(d.end - d.start) bytes"))
                } else {
                    throw StoreError.damaged(d.reason)
                }
                break scanning
            case let .record(frame):
                let at = Location(file: file.path, offset: frame.offset, seq: frame.seq)
                guard frame.seq == expected else {
                    let e = FormatError.chainBreak(at, detail: "seq \(frame.seq) where \(expected) was expected")
                    if options.readOnly { cut = (frame.offset, e); break scanning }
                    throw StoreError.damaged(e)
                }
                if let computed = computedChain, computed != frame.view.storedChain {
                    let e = FormatError.hashMismatch(at, expected: computed, found: frame.view.storedChain)
                    if options.readOnly { cut = (frame.offset, e); break scanning }
                    throw StoreError.damaged(e)
                }
                var record = try frame.decode(file: file.path, options: RecordCodec.Options(checkCanonicalDocuments: false))
                if record.isSealed, let keyring = store.keyring {
                    record = try RecordSealer.open(record, keyring: keyring, location: at,
                                                   options: RecordCodec.Options(checkCanonicalDocuments: false))
                }
                frames.append((frame.offset, frame.view.frameLength, frame.seq, frame.time, frame.view.storedChain))
                expected += 1
                records.append(record)
            }
        }
        // An incomplete transaction at the end was never acknowledged: it goes with the tail.
        if let last = records.last, let txn = last.transaction, last.seq < txn.firstSeq + UInt64(txn.count) - 1,
           let firstTail = records.first, txn.firstSeq >= firstTail.seq {
            let keep = Int(txn.firstSeq - firstTail.seq)
            let offset = frames[keep].offset
            report.droppedIncompleteTransaction = UInt64(records.count - keep)
            records.removeLast(records.count - keep)
            frames.removeLast(frames.count - keep)
            if cut == nil || offset < cut!.offset {
                cut = (offset, .tornTail(Location(file: file.path, offset: offset, seq: txn.firstSeq),
                                         detail: "transaction of \(txn.count) records starting at seq \(txn.firstSeq) is incomplete"))
            }
        }
        for f in frames { accumulator.add(frameLength: f.length, seq: f.seq, time: f.time, chain: f.chain) }
        if let cut {
            if options.readOnly {
                if cut.reason.id == "torn_tail" { report.tornTail = cut.reason } else { report.readOnlyLimit = cut.reason }
            } else {
                if cut.reason.id != "torn_tail" {
                    report.salvaged = try salvage(file: file, from: cut.offset)
                }
                report.tornTail = cut.reason.id == "torn_tail" ? cut.reason : .tornTail(cut.reason.location, detail: "point-in-time recovery: \(cut.reason.detail)")
                let writable = try fs.openForWriting(file.path, create: false)
                try writable.truncate(to: cut.offset)
                try writable.sync()
                writable.close()
            }
        }
        store.encoder.reset(chain: accumulator.chain)
        store.nextSeq = accumulator.nextSeq
        store.lastTime = max(store.lastTime, accumulator.lastTime)
        let handle = try fs.openForWriting(file.path, create: false)
        store.active = ActiveSegment(path: file.path, header: header, file: handle, accumulator: accumulator,
                                     fileEnd: accumulator.dataEnd, mapped: options.mappedAppends && !options.readOnly,
                                     segmentSize: options.segmentSize)
        return records
    }

    /// Copies the bytes from `offset` to the end into `lost+found/` before they are truncated.
    func salvage(file: SegmentFile, from offset: UInt64) throws -> (path: String, bytes: UInt64) {
        let dir = PathUtil.join(directory, "lost+found")
        try fs.createDirectory(dir)
        let bytes = try file.read(at: offset, count: Int(file.size - offset))
        let target = PathUtil.join(dir, "\(file.name).\(offset).\(options.clock())")
        try fs.writeAtomically(bytes, to: target)
        return (target, UInt64(bytes.count))
    }

    /// Loads the REPLAY index if it is bound to the log, then applies later records.
    func loadReplay(_ store: LogStore, activeRecords: [Record], report: inout OpenReport) throws {
        let path = PathUtil.join(directory, ReplayTable.fileName)
        var table = ReplayTable(storeId: store.storeId, keyring: store.keyring)
        var from: UInt64 = 0
        if let bytes = try? fs.readAll(path), let bound = table.load(bytes, storeId: store.storeId),
           bound.seq < store.mutex.locked({ store.nextSeq }), (try? store.chainHash(seq: bound.seq)) == bound.chain {
            from = bound.seq + 1
        } else {
            table = ReplayTable(storeId: store.storeId, keyring: store.keyring)
            report.rebuiltReplayIndex = true
        }
        let activeFirst = activeRecords.first?.seq ?? store.mutex.locked({ store.nextSeq })
        if from < activeFirst {
            try store.scan(from: from, through: activeFirst == 0 ? 0 : activeFirst - 1) { record in
                table.apply(record)
                return true
            }
        }
        for r in activeRecords where r.seq >= from { table.apply(r) }
        store.mutex.locked { store.replay = table }
        if report.rebuiltReplayIndex && !options.readOnly {
            try store.mutex.locked { () throws(StoreError) in try store.writeReplayIndexLocked() }
        }
    }

    /// Rewrites the manifest when it is missing or disagrees with the segments.
    func reconcileManifest(_ store: LogStore, report: inout OpenReport) throws {
        let current = store.mutex.locked { store.manifestEntriesLocked() }
        var stale = true
        if let bytes = try? fs.readAll(layout.manifest), let manifest = try? Manifest.decode(bytes, file: layout.manifest),
           manifest.storeId == store.storeId {
            stale = manifest.segments != current
            store.mutex.locked { store.manifestGeneration = manifest.generation }
        }
        if stale {
            report.rebuiltManifest = true
            try store.mutex.locked { () throws(StoreError) in try store.writeManifestLocked() }
        }
    }
}

/// Text identifying the process that holds a lock.
enum LockOwner {
    static func describe() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "pid \(getpid()) on \(host)"
    }
}

extension String {
    /// The text after the last occurrence of `marker`.
    func suffix(after marker: String) -> String? {
        let hay = Array(utf8), pat = Array(marker.utf8)
        guard hay.count >= pat.count else { return nil }
        for start in stride(from: hay.count - pat.count, through: 0, by: -1) where hay[start..<(start + pat.count)].elementsEqual(pat) {
            return String(decoding: hay[(start + pat.count)...], as: UTF8.self)
        }
        return nil
    }
}
