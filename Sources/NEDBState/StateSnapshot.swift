/// A checkpoint's state, read in place (spec/STATE.md §7): tables are binary-searched in the
/// (memory-mapped) file and every page is checked against its hash the first time it is read.
/// Opening costs O(number of pages) hash comparisons, not a decode of the history.
public final class StateSnapshot: @unchecked Sendable {
    /// The seq the checkpoint includes (every record ≤ seq).
    public private(set) var seq: UInt64 = 0
    /// Reads before this seq are refused: compaction pruned history below it (section `HIST`).
    public private(set) var historyFrom: UInt64 = 0
    /// The checkpoint file it was read from.
    public let source: String?
    let bytes: MappedBytes
    /// Offset of the payload in `bytes`.
    let base: Int
    let length: Int
    let check: (Int, Int) throws(FormatError) -> Void
    var sections: [String: (offset: Int, length: Int)] = [:]
    var collections: [(name: String, count: Int, first: Int)] = []
    var definitions: [(definition: IndexDefinition, first: Int, count: Int)] = []

    /// Reads a plain (unencrypted, uncompressed) checkpoint lazily.
    public convenience init(file: CheckpointFile) throws(StateError) {
        guard !file.header.encrypted && !file.header.compressed else {
            throw .checkpoint(.malformed(Location(file: file.file), detail: "encrypted or compressed checkpoints are opened with `decoded`"))
        }
        try self.init(bytes: file.bytes, base: CheckpointHeader.length, length: file.payloadLength, source: file.file) { (o, n) throws(FormatError) in
            try file.verify(payloadOffset: o, count: n)
        }
    }

    /// Reads a decoded payload held in memory (already verified as a whole).
    public convenience init(payload: [UInt8], source: String? = nil) throws(StateError) {
        try self.init(bytes: MappedBytes(bytes: payload), base: 0, length: payload.count, source: source) { (_, _) throws(FormatError) in }
    }

    init(bytes: MappedBytes, base: Int, length: Int, source: String?, check: @escaping (Int, Int) throws(FormatError) -> Void) throws(StateError) {
        self.source = source
        self.bytes = bytes
        self.base = base
        self.length = length
        self.check = check
        do {
            try check(0, min(length, 16))
            let head = bytes.slice(base, 16)
            guard head.count == 16, Array(head[0..<8]) == SnapshotLayout.magic else {
                throw FormatError.malformed(Location(), detail: "checkpoint payload is not a NEDB state encoding")
            }
            var r = ByteReader(head, start: 8)
            let version = try r.u32()
            guard version == SnapshotLayout.version else {
                throw FormatError.unsupportedVersion(Location(), what: "state encoding", found: UInt16(truncatingIfNeeded: version), supported: 1)
            }
            let count = Int(try r.u32())
            guard count < 64 else { throw FormatError.malformed(Location(), detail: "too many state sections") }
            try check(16, count * SnapshotLayout.sectionEntry)
            let table = bytes.slice(base + 16, count * SnapshotLayout.sectionEntry)
            var t = ByteReader(table)
            var found: [String: (Int, Int)] = [:]
            for _ in 0..<count {
                let id = String(decoding: try t.bytes(4), as: UTF8.self)
                try t.skip(4)
                let offset = try t.u64(), len = try t.u64()
                guard offset <= UInt64(length), len <= UInt64(length) - offset else {
                    throw FormatError.malformed(Location(), detail: "state section \(id) lies outside the payload")
                }
                found[id] = (Int(offset), Int(len))
            }
            for required in ["META", "COLS", "DOCS", "VERS", "SEQS", "EDGE", "EINT", "EREV", "CAUS", "IDXD", "POST", "NONC", "IDEM", "BLOB"]
            where found[required] == nil {
                throw FormatError.malformed(Location(), detail: "state encoding lacks section \(required)")
            }
            sections = found
        } catch let e as FormatError {
            throw .checkpoint(e)
        } catch {
            throw .checkpoint(.malformed(Location(), detail: "\(error)"))
        }
        // Small tables are read at once: metadata, collections, index definitions.
        let meta = try readSection("META")
        let metaSeq = try Entry.u64(meta, 0)
        let cols = try readSection("COLS")
        var colList: [(String, Int, Int)] = []
        for i in 0..<(cols.count / SnapshotLayout.collectionEntry) {
            let o = i * SnapshotLayout.collectionEntry
            let name = try string(try Entry.int(cols, o), Int(try Entry.u32(cols, o + 8)))
            colList.append((name, Int(try Entry.u32(cols, o + 12)), try Entry.int(cols, o + 16)))
        }
        let idxd = try readSection("IDXD")
        var defs: [(IndexDefinition, Int, Int)] = []
        for i in 0..<(idxd.count / SnapshotLayout.indexEntry) {
            let o = i * SnapshotLayout.indexEntry
            let off = try Entry.int(idxd, o), cl = Int(try Entry.u32(idxd, o + 8)), fl = Int(try Entry.u32(idxd, o + 12))
            let both = try blob(off, cl + fl)
            guard let kind = IndexKind(rawValue: idxd[o + 16]) else {
                throw .checkpoint(.malformed(Location(), detail: "unknown index kind in checkpoint"))
            }
            let dropped = try Entry.u64(idxd, o + 32)
            let def = IndexDefinition(collection: String(decoding: both[0..<cl], as: UTF8.self),
                                      field: String(decoding: both[cl...], as: UTF8.self), kind: kind,
                                      definedSeq: try Entry.u64(idxd, o + 24),
                                      droppedSeq: dropped == SnapshotLayout.open ? nil : dropped)
            defs.append((def, try Entry.int(idxd, o + 40), try Entry.int(idxd, o + 48)))
        }
        // Ranges into the document and posting tables must lie inside them.
        let docs = bytes.count > 0 ? (sections["DOCS"]?.length ?? 0) / SnapshotLayout.documentEntry : 0
        let posts = (sections["POST"]?.length ?? 0) / SnapshotLayout.postingEntry
        for c in colList where c.1 < 0 || c.2 < 0 || c.2 > docs || c.1 > docs - c.2 {
            throw .checkpoint(.malformed(Location(), detail: "collection \(c.0) names documents \(c.2)…+\(c.1) of a table of \(docs)"))
        }
        for d in defs where d.1 < 0 || d.2 < 0 || d.1 > posts || d.2 > posts - d.1 {
            throw .checkpoint(.malformed(Location(), detail: "index \(d.0.collection).\(d.0.field) names postings \(d.1)…+\(d.2) of a table of \(posts)"))
        }
        seq = metaSeq
        if sections["HIST"] != nil {
            let hist = try readSection("HIST")
            guard hist.count == 8 else { throw .checkpoint(.malformed(Location(), detail: "state section HIST must be 8 bytes, found \(hist.count)")) }
            historyFrom = try Entry.u64(hist, 0)
        }
        collections = colList
        definitions = defs
    }

    // MARK: Raw access

    func section(_ id: String) -> (offset: Int, length: Int) { sections[id] ?? (0, 0) }

    /// Bytes [offset, offset+count) of the payload, checked.
    func read(_ offset: Int, _ count: Int) throws(StateError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset + count <= length else {
            throw .checkpoint(.malformed(Location(), detail: "checkpoint read out of range"))
        }
        do { try check(offset, count) } catch { throw .checkpoint(error) }
        return bytes.slice(base + offset, count)
    }

    func readSection(_ id: String) throws(StateError) -> [UInt8] {
        let s = section(id)
        return try read(s.offset, s.length)
    }

    /// Entry `index` of a fixed-size table.
    func entry(_ id: String, _ index: Int, _ size: Int) throws(StateError) -> [UInt8] {
        let s = section(id)
        guard index >= 0, (index + 1) * size <= s.length else {
            throw .checkpoint(.malformed(Location(), detail: "\(id) entry \(index) out of range"))
        }
        return try read(s.offset + index * size, size)
    }

    func count(_ id: String, _ size: Int) -> Int { section(id).length / size }

    func blob(_ offset: Int, _ count: Int) throws(StateError) -> [UInt8] {
        let s = section("BLOB")
        guard offset >= 0, count >= 0, offset + count <= s.length else {
            throw .checkpoint(.malformed(Location(), detail: "blob reference out of range"))
        }
        return try read(s.offset + offset, count)
    }

    func string(_ offset: Int, _ count: Int) throws(StateError) -> String {
        String(decoding: try blob(offset, count), as: UTF8.self)
    }

    /// Binary search over `count` entries: the first index whose key is not less than `key`.
    func lowerBound(_ count: Int, _ key: [UInt8], _ keyAt: (Int) throws(StateError) -> [UInt8]) throws(StateError) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ValueOrder.compareBytes(try keyAt(mid), key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// Fixed-offset reads inside checkpoint entries (`littleEndianU32/U64`): a short entry is damage
/// of the checkpoint, never a made-up 0.
enum Entry {
    static func u64(_ b: [UInt8], _ o: Int) throws(StateError) -> UInt64 {
        guard let v = b.littleEndianU64(at: o) else { throw .checkpoint(.malformed(Location(), detail: "checkpoint entry too short")) }
        return v
    }

    static func u32(_ b: [UInt8], _ o: Int) throws(StateError) -> UInt32 {
        guard let v = b.littleEndianU32(at: o) else { throw .checkpoint(.malformed(Location(), detail: "checkpoint entry too short")) }
        return v
    }

    /// A u64 offset or count as an Int, clamped to 2^48: anything that large lies outside every
    /// payload (bounds checks reject it), and sums of two such values cannot overflow.
    static func int(_ b: [UInt8], _ o: Int) throws(StateError) -> Int { Int(min(try u64(b, o), 1 << 48)) }
}
