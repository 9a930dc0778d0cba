import NEDBFormat

/// Opening an existing store (spec/FORMAT.md §13.2): every sealed segment's header, link and
/// footer; the active segment record by record (frames, CRCs, seqs, chain hashes, structure);
/// seq 0 the genesis record; and every witness of the log's length (MANIFEST, REPLAY,
/// checkpoints, §13.3). The cost is proportional to the active segment and the number of
/// segments, not to the history. Only an interrupted write is tolerated (a writer truncates it);
/// any other finding stops the open, unless a read-only caller allowed reading the verified
/// prefix of a damaged store.
struct StoreRecovery {
    let opener: StoreOpener
    let lock: FileLock?
    /// Keys already unwrapped by the caller (a store just created).
    let knownKeys: (file: KeyFile, ring: Keyring, master: MasterKey)?

    var options: StoreOptions { opener.options }
    var fs: FileSystem { opener.fs }
    var layout: StoreLayout { opener.layout }
    var readOnly: Bool { options.readOnly }
    /// Read-only callers that asked for the verified prefix of a damaged store.
    var prefixAllowed: Bool { options.readOnly && options.allowDamaged }

    func recover() throws -> LogStore {
        var report = OpenReport()
        var damage: [FormatError] = []
        // Witnesses first: each was written after the records it describes were durable, so
        // the log as listed afterwards must reach it even while a writer appends and rotates.
        let witnessFiles = StoreWitnesses.read(layout: layout, fs: fs)
        let names = try layout.segmentNames(fs: fs)
        guard !names.isEmpty else {
            throw StoreError.damaged(.missingSegment(Location(file: layout.segments), detail: "the store has no segment files"))
        }
        var files: [SegmentFile] = []
        for (i, name) in names.enumerated() {
            let path = PathUtil.join(layout.segments, name)
            do {
                files.append(try SegmentFile.open(fs: fs, path: path))
            } catch {
                // A last segment whose header never became durable is debris of a crash during
                // rotation: it can hold no records (the header is synced before any record, and
                // the manifest names a segment only after its header is durable).
                let size = fileSize(path)
                if i == names.count - 1, i > 0, size < UInt64(SegmentHeader.length), ["truncated", "bad_magic", "checksum_mismatch"].contains(error.id) {
                    if !readOnly { try fs.remove(path) }
                    report.tornTail = .tornTail(Location(file: path, offset: 0),
                                                detail: "segment file of \(size) bytes with an incomplete header\(readOnly ? "" : " (removed)")")
                    continue
                }
                damage.append(error)
                break
            }
        }
        guard let first = files.first else { throw StoreError.damaged(damage.first ?? .missingSegment(Location(file: layout.segments), detail: "no segment")) }
        let header = first.header
        if !readOnly && header.writeVersion > FormatVersion.write {
            throw StoreError.damaged(.unsupportedVersion(Location(file: first.path, offset: 10), what: "segment write",
                                                         found: header.writeVersion, supported: FormatVersion.write))
        }
        let witnesses = witnessFiles.belonging(to: header.storeId)
        report.notes = witnesses.unusable
        let keys = try loadKeys(header)

        // Sealed segments must link; only the last may be unsealed.
        var sealed: [SealedSegment] = []
        var previous: (lastSeq: UInt64, chain: Hash32, number: UInt64, lastTime: Microseconds, frontier: CompactRange)? = nil
        var tailFile: SegmentFile? = nil
        linking: for (i, file) in files.enumerated() {
            if let problem = linkProblem(file, after: previous.map { ($0.lastSeq, $0.chain, $0.number) }, first: header) {
                damage.append(problem)
                break linking
            }
            if let footer = file.footer {
                do throws(FormatError) {
                    try checkFooter(footer, of: file)
                    let frontier = try footer.frontier(hasher: MerkleHasher(file.header.hashAlgorithm), file: file.path, reader: file.reader)
                    sealed.append(SealedSegment(file: file, footer: footer))
                    previous = (footer.meta.lastSeq, footer.meta.chainHead, file.header.segmentNumber, footer.meta.lastTime, frontier)
                } catch {
                    damage.append(error)
                    if prefixAllowed { tailFile = file }
                    break linking
                }
            } else if let e = file.footerError {
                damage.append(e)
                if prefixAllowed { tailFile = file }
                break linking
            } else if i == files.count - 1 {
                tailFile = file
            } else {
                damage.append(.malformed(Location(file: file.path, seq: file.header.firstSeq),
                                         detail: "segment \(file.header.segmentNumber) is not sealed but is not the last"))
                break linking
            }
        }
        if let d = damage.first, !prefixAllowed { throw StoreError.damaged(d) }

        // The tail: every record checked.
        var scan: TailScan? = nil
        if let tailFile {
            let scanned = try TailScan.scan(tailFile, keyring: keys?.ring, decrypt: !readOnly)
            if let d = scanned.damage {
                if !readOnly && options.recovery == .pointInTime && scanned.damageInBytes && !tailFile.isSealed {
                    report.acceptedLoss.append(d)
                } else {
                    damage.append(d)
                }
            }
            if let t = scanned.tornTail {
                if !readOnly && options.recovery == .strict {
                    throw StoreError.damaged(.tornTail(t.location, detail: "the strict recovery policy refuses to truncate: \(t.detail)"))
                }
                report.tornTail = t
            }
            report.droppedIncompleteTransaction = scanned.droppedIncompleteTransaction
            scan = scanned
        }
        let lastSeq: UInt64? = scan?.frames.last?.seq ?? previous?.lastSeq

        // Seq 0 must be the genesis record of this store.
        var genesis: Record? = nil
        if damage.isEmpty || prefixAllowed, lastSeq != nil {
            switch try genesisRecord(header: header, sealed: sealed, scan: scan) {
            case let .success(g): genesis = g
            case let .failure(problem): damage.append(problem)
            }
        }

        // Witnesses of the log's length and chain.
        let present = Set(names.compactMap(SegmentName.parse))
        let witnessIssues = try StoreWitnesses.check(witnesses.witnesses, lastSeq: lastSeq, hasSegment: { present.contains($0) },
                                                     chain: { seq throws(FormatError) -> Hash32? in try chain(seq, sealed: sealed, scan: scan) })
        let cutting = !report.acceptedLoss.isEmpty || report.tornTail != nil
        for issue in witnessIssues {
            if !readOnly && options.recovery == .pointInTime && cutting && issue.id == "missing_data" {
                report.acceptedLoss.append(issue)
            } else {
                damage.append(issue)
            }
        }
        if let d = damage.first {
            if !prefixAllowed { throw StoreError.damaged(d) }
            report.damage = damage
            // A witness that recorded another chain hash at seq S shows the log was rewritten up
            // to S: nothing in S's segment is vouched for, so the prefix ends before it.
            for issue in witnessIssues where issue.id == "chain_break" || issue.id == "checkpoint_mismatch" {
                guard let seq = issue.location.seq else { continue }
                if let t = tailFile, seq >= t.header.firstSeq, var cut = scan {
                    cut.frames = []
                    cut.records = []
                    cut.end = UInt64(t.header.headerLength)
                    scan = cut
                } else if let j = sealed.firstIndex(where: { $0.firstSeq <= seq && seq <= $0.lastSeq }) {
                    sealed.removeSubrange(j...)
                    tailFile = nil
                    scan = nil
                    if let s = sealed.last {
                        let frontier = try s.footer.frontier(hasher: MerkleHasher(s.header.hashAlgorithm), file: s.file.path, reader: s.file.reader)
                        previous = (s.lastSeq, s.meta.chainHead, s.header.segmentNumber, s.meta.lastTime, frontier)
                    } else {
                        previous = nil
                    }
                }
            }
        }

        // A writer cuts what recovery does not keep: a torn tail, or (point-in-time, asked for)
        // the damage and everything after it, which is moved to lost+found first.
        if !readOnly, let tailFile, let scan, scan.end < tailFile.dataEnd, report.tornTail != nil || !report.acceptedLoss.isEmpty {
            if !report.acceptedLoss.isEmpty {
                report.salvaged = try salvage(file: tailFile, from: scan.end)
                try setAsideCheckpoints(after: lastSeq, report: &report)
            } else {
                // A torn tail cannot be told from a changed last frame (FORMAT §13.1): its bytes
                // are kept in lost+found (trailing zeros, reserved or never written, dropped).
                report.salvaged = try salvage(file: tailFile, from: scan.end, trimZeros: true)
            }
            let writable = try fs.openForWriting(tailFile.path, create: false)
            defer { writable.close() }
            try writable.truncate(to: scan.end)
            try writable.sync()
        }

        let startFrontier = previous?.frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm))
        let store = LogStore(layout: layout, options: options, storeId: header.storeId, hashAlgorithm: header.hashAlgorithm,
                             encrypted: header.encrypted, origin: "nedb/\(header.storeId.hex)", lock: lock, keyring: keys?.ring)
        store.keyFile = keys?.file
        store.masterKey = keys?.master
        store.sealed = sealed
        try store.mutex.locked { () throws in
            store.nextSeq = previous.map { $0.lastSeq + 1 } ?? 0
            store.encoder.reset(chain: previous?.chain ?? .zero)
            store.lastTime = previous?.lastTime ?? 0
            if let tailFile, let scan {
                var accumulator = SegmentAccumulator(header: tailFile.header, frontier: startFrontier)
                for f in scan.frames { accumulator.add(frameLength: f.length, seq: f.seq, time: f.time, chain: f.chain) }
                store.encoder.reset(chain: accumulator.chain)
                store.nextSeq = accumulator.nextSeq
                store.lastTime = max(store.lastTime, accumulator.lastTime)
                if readOnly {
                    store.active = ActiveSegment(path: tailFile.path, header: tailFile.header, file: try fs.openForReading(tailFile.path),
                                                 writer: nil, accumulator: accumulator, fileEnd: scan.end, mapped: false,
                                                 segmentSize: options.segmentSize)
                } else {
                    store.active = ActiveSegment(path: tailFile.path, header: tailFile.header,
                                                 writer: try fs.openForWriting(tailFile.path, create: false), accumulator: accumulator,
                                                 fileEnd: scan.end, mapped: options.mappedAppends, segmentSize: options.segmentSize)
                }
            } else if !readOnly {
                // The last segment was sealed and its successor never created (a crash during
                // rotation): start it now.
                try store.startSegmentLocked(number: (previous?.number ?? 0) + 1, frontier: startFrontier)
                report.rebuiltManifest = true
            }
            store.writtenUpTo = store.nextSeq
            store.syncedUpTo = store.nextSeq
            store.visibleUpTo = store.nextSeq
        }
        if store.mutex.locked({ store.visibleUpTo }) > 0, let origin = genesis?.origin {
            store.origin = origin
        }
        store.witnessCheckpoints = witnesses.checkpoints
        if !readOnly {
            try loadReplay(store, activeRecords: scan?.records ?? [], report: &report)
            try reconcileManifest(store, manifest: witnesses.manifest, report: &report)
        }
        store.openReport.created = report.created
        store.openReport = report
        return store
    }

    func fileSize(_ path: String) -> UInt64 {
        guard let f = try? fs.openForReading(path) else { return 0 }
        defer { f.close() }
        return (try? f.size()) ?? 0
    }

    // MARK: Keys

    func loadKeys(_ header: SegmentHeader) throws -> (file: KeyFile, ring: Keyring, master: MasterKey)? {
        guard header.encrypted else {
            if options.key != nil { throw StoreError.notEncrypted(path: opener.directory) }
            return nil
        }
        if let knownKeys {
            guard knownKeys.file.storeId == header.storeId else {
                throw StoreError.damaged(.wrongKey(Location(file: layout.keys), detail: "the key file belongs to store \(knownKeys.file.storeId)"))
            }
            return knownKeys
        }
        let bytes: [UInt8]
        do { bytes = try fs.readAll(layout.keys) } catch {
            throw StoreError.damaged(.wrongKey(Location(file: layout.keys), detail: "the key file is missing or unreadable: \(error.message)"))
        }
        let file = try KeyFile.decode(bytes, file: layout.keys)
        guard file.storeId == header.storeId else {
            throw StoreError.damaged(.wrongKey(Location(file: layout.keys), detail: "the key file belongs to store \(file.storeId)"))
        }
        guard let source = options.key else { throw StoreError.keyRequired(path: opener.directory) }
        return try StoreRecovery.unlock(file, source: source, fs: fs, path: layout.keys)
    }

    /// The master key and data keys of a key file (a wrong key fails the TMK check).
    static func unlock(_ file: KeyFile, source: KeySource, fs: FileSystem, path: String) throws -> (file: KeyFile, ring: Keyring, master: MasterKey) {
        let master = try KeyResolver.masterKey(source, keyFile: file, fs: fs)
        return (file, try file.unwrapAll(tmk: master.key, file: path), master)
    }

    // MARK: Segment checks

    /// Why `file` does not continue the log after `previous` (nil: it does).
    func linkProblem(_ file: SegmentFile, after previous: (lastSeq: UInt64, chain: Hash32, number: UInt64)?,
                     first: SegmentHeader) -> FormatError? {
        let h = file.header
        let at = Location(file: file.path, offset: 0, seq: h.firstSeq)
        guard h.storeId == first.storeId, h.hashAlgorithm == first.hashAlgorithm, h.encrypted == first.encrypted else {
            return .reorderedSegment(at, detail: "segment belongs to another store or uses other settings")
        }
        if let p = previous {
            if h.segmentNumber != p.number + 1 || h.firstSeq > p.lastSeq + 1 {
                return .missingSegment(at, detail: "expected segment \(p.number + 1) at seq \(p.lastSeq + 1), found segment \(h.segmentNumber) at seq \(h.firstSeq)")
            }
            if h.firstSeq != p.lastSeq + 1 {
                return .reorderedSegment(at, detail: "segment starts at seq \(h.firstSeq), expected \(p.lastSeq + 1)")
            }
            if h.previousChain != p.chain {
                return .chainBreak(Location(file: file.path, offset: 48, seq: h.firstSeq),
                                   detail: "previous chain hash does not match the end of segment \(p.number)")
            }
        } else if h.segmentNumber != 0 || h.firstSeq != 0 || h.previousChain != .zero {
            return .missingSegment(at, detail: "the first segment is segment \(h.segmentNumber) at seq \(h.firstSeq)")
        }
        if SegmentName.parse(file.name) != h.firstSeq {
            return .reorderedSegment(at, detail: "file name does not match the header's first seq \(h.firstSeq)")
        }
        return nil
    }

    /// A sealed segment's footer must describe the segment it ends: its seqs start at the
    /// header's, and (plain segments) the frames fill the bytes between header and footer.
    func checkFooter(_ footer: FooterIndex, of file: SegmentFile) throws(FormatError) {
        let meta = footer.meta, at = Location(file: file.path, offset: footer.dataEnd)
        guard meta.firstSeq == file.header.firstSeq else {
            throw .footerMismatch(at, detail: "footer's first seq \(meta.firstSeq) is not the header's \(file.header.firstSeq)")
        }
        if !file.header.compressed, footer.dataEnd != UInt64(file.header.headerLength) + meta.logicalLength {
            throw .footerMismatch(at, detail: "\(footer.dataEnd - UInt64(file.header.headerLength)) bytes of records, the footer describes \(meta.logicalLength)")
        }
    }

    /// Record 0, when it is this store's genesis record; else why not.
    func genesisRecord(header: SegmentHeader, sealed: [SealedSegment], scan: TailScan?) throws -> Result<Record?, FormatError> {
        let genesis: Record
        let at: Location
        if let s = sealed.first {
            at = Location(file: s.file.path, seq: 0)
            let frame = try s.frame(seq: 0)
            guard case let .frame(view) = frame.withUnsafeBytes({ Frame.parse($0, at: 0) }), view.crcValid else {
                return .failure(.checksumMismatch(at, what: "record frame", expected: 0, found: 0))
            }
            guard let leaf = try s.merkleNode(level: 0, index: 0), leaf == view.storedChain,
                  ChainHasher(header.hashAlgorithm).chain(previous: .zero, typeAndBody: frame.withUnsafeBytes {
                      UnsafeRawBufferPointer(rebasing: $0[view.recordRange]) }) == leaf else {
                return .failure(.hashMismatch(at, expected: try s.merkleNode(level: 0, index: 0) ?? .zero, found: view.storedChain))
            }
            genesis = try RecordCodec.decode(type: view.type, bytes: frame, bodyStart: view.bodyRange.lowerBound,
                                             bodyEnd: view.bodyRange.upperBound, location: at,
                                             options: RecordCodec.Options(checkCanonicalDocuments: false))
        } else if let scan, let r = scan.records.first {
            at = Location(file: scan.path, offset: UInt64(header.headerLength), seq: 0)
            genesis = r
        } else {
            return .success(nil)
        }
        guard genesis.seq == 0, genesis.type == .genesis else {
            return .failure(.malformed(at, detail: "seq 0 must be the genesis record, found \(genesis.type) at seq \(genesis.seq)"))
        }
        guard genesis.storeId == header.storeId, genesis.hashAlgorithm == header.hashAlgorithm,
              (genesis.encryption == .aes256gcm) == header.encrypted else {
            return .failure(.malformed(at, detail: "the genesis record does not match the segment headers"))
        }
        return .success(genesis)
    }

    /// The chain hash of `seq` in the log as found.
    func chain(_ seq: UInt64, sealed: [SealedSegment], scan: TailScan?) throws(FormatError) -> Hash32 {
        if let scan, let first = scan.frames.first, seq >= first.seq {
            let i = Int(seq - first.seq)
            guard i < scan.frames.count else { throw .malformed(Location(seq: seq), detail: "seq \(seq) is beyond the log") }
            return scan.frames[i].chain
        }
        for s in sealed where s.firstSeq <= seq && seq <= s.lastSeq {
            guard let h = try s.merkleNode(level: 0, index: seq) else {
                throw .malformed(Location(file: s.file.path, seq: seq), detail: "footer holds no leaf for seq \(seq)")
            }
            return h
        }
        throw .malformed(Location(seq: seq), detail: "seq \(seq) is in no segment")
    }

    // MARK: Point-in-time recovery

    /// Copies the bytes from `offset` to the end into `lost+found/` before they are truncated.
    func salvage(file: SegmentFile, from offset: UInt64, trimZeros: Bool = false) throws -> (path: String, bytes: UInt64)? {
        var bytes = try file.read(at: offset, count: Int(file.size - offset))
        if trimZeros {
            while bytes.last == 0 { bytes.removeLast() }
            if bytes.isEmpty { return nil }
        }
        let dir = PathUtil.join(opener.directory, "lost+found")
        try fs.createDirectory(dir)
        let target = PathUtil.join(dir, "\(file.name).\(offset).\(options.clock())")
        try fs.writeAtomically(bytes, to: target)
        return (target, UInt64(bytes.count))
    }

    /// Checkpoints beyond the recovered end no longer describe this log: moved to lost+found.
    func setAsideCheckpoints(after lastSeq: UInt64?, report: inout OpenReport) throws {
        for name in layout.checkpointNames(fs: fs) {
            guard let seq = CheckpointContainer.parseName(name), lastSeq.map({ seq > $0 }) ?? true else { continue }
            let dir = PathUtil.join(opener.directory, "lost+found")
            try fs.createDirectory(dir)
            try fs.rename(PathUtil.join(layout.checkpoints, name), to: PathUtil.join(dir, name))
        }
    }

    // MARK: Derived files

    /// Loads the REPLAY index if it is bound to the log, then applies later records.
    func loadReplay(_ store: LogStore, activeRecords: [Record], report: inout OpenReport) throws {
        let path = PathUtil.join(opener.directory, ReplayTable.fileName)
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
        if report.rebuiltReplayIndex {
            try store.mutex.locked { () throws(StoreError) in try store.writeReplayIndexLocked() }
        }
    }

    /// Rewrites the manifest when it is missing or disagrees with the segments.
    func reconcileManifest(_ store: LogStore, manifest: Manifest?, report: inout OpenReport) throws {
        let current = store.mutex.locked { store.manifestEntriesLocked() }
        var stale = true
        if let manifest {
            stale = manifest.segments != current
            store.mutex.locked { store.manifestGeneration = manifest.generation }
        }
        if stale {
            report.rebuiltManifest = true
            try store.mutex.locked { () throws(StoreError) in try store.writeManifestLocked() }
        }
    }
}
