import NEDBStore
import NEDBState

/// Compaction (nedb-compact): merges small sealed segments, optionally compresses them and
/// prunes superseded versions, without changing any record's chain hash — so the chain, the
/// Merkle tree, old signed checkpoints and old proofs stay valid. The store's lock is held from
/// before it is opened until after it was reopened and verified.
public enum Compaction {
    public struct Options: Sendable {
        /// Merge consecutive sealed segments up to this many bytes.
        public var targetSegmentBytes: UInt64 = 64 << 20
        /// Write every sealed segment zstd-compressed.
        public var compress = false
        /// Prune versions superseded before this seq (their content goes, their hash stays).
        public var retainFrom: UInt64?
        public var key: KeySource?
        public var fileSystem: FileSystem = PosixFileSystem()
        public init() {}
    }

    /// What a run would do.
    public struct Plan: Sendable {
        /// Consecutive sealed segment files written as one, with their total size.
        public var groups: [(names: [String], bytes: UInt64)]
        /// Versions pruning would remove.
        public var pruned: Int
        public var segmentsBefore: Int
    }

    public struct Result: Sendable {
        public var segmentsBefore: Int
        public var segmentsAfter: Int
        public var bytesBefore: UInt64
        public var bytesAfter: UInt64
        public var pruned: Int
        /// Full verification of the compacted store.
        public var verification: VerifyReport
    }

    /// The plan, from a read-only open: nothing is changed (not even recovered).
    public static func plan(_ directory: String, options: Options) throws(MaintenanceError) -> Plan {
        do {
            var so = storeOptions(options)
            so.readOnly = true
            let store = try LogStore.open(directory, options: so)
            try requireVerified(directory, fs: options.fileSystem)
            if options.retainFrom != nil && store.encrypted && store.dataKeys == nil {
                throw MaintenanceError.keyRequired("pruning an encrypted store needs its key (documents must be read)")
            }
            let prune = try options.retainFrom.map { try planPruning(store: store, retainFrom: min($0, store.lastSeq)) } ?? [:]
            let names = try StoreLayout(root: directory).segmentNames(fs: options.fileSystem)
            return Plan(groups: try group(names, options: options, layout: StoreLayout(root: directory)), pruned: prune.count,
                        segmentsBefore: names.count)
        } catch {
            throw MaintenanceError.wrap(error)
        }
    }

    /// Compacts the store, holding its lock throughout; verifies the result.
    public static func run(_ directory: String, options: Options) throws(MaintenanceError) -> Result {
        let fs = options.fileSystem
        let layout = StoreLayout(root: directory)
        do {
            let holder = try StoreLockHolder.acquire(directory, fileSystem: fs, key: options.key)
            defer { holder.release() }
            // Recovery first (a torn tail is truncated; damage refuses the open).
            let store = try holder.open(options: storeOptions(options))
            do {
                try requireVerified(directory, fs: fs)
            } catch {
                try? store.close()
                throw error
            }
            let keyring = store.dataKeys
            if options.retainFrom != nil && store.encrypted && keyring == nil {
                try? store.close()
                throw MaintenanceError.keyRequired("pruning an encrypted store needs its key (documents must be read)")
            }
            // Plan the pruning while the store is open, and log the compaction record first, so
            // the pruned records are always covered by a declared retention point.
            var prune: [UInt64: PrunedVersion] = [:]
            var compactionSeq: UInt64 = 0
            if let retainFrom = options.retainFrom {
                let retention = min(retainFrom, store.lastSeq)
                prune = try planPruning(store: store, retainFrom: retention)
                if !prune.isEmpty {
                    // The record commits to the exact set it prunes: no record can be pruned later
                    // in its name (spec/FORMAT.md §3.7).
                    var marker = Record(type: .compaction, seq: 0, time: 0)
                    marker.retentionSeq = retention
                    marker.prunedCount = UInt64(prune.count)
                    marker.prunedSet = KeyDerivation.prunedSet(Array(prune.keys))
                    compactionSeq = try store.append(marker, durability: .always).lastSeq ?? 0
                }
            }
            try store.rotate()      // the active segment is sealed too, so every segment can be rewritten
            try store.close()       // the lock stays held
            let names = try layout.segmentNames(fs: fs)
            let bytesBefore = names.reduce(UInt64(0)) { $0 + fs.sizeOrZero(PathUtil.join(layout.segments, $1)) }
            guard let activeName = names.last else { throw MaintenanceError.failed("\(layout.segments): no segments after sealing") }
            let groups = try group(Array(names.dropLast()), options: options, layout: layout)
            try rewrite(groups: groups, activeName: activeName, prune: prune, prunedBy: compactionSeq, compress: options.compress,
                        layout: layout, fs: fs)
            // Checkpoints no longer match a replay once history was pruned: derived, dropped.
            if !prune.isEmpty { for name in layout.checkpointNames(fs: fs) { try? fs.remove(PathUtil.join(layout.checkpoints, name)) } }
            // Reopening rewrites the manifest (its next generation) and the REPLAY index.
            try holder.open(options: storeOptions(options)).close()
            var vo = VerifyOptions()
            vo.keyring = keyring
            let report = StoreVerifier.verify(directory: directory, fs: fs, options: vo)
            return Result(segmentsBefore: names.count, segmentsAfter: report.segments.count, bytesBefore: bytesBefore,
                          bytesAfter: report.bytes, pruned: prune.count, verification: report)
        } catch {
            throw MaintenanceError.wrap(error)
        }
    }

    static func storeOptions(_ options: Options) -> StoreOptions {
        var so = StoreOptions()
        so.key = options.key
        so.create = false
        so.fileSystem = options.fileSystem
        return so
    }

    /// Compaction rewrites only a store that verifies (derived files may be stale).
    static func requireVerified(_ directory: String, fs: FileSystem) throws(MaintenanceError) {
        let check = StoreVerifier.verify(directory: directory, fs: fs, options: VerifyOptions(mode: .quick))
        let serious = check.issues.filter { $0.verdict != .derived }
        if !serious.isEmpty { throw .doesNotVerify(serious) }
    }

    /// What a pruned record keeps of the version it replaces (spec/FORMAT.md §3.7).
    struct PrunedVersion: Sendable {
        var supersededBy: UInt64
        var keyDigest: Hash32
        /// A put without valid time (it hid every earlier version at every instant).
        var unbounded: Bool
    }

    /// The versions pruning removes (spec/FORMAT.md §3.7.1): a put or delete of a document that a
    /// later record of the same document below `retainFrom` hides at every instant (a delete, or a
    /// put without valid time), and that no record names as a cause.
    static func planPruning(store: LogStore, retainFrom: UInt64) throws -> [UInt64: PrunedVersion] {
        guard let digestKey = KeyDerivation.prunedDigestKey(storeId: store.storeId, encrypted: store.encrypted, keyring: store.dataKeys) else {
            throw MaintenanceError.keyRequired("pruning an encrypted store needs its key (documents must be read)")
        }
        /// Versions of each document not yet hidden by a later one.
        var pending: [String: [(seq: UInt64, unbounded: Bool, digest: Hash32)]] = [:]
        var candidates: [UInt64: PrunedVersion] = [:]
        var causes = Set<UInt64>()
        try store.scan(from: 0, through: store.lastSeq) { r in
            causes.formUnion(r.causedBy)
            guard r.seq < retainFrom, r.type == .put || r.type == .delete, let collection = r.collection, let id = r.id else { return true }
            let key = "\(collection):\(id)"
            let digest = KeyDerivation.prunedKeyDigest(key: digestKey, collection: collection, id: id)
            let unbounded = r.type == .put && r.validFrom == nil && r.validTo == nil
            if r.type == .delete || unbounded {
                for v in pending[key] ?? [] {
                    candidates[v.seq] = PrunedVersion(supersededBy: r.seq, keyDigest: v.digest, unbounded: v.unbounded)
                }
                pending[key] = []
            }
            pending[key, default: []].append((r.seq, unbounded, digest))
            return true
        }
        return candidates.filter { !causes.contains($0.key) }
    }

    static func group(_ names: [String], options: Options, layout: StoreLayout) throws -> [(names: [String], bytes: UInt64)] {
        var groups: [(names: [String], bytes: UInt64)] = []
        for name in names {
            let bytes = options.fileSystem.sizeOrZero(PathUtil.join(layout.segments, name))
            if let last = groups.last, last.bytes + bytes <= options.targetSegmentBytes {
                groups[groups.count - 1] = (last.names + [name], last.bytes + bytes)
            } else {
                groups.append(([name], bytes))
            }
        }
        return groups
    }

    /// Writes the new segments into segments.next, then switches them in (spec/FORMAT.md §1).
    static func rewrite(groups: [(names: [String], bytes: UInt64)], activeName: String, prune: [UInt64: PrunedVersion],
                        prunedBy: UInt64, compress: Bool, layout: StoreLayout, fs: FileSystem) throws {
        let next = layout.segmentsNext
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
                    guard case let .record(frame) = event, var acc = accumulator else {
                        throw MaintenanceError.failed("\(name) is damaged (it verified a moment ago): nothing was switched in")
                    }
                    var bytes = frame.frameBytes
                    if let version = prune[frame.seq], frame.view.type != .pruned {
                        bytes = try prunedFrame(frame, version: version, prunedBy: prunedBy)
                    }
                    frames.append(contentsOf: bytes)
                    acc.add(frameLength: bytes.count, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
                    accumulator = acc
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
        try fs.syncDirectory(layout.root)
        try fs.remove(PathUtil.join(layout.segments, StoreLayout.completeMarker))
        try fs.remove(layout.segmentsOld)
    }

    /// A pruned record: same seq, time, transaction mark and chain hash; the content replaced by
    /// what lets a verifier check the pruning rule (spec/FORMAT.md §3.7).
    static func prunedFrame(_ frame: ScannedFrame, version: PrunedVersion, prunedBy: UInt64) throws -> [UInt8] {
        let original = try frame.decode(file: nil, options: RecordCodec.Options(checkCanonicalDocuments: false))
        var pruned = Record(type: .pruned, seq: frame.seq, time: frame.time)
        pruned.prunedType = frame.view.type
        pruned.transaction = original.transaction
        pruned.supersededBy = version.supersededBy
        pruned.prunedBy = prunedBy
        pruned.keyDigest = version.keyDigest
        pruned.prunedFlags = version.unbounded ? 1 : nil
        try RecordCodec.validateForWriting(pruned)
        let body = RecordCodec.encodeBody(pruned)
        var out = ByteWriter()
        out.u32(UInt32(body.count + 1)); out.u32(0); out.u8(RecordType.pruned.rawValue); out.append(body)
        out.hash(frame.view.storedChain)
        var bytes = out.bytes
        let crc = bytes.withUnsafeBytes { Frame.crc32(frame: $0) }
        bytes.replaceSubrange(4..<8, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        return bytes
    }
}
