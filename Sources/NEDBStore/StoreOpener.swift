#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// Opens a store: takes the lock, finishes an interrupted compaction switch or creation, loads
/// keys, checks the segment chain and every witness of the log's length, checks the active
/// segment record by record (spec/FORMAT.md §13.2), and rebuilds derived files that are missing
/// or stale. Damage that is not an interrupted write stops the open unless the caller allowed
/// reading the verified prefix of a damaged store (read-only only).
struct StoreOpener {
    let directory: String
    let options: StoreOptions
    /// The lock when the caller already holds it (maintenance, `StoreLockHolder`).
    var heldLock: FileLock? = nil
    var fs: FileSystem { options.fileSystem }
    var layout: StoreLayout { StoreLayout(root: directory) }

    /// Where a store being created is built before it is renamed into place.
    static let creating = ".creating"
    var creatingPath: String { PathUtil.join(directory, StoreOpener.creating) }

    func open() throws(StoreError) -> LogStore {
        // A wrong key is found before anything is touched (the lock file included).
        let knownKeys = try checkKey()
        var lock: FileLock? = heldLock
        if !options.readOnly && heldLock == nil {
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
        }
        do {
            if !options.readOnly {
                try finishCompactionSwitch()
                try finishCreation()
            }
            guard fs.isDirectory(layout.segments) else {
                if let witness = leftoverWitness() {
                    throw StoreError.damaged(.missingData(Location(file: layout.segments),
                        detail: "the segments directory is gone, but \(witness) shows this directory held a store"))
                }
                guard options.create, !options.readOnly else { throw StoreError.notAStore(path: directory) }
                return try create(lock: lock)
            }
            // Witnesses first: they were written after the records they describe were durable,
            // so a log listed after them must reach them (a writer may append meanwhile).
            try removeInterruptedTemporaries()
            return try StoreRecovery(opener: self, lock: lock, knownKeys: knownKeys).recover()
        } catch let e as StoreError {
            lock?.release()
            throw e
        } catch let e as FormatError {
            lock?.release()
            throw .damaged(e)
        } catch let e as SystemError {
            lock?.release()
            throw .io(e)
        } catch {
            lock?.release()
            throw .damaged(.malformed(Location(file: directory), detail: "\(error)"))
        }
    }

    /// Unwraps the data keys when the store has a key file and a key was given; a wrong key
    /// throws here, before the store's lock is taken or any file is written.
    func checkKey() throws(StoreError) -> (file: KeyFile, ring: Keyring, master: MasterKey)? {
        guard let source = options.key, fs.exists(layout.keys), fs.isDirectory(layout.segments) else { return nil }
        do {
            let file = try KeyFile.decode(try fs.readAll(layout.keys), file: layout.keys)
            return try StoreRecovery.unlock(file, source: source, fs: fs, path: layout.keys)
        } catch let e as StoreError {
            throw e
        } catch let e as FormatError {
            throw .damaged(e)
        } catch let e as SystemError {
            throw .damaged(.wrongKey(Location(file: layout.keys), detail: "the key file is unreadable: \(e.message)"))
        } catch {
            throw .damaged(.wrongKey(Location(file: layout.keys), detail: "\(error)"))
        }
    }

    /// Temporary files of an atomic rewrite interrupted by a crash or a full disk
    /// (`MANIFEST.tmp`, `REPLAY.tmp`, `checkpoints/….nckp.tmp`): they hold nothing anyone
    /// relies on. Writers remove them.
    func removeInterruptedTemporaries() throws {
        guard !options.readOnly else { return }
        for dir in [directory, layout.checkpoints] where fs.isDirectory(dir) {
            for name in try fs.listDirectory(dir) where name.hasSuffix(".tmp") {
                try fs.remove(PathUtil.join(dir, name))
            }
        }
    }

    /// A file that only an existing store has (the segments being gone).
    func leftoverWitness() -> String? {
        if fs.exists(layout.manifest) { return "MANIFEST" }
        if fs.exists(PathUtil.join(directory, ReplayFileHeader.fileName)) { return "REPLAY" }
        if !layout.checkpointNames(fs: fs).isEmpty { return "a checkpoint" }
        if fs.exists(layout.keys) { return "KEYS (an encrypted store's wrapped keys)" }
        return nil
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

    /// spec/FORMAT.md §1: a creation interrupted before `segments/` was renamed in left nothing
    /// acknowledged (it is discarded); one interrupted after it still has to move KEYS in.
    func finishCreation() throws(StoreError) {
        guard fs.isDirectory(creatingPath) else { return }
        do {
            let stagedKeys = PathUtil.join(creatingPath, KeyFile.fileName)
            if fs.isDirectory(layout.segments) && fs.exists(stagedKeys) && !fs.exists(layout.keys) {
                try fs.rename(stagedKeys, to: layout.keys)
                try fs.syncDirectory(directory)
            }
            try fs.remove(creatingPath)
        } catch {
            throw .io(error)
        }
    }

    /// Creates a store atomically: segment 0 with its genesis record (and KEYS) are built and
    /// made durable in `.creating/`, then renamed into place, so a crash leaves either no store
    /// or a complete one whose first record is genesis.
    func create(lock: FileLock?) throws -> LogStore {
        let storeId = StoreID.random()
        var keyring: Keyring? = nil
        var keyFile: KeyFile? = nil
        var master: MasterKey? = nil
        do {
            if fs.isDirectory(creatingPath) { try fs.remove(creatingPath) }
            try fs.createDirectory(creatingPath)
            try fs.createDirectory(PathUtil.join(creatingPath, "segments"))
        } catch { throw StoreError.io(error) }
        if options.encrypt || options.key != nil {
            guard let source = options.key else { throw StoreError.keyRequired(path: directory) }
            let m = try KeyResolver.newMasterKey(source, options: options)
            do {
                let (file, ring) = try KeyFile.create(storeId: storeId, master: m)
                try fs.writeAtomically(file.encode(), to: PathUtil.join(creatingPath, KeyFile.fileName))
                keyring = ring
                keyFile = file
                master = m
            } catch let e as FormatError {
                throw StoreError.damaged(e)
            } catch let e as SystemError {
                throw StoreError.io(e)
            } catch {
                throw StoreError.damaged(FormatError.malformed(Location(), detail: "\(error)"))
            }
        }
        // Segment 0 and its genesis record, durable before the store exists.
        var genesis = Record(type: .genesis, seq: 0, time: 0)
        genesis.storeId = storeId
        genesis.hashAlgorithm = options.hashAlgorithm
        genesis.encryption = keyring == nil ? EncryptionMode.none : .aes256gcm
        genesis.origin = options.origin
        let created = options.clock()
        genesis.time = created
        let header = SegmentHeader(hashAlgorithm: options.hashAlgorithm, encrypted: keyring != nil, compressed: false,
                                   storeId: storeId, segmentNumber: 0, firstSeq: 0, previousChain: .zero, created: created)
        let encoder = RecordEncoder(algorithm: options.hashAlgorithm, storeId: storeId, keyring: keyring, chain: .zero)
        var bytes = header.encode()
        do throws(FormatError) { try encoder.append(genesis, to: &bytes) } catch { throw StoreError.invalidRecord(error) }
        let stagedSegment = PathUtil.join(PathUtil.join(creatingPath, "segments"), SegmentName.make(firstSeq: 0))
        do {
            let f = try fs.openForWriting(stagedSegment, create: true)
            defer { f.close() }
            try f.truncate(to: 0)
            try f.write(bytes, at: 0)
            try f.sync()
            try fs.syncDirectory(PathUtil.join(creatingPath, "segments"))
            try fs.syncDirectory(creatingPath)
            try fs.rename(PathUtil.join(creatingPath, "segments"), to: layout.segments)
            try fs.syncDirectory(directory)
            if keyring != nil {
                try fs.rename(PathUtil.join(creatingPath, KeyFile.fileName), to: layout.keys)
                try fs.syncDirectory(directory)
            }
            try fs.remove(creatingPath)
        } catch { throw StoreError.io(error) }
        // Now open it like any other store (the lock is still held), with the keys in hand.
        let known = keyFile.flatMap { file in keyring.flatMap { ring in master.map { (file, ring, $0) } } }
        let store = try StoreRecovery(opener: self, lock: lock, knownKeys: known).recover()
        store.openReport.created = true
        return store
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
