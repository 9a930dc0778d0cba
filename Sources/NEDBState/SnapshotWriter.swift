/// Section ids and entry sizes of the state encoding (spec/STATE.md §7).
enum SnapshotLayout {
    static let magic: [UInt8] = Array("NEDBSTA1".utf8)
    static let version: UInt32 = 1
    static let sectionEntry = 24
    static let collectionEntry = 24
    static let documentEntry = 24
    static let versionEntry = 104
    static let seqEntry = 16
    static let edgeEntry = 32
    static let intervalEntry = 16
    static let pairEntry = 16
    static let indexEntry = 56
    static let postingEntry = 24
    static let mapEntry = 24
    static let open = UInt64.max

    // Version flags.
    static let deleted: UInt32 = 1
    static let hasValidFrom: UInt32 = 2
    static let hasValidTo: UInt32 = 4
    static let hasConfidence: UInt32 = 8
    static let hasEvidence: UInt32 = 16
}

/// Encodes a complete state (base and overlay merged) as the checkpoint payload of
/// spec/STATE.md §7: fixed-size sorted tables pointing into one blob, so a reader can
/// binary-search it in place without decoding it.
public enum SnapshotWriter {
    public static func encode(_ state: DatabaseState) throws(StateError) -> [UInt8] {
        var blob = ByteWriter(capacity: 1 << 16)
        var cols = ByteWriter(), docs = ByteWriter(), vers = ByteWriter(), seqs: [(UInt64, UInt32, UInt32)] = []
        var docIndex: UInt32 = 0
        var versionIndex: UInt64 = 0
        var versionCount: UInt64 = 0
        for (ci, name) in try state.collectionNames().enumerated() {
            let ids = try state.ids(collection: name)
            let nameOffset = UInt64(blob.count)
            blob.append(name.utf8)
            cols.u64(nameOffset); cols.u32(UInt32(name.utf8.count)); cols.u32(UInt32(ids.count)); cols.u64(UInt64(docIndex))
            for id in ids {
                let versions = try state.versions(collection: name, id: id)
                let idOffset = UInt64(blob.count)
                blob.append(id.utf8)
                docs.u64(idOffset); docs.u32(UInt32(id.utf8.count)); docs.u32(UInt32(versions.count)); docs.u64(versionIndex)
                for v in versions {
                    var flags: UInt32 = v.deleted ? SnapshotLayout.deleted : 0
                    if v.validFrom != nil { flags |= SnapshotLayout.hasValidFrom }
                    if v.validTo != nil { flags |= SnapshotLayout.hasValidTo }
                    if v.confidence != nil { flags |= SnapshotLayout.hasConfidence }
                    if v.evidence != nil { flags |= SnapshotLayout.hasEvidence }
                    let docOffset = UInt64(blob.count)
                    let doc = v.documentBytes ?? []
                    blob.append(doc)
                    let evidence = Array((v.evidence ?? "").utf8)
                    blob.append(evidence)
                    let causesOffset = UInt64(blob.count)
                    for c in v.causedBy { blob.u64(c) }
                    vers.u64(v.seq); vers.i64(v.time); vers.u32(flags); vers.u32(UInt32(v.causedBy.count))
                    vers.i64(v.validFrom ?? 0); vers.i64(v.validTo ?? 0); vers.f64(v.confidence ?? 0)
                    vers.hash(v.chain)
                    vers.u64(docOffset); vers.u32(UInt32(doc.count)); vers.u32(UInt32(evidence.count)); vers.u64(causesOffset)
                    seqs.append((v.seq, docIndex, UInt32(ci)))
                    versionIndex += 1
                    versionCount += 1
                }
                docIndex += 1
            }
        }
        seqs.sort { $0.0 < $1.0 }
        var seqTable = ByteWriter(capacity: seqs.count * SnapshotLayout.seqEntry)
        for (seq, d, c) in seqs { seqTable.u64(seq); seqTable.u32(d); seqTable.u32(c) }

        // Edges, sorted by (from, relation, to), and a reverse index sorted by (to, relation, from).
        let edgeKeys = try state.allEdgeKeys().sorted()
        var edgeTable = ByteWriter(), intervals = ByteWriter()
        var intervalIndex: UInt64 = 0
        for key in edgeKeys {
            let list = try state.intervals(of: key)
            let offset = UInt64(blob.count)
            blob.append(key.from.utf8); blob.append(key.relation.utf8); blob.append(key.to.utf8)
            edgeTable.u64(offset); edgeTable.u32(UInt32(key.from.utf8.count)); edgeTable.u32(UInt32(key.relation.utf8.count))
            edgeTable.u32(UInt32(key.to.utf8.count)); edgeTable.u32(UInt32(list.count)); edgeTable.u64(intervalIndex)
            for i in list { intervals.u64(i.added); intervals.u64(i.removed ?? SnapshotLayout.open) }
            intervalIndex += UInt64(list.count)
        }
        let reverse = edgeKeys.indices.sorted { a, b in
            let x = edgeKeys[a], y = edgeKeys[b]
            return EdgeKey(from: x.to, relation: x.relation, to: x.from) < EdgeKey(from: y.to, relation: y.relation, to: y.from)
        }
        var reverseTable = ByteWriter()
        for i in reverse { reverseTable.u64(UInt64(i)) }

        // Causes: (cause, effect) pairs.
        var causes = ByteWriter()
        for (cause, effect) in try state.allEffects() { causes.u64(cause); causes.u64(effect) }

        // Index definitions and their postings.
        var indexTable = ByteWriter(), postingTable = ByteWriter()
        var postingIndex: UInt64 = 0
        for def in state.indexes() {
            let id = IndexID(collection: def.collection, field: def.field, kind: def.kind)
            let list = def.droppedSeq == nil ? try state.allPostings(id) : []
            let offset = UInt64(blob.count)
            blob.append(def.collection.utf8); blob.append(def.field.utf8)
            indexTable.u64(offset); indexTable.u32(UInt32(def.collection.utf8.count)); indexTable.u32(UInt32(def.field.utf8.count))
            indexTable.u8(def.kind.rawValue); indexTable.zeros(7)
            indexTable.u64(def.definedSeq); indexTable.u64(def.droppedSeq ?? SnapshotLayout.open)
            indexTable.u64(postingIndex); indexTable.u64(UInt64(list.count))
            for p in list {
                let o = UInt64(blob.count)
                blob.append(p.key); blob.append(p.id.utf8)
                postingTable.u64(o); postingTable.u32(UInt32(p.key.count)); postingTable.u32(UInt32(p.id.utf8.count)); postingTable.u64(p.seq)
            }
            postingIndex += UInt64(list.count)
        }

        // Replay tables, sorted by key bytes.
        func mapTable(_ entries: [(String, UInt64)]) -> ByteWriter {
            var w = ByteWriter()
            for (k, v) in entries.sorted(by: { utf8Less($0.0, $1.0) }) {
                let o = UInt64(blob.count)
                blob.append(k.utf8)
                w.u64(o); w.u32(UInt32(k.utf8.count)); w.u32(0); w.u64(v)
            }
            return w
        }
        let nonceTable = mapTable(state.nonces.map { ($0.key, $0.value) } + (try state.base?.allNonces() ?? []).filter { state.nonces[$0.0] == nil })
        let idemTable = mapTable(try state.allIdempotency())

        var meta = ByteWriter()
        meta.u64(state.lastSeq ?? 0); meta.u64(versionCount); meta.u64(UInt64(docIndex)); meta.u64(UInt64(edgeKeys.count))

        var sections: [(String, [UInt8])] = [
            ("META", meta.bytes), ("COLS", cols.bytes), ("DOCS", docs.bytes), ("VERS", vers.bytes), ("SEQS", seqTable.bytes),
            ("EDGE", edgeTable.bytes), ("EINT", intervals.bytes), ("EREV", reverseTable.bytes), ("CAUS", causes.bytes),
            ("IDXD", indexTable.bytes), ("POST", postingTable.bytes), ("NONC", nonceTable.bytes), ("IDEM", idemTable.bytes),
            ("BLOB", blob.bytes),
        ]
        // Only a pruned log has a history bound: unpruned states encode exactly as before.
        if state.historyFrom > 0 {
            var hist = ByteWriter()
            hist.u64(state.historyFrom)
            sections.append(("HIST", hist.bytes))
        }
        var out = ByteWriter(capacity: sections.reduce(64) { $0 + $1.1.count + SnapshotLayout.sectionEntry })
        out.append(SnapshotLayout.magic)
        out.u32(SnapshotLayout.version)
        out.u32(UInt32(sections.count))
        var offset = UInt64(16 + sections.count * SnapshotLayout.sectionEntry)
        for (id, data) in sections {
            out.ascii(id); out.u32(0); out.u64(offset); out.u64(UInt64(data.count))
            offset += UInt64(data.count)
        }
        for (_, data) in sections { out.append(data) }
        return out.bytes
    }
}

extension DatabaseState {
    /// Every edge key (base and overlay).
    func allEdgeKeys() throws(StateError) -> Set<EdgeKey> {
        var keys = Set(edges.keys)
        if let base { keys.formUnion(try base.allEdgeKeys()) }
        return keys
    }

    /// Every (cause, effect) pair, sorted.
    func allEffects() throws(StateError) -> [(UInt64, UInt64)] {
        var pairs = try base?.allEffects() ?? []
        for (cause, list) in effects { for e in list { pairs.append((cause, e)) } }
        return pairs.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// Every posting of an index, sorted by key, id and seq.
    func allPostings(_ index: IndexID) throws(StateError) -> [(key: [UInt8], id: String, seq: UInt64)] {
        let fromBase = try base?.allPostings(index) ?? []
        let fromOverlay = postings[index]?.allSorted() ?? []
        if fromBase.isEmpty { return fromOverlay }
        return (fromBase + fromOverlay).sorted(by: keyedPostingLess)
    }

    func allIdempotency() throws(StateError) -> [(String, UInt64)] {
        var out = idempotency.map { ($0.key, $0.value) }
        if let base { out.append(contentsOf: try base.allIdempotency().filter { idempotency[$0.0] == nil }) }
        return out
    }
}
