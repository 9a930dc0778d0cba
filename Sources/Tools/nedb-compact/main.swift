import ArgumentParser
import NEDBCLI
import NEDBFormat
import NEDBState
import NEDBStore

/// nedb-compact: rewrites sealed segments to bound disk use without breaking verifiability.
struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-compact",
        abstract: "Merge small sealed segments, recompress, and (only if asked) prune superseded versions.",
        discussion: """
        Record bytes are never changed, so the chain, the Merkle tree, old signed checkpoints and existing proofs stay valid. With --retain-from SEQ, document versions superseded before SEQ are replaced by pruned records that keep their hash (their content is gone; AS OF reads at or after SEQ answer as before), versions named in a caused_by are kept, and a compaction record stating SEQ is appended. The store must be stopped (compaction takes its lock). New segments are written to segments.next/ and switched in atomically: a crash leaves either the old or the new segments.

        Exit codes: 0 done (or nothing to do); 1 the store does not verify, so nothing was done; 2 usage error; 3 I/O or key error.

        Examples:
          nedb-compact ./data --dry-run
          nedb-compact ./data --target-size 64MiB --compress
          nedb-compact ./data --retain-from 1000000 --key-file master.key
        """)

    @Argument(help: "The store directory (stopped).") var directory: String
    @Option(help: "Merge consecutive sealed segments up to this size (bytes, or with KiB/MiB/GiB).") var targetSize: String = "64MiB"
    @Flag(help: "Write every sealed segment zstd-compressed.") var compress = false
    @Option(help: "Prune versions superseded before this seq (destroys their content; hashes are kept).") var retainFrom: UInt64?
    @Flag(help: "Print the plan; change nothing.") var dryRun = false
    @Flag(help: "Machine output.") var json = false
    @OptionGroup var keys: KeyOptions

    var targetBytes: UInt64 {
        let t = targetSize.uppercased()
        for (suffix, shift) in [("KIB", 10), ("MIB", 20), ("GIB", 30), ("K", 10), ("M", 20), ("G", 30)] where t.hasSuffix(suffix) {
            if let n = UInt64(t.dropLast(suffix.count)) { return n << UInt64(shift) }
        }
        return UInt64(t) ?? 0
    }

    func validate() throws {
        if targetBytes == 0 { throw ValidationError("--target-size must be a size such as 64MiB") }
    }

    func run() throws {
        let fs = PosixFileSystem()
        var storeOptions = StoreOptions()
        storeOptions.key = keys.source
        storeOptions.create = false
        // A dry run opens read-only and changes nothing (no recovery, no sealing). Otherwise:
        // recovery first (a torn tail is truncated), then hold the lock for the whole rewrite.
        var openOptions = storeOptions
        openOptions.readOnly = dryRun
        let store: LogStore
        do { store = try LogStore.open(directory, options: openOptions) } catch {
            throw ToolFailure(error.id == "locked" ? .environment : .problem, error.description)
        }
        let encrypted = store.encrypted, keyring = store.dataKeys
        let before = VerifyOptions(mode: .quick)
        let check = StoreVerifier.verify(directory: directory, fs: fs, options: before)
        guard check.issues.allSatisfy({ $0.verdict == .derived }) else {
            try? store.close()
            throw ToolFailure(.problem, "the store does not verify; run nedb-verify / nedb-repair first:\n" + check.issues.map(ReportJSON.line).joined(separator: "\n"))
        }
        if retainFrom != nil && encrypted && keyring == nil {
            try? store.close()
            throw ToolFailure(.environment, "pruning an encrypted store needs its key (documents must be read)")
        }
        // Plan the pruning while the store is open, and log the compaction record first, so the
        // pruned records are always covered by a declared retention point.
        var prune = Set<UInt64>()
        if let retainFrom {
            prune = try planPruning(store: store, retainFrom: min(retainFrom, store.lastSeq))
            if !prune.isEmpty && !dryRun {
                var marker = Record(type: .compaction, seq: 0, time: 0)
                marker.retentionSeq = min(retainFrom, store.lastSeq)
                marker.prunedCount = UInt64(prune.count)
                try store.append(marker, durability: .always)
            }
        }
        let sealedBefore = store.segments
        if dryRun {
            // Every segment, the active one included, is what a real run would rewrite.
            try store.close()
            let layout = StoreLayout(root: directory)
            let names: [String]
            do { names = try layout.segmentNames(fs: fs) } catch { throw ToolFailure(.environment, error.description) }
            describe(groups: try plan(names: names, fs: fs, layout: layout), pruned: prune.count, segmentsBefore: sealedBefore.count)
            return
        }
        try store.rotate()       // the active segment is sealed too, so every segment can be rewritten
        try store.close()
        let layout = StoreLayout(root: directory)
        let lock: FileLock
        do { lock = try fs.lock(layout.lock, owner: "nedb-compact") } catch { throw ToolFailure(.environment, "the store is in use: \(error)") }
        defer { lock.release() }
        let names: [String]
        do { names = try layout.segmentNames(fs: fs) } catch { throw ToolFailure(.environment, error.description) }
        let sealedNames = Array(names.dropLast())      // the new empty active segment stays as it is
        let groups = try plan(names: sealedNames, fs: fs, layout: layout)
        let bytesBefore = names.reduce(UInt64(0)) { $0 + ((try? fs.openForReading(PathUtil.join(layout.segments, $1)).size()) ?? 0) }
        describe(groups: groups, pruned: prune.count, segmentsBefore: sealedBefore.count)
        guard let activeName = names.last else { throw ToolFailure(.environment, "\(layout.segments): no segments after sealing") }
        try rewrite(groups: groups, activeName: activeName, prune: prune, layout: layout, fs: fs)
        // Remove checkpoints that no longer match a replay (pruning changed history).
        if !prune.isEmpty { for name in layout.checkpointNames(fs: fs) { try? fs.remove(PathUtil.join(layout.checkpoints, name)) } }
        lock.release()
        do { try LogStore.open(directory, options: storeOptions).close() } catch { throw ToolFailure(.environment, error.description) }
        var after = VerifyOptions()
        after.keyring = keyring
        let report = StoreVerifier.verify(directory: directory, fs: fs, options: after)
        let bytesAfter = report.bytes
        if json {
            Output.json(.object(["ok": .bool(report.ok), "segments_before": .number(Double(names.count)),
                                 "segments_after": .number(Double(report.segments.count)), "bytes_before": .number(Double(bytesBefore)),
                                 "bytes_after": .number(Double(bytesAfter)), "pruned": .number(Double(prune.count)),
                                 "issues": .array(report.issues.map(ReportJSON.issue))]))
        } else {
            Output.line("compacted: \(names.count) → \(report.segments.count) segments, \(bytesBefore) → \(bytesAfter) bytes, \(prune.count) versions pruned; \(report.ok ? "the store verifies" : "VERIFY FAILED")")
        }
        if !report.ok { throw ExitCode(ToolExit.problem.rawValue) }
    }

    /// Versions superseded before `retainFrom` that nothing names as a cause.
    func planPruning(store: LogStore, retainFrom: UInt64) throws -> Set<UInt64> {
        var latest: [String: UInt64] = [:]
        var candidates: [UInt64] = []
        var causes = Set<UInt64>()
        try store.scan(from: 0, through: store.lastSeq) { r in
            causes.formUnion(r.causedBy)
            guard r.seq < retainFrom, r.type == .put || r.type == .delete, let key = r.key else { return true }
            if let previous = latest[key] { candidates.append(previous) }
            latest[key] = r.seq
            return true
        }
        return Set(candidates.filter { !causes.contains($0) })
    }

    struct Group { var names: [String]; var bytes: UInt64 }

    func plan(names: [String], fs: FileSystem, layout: StoreLayout) throws -> [Group] {
        var groups: [Group] = []
        for name in names {
            let size = (try? fs.openForReading(PathUtil.join(layout.segments, name)).size()) ?? 0
            if var last = groups.last, last.bytes + size <= targetBytes {
                last.names.append(name)
                last.bytes += size
                groups[groups.count - 1] = last
            } else {
                groups.append(Group(names: [name], bytes: size))
            }
        }
        return groups
    }

    func describe(groups: [Group], pruned: Int, segmentsBefore: Int) {
        if json && dryRun {
            Output.json(.object(["dry_run": true, "groups": .array(groups.map { .array($0.names.map { .string($0) }) }),
                                 "prune": .number(Double(pruned))]))
            return
        }
        guard !json else { return }
        for g in groups where g.names.count > 1 { Output.line("merge \(g.names.count) segments (\(g.bytes) bytes): \(g.names.first!) … \(g.names.last!)") }
        if compress { Output.line("write every sealed segment compressed") }
        if pruned > 0 { Output.line("prune \(pruned) superseded versions (their hashes stay; their content is removed)") }
        if dryRun { Output.line("dry run: nothing changed") }
    }

    /// Writes the new segments into segments.next, then switches them in (spec/FORMAT.md §1).
    func rewrite(groups: [Group], activeName: String, prune: Set<UInt64>, layout: StoreLayout, fs: FileSystem) throws {
        let next = layout.segmentsNext
        do {
            if fs.exists(next) { try fs.remove(next) }
            try fs.createDirectory(next)
            var frontier: CompactRange? = nil
            var previousChain = Hash32.zero
            var number: UInt64 = 0
            for group in groups {
                var accumulator: SegmentAccumulator? = nil
                var frames: [UInt8] = []
                for name in group.names {
                    let segment = try SegmentFile.open(fs: fs, path: PathUtil.join(layout.segments, name))
                    if accumulator == nil {
                        var header = segment.header
                        header.segmentNumber = number
                        header.compressed = false
                        header.previousChain = previousChain
                        accumulator = SegmentAccumulator(header: header, frontier: frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm)))
                    }
                    var scanner = segment.scanner()
                    while let event = try scanner.next() {
                        guard case let .record(frame) = event else { throw ToolFailure(.problem, "\(name) is damaged") }
                        var bytes = frame.frameBytes
                        if prune.contains(frame.seq) && frame.view.type != .pruned {
                            bytes = prunedFrame(frame)
                        }
                        frames.append(contentsOf: bytes)
                        accumulator!.add(frameLength: bytes.count, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
                    }
                }
                guard var acc = accumulator else { continue }
                let name = SegmentName.make(firstSeq: acc.header.firstSeq)
                var file: [UInt8]
                if compress {
                    file = try SegmentCompressor.compress(frames: frames, accumulator: acc)
                } else {
                    file = acc.header.encode() + frames
                    file += acc.footer().encode(dataEnd: UInt64(file.count))
                }
                try fs.writeAtomically(file, to: PathUtil.join(next, name))
                frontier = acc.frontier()
                previousChain = acc.chain
                number += 1
            }
            // The (empty) active segment, renumbered.
            let active = try SegmentFile.open(fs: fs, path: PathUtil.join(layout.segments, activeName))
            var header = active.header
            header.segmentNumber = number
            header.previousChain = previousChain
            let rest = try active.read(at: UInt64(active.header.headerLength), count: Int(active.size) - Int(active.header.headerLength))
            try fs.writeAtomically(header.encode() + rest, to: PathUtil.join(next, activeName))
            try fs.writeAtomically([], to: PathUtil.join(next, StoreLayout.completeMarker))
            try fs.syncDirectory(next)
            // The switch: two renames; an interrupted switch is completed at the next open.
            try fs.rename(layout.segments, to: layout.segmentsOld)
            try fs.rename(next, to: layout.segments)
            try fs.syncDirectory(directory)
            try fs.remove(PathUtil.join(layout.segments, StoreLayout.completeMarker))
            try fs.remove(layout.segmentsOld)
            try? fs.remove(layout.manifest)
        } catch let e as ToolFailure {
            throw e
        } catch {
            throw ToolFailure(.environment, "compaction failed (the old segments are untouched until the switch): \(error)")
        }
    }

    /// A pruned record: same seq, time and chain hash, content removed (spec/FORMAT.md §3.7).
    func prunedFrame(_ frame: ScannedFrame) -> [UInt8] {
        var r = Record(type: .pruned, seq: frame.seq, time: frame.time)
        r.prunedType = frame.view.type
        var body = ByteWriter()
        body.u64(r.seq); body.i64(r.time)
        body.u8(FieldTag.prunedType.rawValue); body.uvarint(1); body.u8(frame.view.type.rawValue)
        var out = ByteWriter()
        out.u32(UInt32(body.count + 1)); out.u32(0); out.u8(RecordType.pruned.rawValue); out.append(body.bytes)
        out.hash(frame.view.storedChain)
        var bytes = out.bytes
        let crc = bytes.withUnsafeBytes { Frame.crc32(frame: $0) }
        bytes.replaceSubrange(4..<8, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        return bytes
    }
}

Compact.runAsTool()
