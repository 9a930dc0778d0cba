/// Checks every pruned record against the pruning rule (spec/FORMAT.md §3.7): it names the
/// compaction record that pruned it, that record commits to exactly the set of seqs pruned in its
/// name, and the record it names as superseding it is a later version of the same document that
/// hides it at every instant, below the retention point.
struct PruningCheck {
    struct Compaction {
        var record: Record
        var at: Location
    }

    var pruned: [(record: Record, at: Location)]
    var compactions: [Compaction]
    var storeId: StoreID
    var encrypted: Bool
    var keyring: Keyring?

    /// Problems (`malformed`) and notes (what could not be checked, and why).
    func run(lookup: (Set<UInt64>) -> [UInt64: Record]) -> (issues: [FormatError], notes: [FormatError]) {
        var issues: [FormatError] = []
        var notes: [FormatError] = []
        let bySeq = Dictionary(compactions.map { ($0.record.seq, $0) }, uniquingKeysWith: { a, _ in a })
        // Legacy pruned records (pruned_type only) are covered by a retention point of a compaction
        // record written before pruned_set existed; nothing more can be checked of them.
        let legacyRetention = compactions.filter { $0.record.prunedSet == nil }.compactMap(\.record.retentionSeq).max()
        var legacy: [(record: Record, at: Location)] = []
        var named: [UInt64: [UInt64]] = [:]
        var firstNamed: [UInt64: Location] = [:]
        for (p, at) in pruned {
            guard let by = p.prunedBy else {
                if let r = legacyRetention, p.seq <= r { legacy.append((p, at)) } else {
                    issues.append(.malformed(at, detail: "record \(p.seq) is pruned but no compaction record declares a retention point at or after it"))
                }
                continue
            }
            named[by, default: []].append(p.seq)
            if firstNamed[by] == nil { firstNamed[by] = at }
            guard let c = bySeq[by], let retention = c.record.retentionSeq, c.record.prunedSet != nil else {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) names record \(by) as the compaction that pruned it, which is not a compaction record with a pruned set"))
                continue
            }
            if let s = p.supersededBy, s >= retention {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) is superseded by seq \(s), not below the retention point \(retention) of compaction record \(by)"))
            }
        }
        // Each compaction record commits to the seqs pruned in its name: all of them or none (a
        // compaction interrupted before its switch pruned nothing).
        for c in compactions {
            guard let set = c.record.prunedSet else { continue }
            let seqs = named[c.record.seq] ?? []
            if seqs.isEmpty { continue }
            if UInt64(seqs.count) != c.record.prunedCount || KeyDerivation.prunedSet(seqs) != set {
                issues.append(.malformed(firstNamed[c.record.seq] ?? c.at, detail: "\(seqs.count) records are pruned in the name of compaction record \(c.record.seq), which commits to another set (\(c.record.prunedCount ?? 0) records, pruned_set \(set.hex)): a record was pruned that it did not prune"))
            }
        }
        if !legacy.isEmpty {
            notes.append(.malformed(legacy[0].at, detail: "\(legacy.count) pruned records have the legacy form (pruned_type only, written before FORMAT 1.1): that they held superseded versions cannot be checked"))
        }
        // The superseding records: a later version of the same document that hides it.
        let prunedBySeq = Dictionary(pruned.map { ($0.record.seq, $0.record) }, uniquingKeysWith: { a, _ in a })
        let wanted = Set(pruned.compactMap(\.record.supersededBy)).subtracting(prunedBySeq.keys)
        let found = wanted.isEmpty ? [:] : lookup(wanted)
        let digestKey = KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: encrypted, keyring: keyring)
        var unreadable = 0
        for (p, at) in pruned {
            guard let s = p.supersededBy, let digest = p.keyDigest else { continue }
            if let q = prunedBySeq[s] {
                guard q.prunedBy != nil else { unreadable += 1; continue }
                let hides = q.prunedType == .delete || (q.prunedFlags ?? 0) & 1 != 0
                if q.keyDigest != digest || !hides {
                    issues.append(.malformed(at, detail: "pruned record \(p.seq) names pruned record \(s) as superseding it, which \(q.keyDigest != digest ? "was a version of another document" : "did not hide it at every instant")"))
                }
                continue
            }
            guard let r = found[s] else {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) names seq \(s) as superseding it, which the log does not hold"))
                continue
            }
            guard r.type == .put || r.type == .delete else {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) names record \(s), a \(r.type) record, as superseding it"))
                continue
            }
            guard !r.isSealed, let key = digestKey, let collection = r.collection, let id = r.id else { unreadable += 1; continue }
            if KeyDerivation.prunedKeyDigest(key: key, collection: collection, id: id) != digest {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) names record \(s) (\(collection):\(id)) as superseding it, but it was a version of another document"))
            } else if r.type == .put && (r.validFrom != nil || r.validTo != nil) {
                issues.append(.malformed(at, detail: "pruned record \(p.seq) names record \(s) as superseding it, but that put has a valid time and does not hide it at every instant"))
            }
        }
        if unreadable > 0, let first = pruned.first {
            notes.append(.malformed(first.at, detail: "for \(unreadable) pruned records the superseding record could not be read (sealed: give the key) or is itself of the legacy form: only their order and commitment were checked"))
        }
        return (issues, notes)
    }
}
