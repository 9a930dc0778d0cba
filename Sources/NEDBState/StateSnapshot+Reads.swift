extension StateSnapshot {
    // MARK: Documents

    /// The directory index range of a collection.
    func collectionRange(_ name: String) -> (first: Int, count: Int)? {
        var lo = 0, hi = collections.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if utf8Less(collections[mid].name, name) { lo = mid + 1 } else { hi = mid }
        }
        guard lo < collections.count, collections[lo].name == name else { return nil }
        return (collections[lo].first, collections[lo].count)
    }

    func documentEntry(_ index: Int) throws(StateError) -> (id: [UInt8], versions: Int, firstVersion: Int) {
        let e = try entry("DOCS", index, SnapshotLayout.documentEntry)
        let id = try blob(try Entry.int(e, 0), Int(try Entry.u32(e, 8)))
        let versions = Int(try Entry.u32(e, 12)), first = try Entry.int(e, 16)
        // The versions must lie in the version table (a forged count would make reads allocate
        // for billions of versions).
        let table = count("VERS", SnapshotLayout.versionEntry)
        guard first <= table, versions <= table - first else {
            throw .checkpoint(.malformed(Location(), detail: "document \(index) names versions \(first)…+\(versions) of a table of \(table)"))
        }
        return (id, versions, first)
    }

    func findDocument(collection: String, id: String) throws(StateError) -> Int? {
        guard let range = collectionRange(collection) else { return nil }
        let key = Array(id.utf8)
        let i = try lowerBound(range.count, key) { (j) throws(StateError) -> [UInt8] in try documentEntry(range.first + j).id }
        guard i < range.count, try documentEntry(range.first + i).id == key else { return nil }
        return range.first + i
    }

    public func hasDocument(collection: String, id: String) throws(StateError) -> Bool {
        try findDocument(collection: collection, id: id) != nil
    }

    func version(_ index: Int) throws(StateError) -> Version {
        let e = try entry("VERS", index, SnapshotLayout.versionEntry)
        let flags = try Entry.u32(e, 16)
        let causeCount = Int(try Entry.u32(e, 20))
        let docOffset = try Entry.int(e, 80), docLength = Int(try Entry.u32(e, 88))
        let evidenceLength = Int(try Entry.u32(e, 92))
        let causesOffset = try Entry.int(e, 96)
        let deleted = flags & SnapshotLayout.deleted != 0
        let doc = deleted ? nil : try blob(docOffset, docLength)
        let evidence = flags & SnapshotLayout.hasEvidence != 0 ? try string(docOffset + docLength, evidenceLength) : nil
        let causesBytes = causeCount > 0 ? try blob(causesOffset, causeCount * 8) : []
        var causes: [UInt64] = []
        causes.reserveCapacity(causeCount)
        for i in 0..<causeCount { causes.append(try Entry.u64(causesBytes, i * 8)) }
        guard let chain = Hash32(bytes: Array(e[48..<80])) else { throw .checkpoint(.malformed(Location(), detail: "version entry too short")) }
        return Version(seq: try Entry.u64(e, 0), time: Int64(bitPattern: try Entry.u64(e, 8)), deleted: deleted,
                       documentBytes: doc,
                       validFrom: flags & SnapshotLayout.hasValidFrom != 0 ? Int64(bitPattern: try Entry.u64(e, 24)) : nil,
                       validTo: flags & SnapshotLayout.hasValidTo != 0 ? Int64(bitPattern: try Entry.u64(e, 32)) : nil,
                       causedBy: causes, evidence: evidence,
                       confidence: flags & SnapshotLayout.hasConfidence != 0 ? Double(bitPattern: try Entry.u64(e, 40)) : nil,
                       chain: chain)
    }

    /// Every version of a document in the checkpoint, oldest first.
    public func versions(collection: String, id: String) throws(StateError) -> [Version] {
        guard let d = try findDocument(collection: collection, id: id) else { return [] }
        let entry = try documentEntry(d)
        var out: [Version] = []
        out.reserveCapacity(entry.versions)
        for i in 0..<entry.versions { out.append(try version(entry.firstVersion + i)) }
        return out
    }

    public func collectionNames() throws(StateError) -> [String] { collections.map(\.name) }

    /// Ids of a collection in byte order.
    public func ids(collection: String) throws(StateError) -> [String] {
        guard let range = collectionRange(collection) else { return [] }
        var out: [String] = []
        out.reserveCapacity(range.count)
        for i in 0..<range.count { out.append(String(decoding: try documentEntry(range.first + i).id, as: UTF8.self)) }
        return out
    }

    public func location(ofSeq seq: UInt64) throws(StateError) -> (collection: String, id: String)? {
        let n = count("SEQS", SnapshotLayout.seqEntry)
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if try Entry.u64(try entry("SEQS", mid, SnapshotLayout.seqEntry), 0) < seq { lo = mid + 1 } else { hi = mid }
        }
        guard lo < n else { return nil }
        let e = try entry("SEQS", lo, SnapshotLayout.seqEntry)
        guard try Entry.u64(e, 0) == seq else { return nil }
        let doc = Int(try Entry.u32(e, 8)), col = Int(try Entry.u32(e, 12))
        guard col < collections.count else { throw .checkpoint(.malformed(Location(), detail: "bad collection index")) }
        return (collections[col].name, String(decoding: try documentEntry(doc).id, as: UTF8.self))
    }

    // MARK: Edges

    func edge(_ index: Int) throws(StateError) -> (key: EdgeKey, intervals: Int, first: Int) {
        let e = try entry("EDGE", index, SnapshotLayout.edgeEntry)
        let off = try Entry.int(e, 0)
        let fl = Int(try Entry.u32(e, 8)), rl = Int(try Entry.u32(e, 12)), tl = Int(try Entry.u32(e, 16))
        let all = try blob(off, fl + rl + tl)
        let key = EdgeKey(from: String(decoding: all[0..<fl], as: UTF8.self),
                          relation: String(decoding: all[fl..<(fl + rl)], as: UTF8.self),
                          to: String(decoding: all[(fl + rl)...], as: UTF8.self))
        return (key, Int(try Entry.u32(e, 20)), try Entry.int(e, 24))
    }

    func edgeIntervals(_ index: Int) throws(StateError) -> [EdgeInterval] {
        let e = try edge(index)
        var out: [EdgeInterval] = []
        for i in 0..<e.intervals {
            let b = try entry("EINT", e.first + i, SnapshotLayout.intervalEntry)
            let removed = try Entry.u64(b, 8)
            out.append(EdgeInterval(added: try Entry.u64(b, 0), removed: removed == SnapshotLayout.open ? nil : removed))
        }
        return out
    }

    public func intervals(_ key: EdgeKey) throws(StateError) -> [EdgeInterval] {
        let n = count("EDGE", SnapshotLayout.edgeEntry)
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if try edge(mid).key < key { lo = mid + 1 } else { hi = mid }
        }
        guard lo < n, try edge(lo).key == key else { return [] }
        return try edgeIntervals(lo)
    }

    /// Every edge key leaving `node`.
    public func edges(from node: String) throws(StateError) -> [EdgeKey] {
        let n = count("EDGE", SnapshotLayout.edgeEntry)
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if utf8Less(try edge(mid).key.from, node) { lo = mid + 1 } else { hi = mid }
        }
        var out: [EdgeKey] = []
        while lo < n {
            let k = try edge(lo).key
            guard k.from == node else { break }
            out.append(k)
            lo += 1
        }
        return out
    }

    /// Every edge key arriving at `node`.
    public func edges(to node: String) throws(StateError) -> [EdgeKey] {
        let n = count("EREV", 8)
        func keyAt(_ i: Int) throws(StateError) -> EdgeKey {
            try edge(try Entry.int(try entry("EREV", i, 8), 0)).key
        }
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if utf8Less(try keyAt(mid).to, node) { lo = mid + 1 } else { hi = mid }
        }
        var out: [EdgeKey] = []
        while lo < n {
            let k = try keyAt(lo)
            guard k.to == node else { break }
            out.append(k)
            lo += 1
        }
        return out
    }

    func allEdgeKeys() throws(StateError) -> [EdgeKey] {
        try (0..<count("EDGE", SnapshotLayout.edgeEntry)).map { (i) throws(StateError) -> EdgeKey in try edge(i).key }
    }

    // MARK: Causes

    public func effects(of seq: UInt64) throws(StateError) -> [UInt64] {
        let n = count("CAUS", SnapshotLayout.pairEntry)
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if try Entry.u64(try entry("CAUS", mid, SnapshotLayout.pairEntry), 0) < seq { lo = mid + 1 } else { hi = mid }
        }
        var out: [UInt64] = []
        while lo < n {
            let e = try entry("CAUS", lo, SnapshotLayout.pairEntry)
            guard try Entry.u64(e, 0) == seq else { break }
            out.append(try Entry.u64(e, 8))
            lo += 1
        }
        return out
    }

    func allEffects() throws(StateError) -> [(UInt64, UInt64)] {
        let bytes = try readSection("CAUS")
        var out: [(UInt64, UInt64)] = []
        for o in stride(from: 0, to: bytes.count - 15, by: 16) { out.append((try Entry.u64(bytes, o), try Entry.u64(bytes, o + 8))) }
        return out
    }

    // MARK: Indexes

    public func indexDefinitions() throws(StateError) -> [IndexDefinition] { definitions.map(\.definition) }

    func postingRange(_ index: IndexID) -> (first: Int, count: Int)? {
        guard let d = definitions.first(where: {
            $0.definition.collection == index.collection && $0.definition.field == index.field
                && $0.definition.kind == index.kind && $0.definition.droppedSeq == nil
        }) else { return nil }
        return (d.first, d.count)
    }

    func posting(_ index: Int) throws(StateError) -> (key: [UInt8], id: String, seq: UInt64) {
        let e = try entry("POST", index, SnapshotLayout.postingEntry)
        let kl = Int(try Entry.u32(e, 8)), il = Int(try Entry.u32(e, 12))
        let all = try blob(try Entry.int(e, 0), kl + il)
        return (Array(all[0..<kl]), String(decoding: all[kl...], as: UTF8.self), try Entry.u64(e, 16))
    }

    func postingKey(_ index: Int) throws(StateError) -> [UInt8] {
        let e = try entry("POST", index, SnapshotLayout.postingEntry)
        return try blob(try Entry.int(e, 0), Int(try Entry.u32(e, 8)))
    }

    /// Postings with lower ≤ key ≤ upper in one index (bounds optional).
    public func postings(_ index: IndexID, lower: [UInt8]?, lowerInclusive: Bool, upper: [UInt8]?, upperInclusive: Bool)
        throws(StateError) -> [(key: [UInt8], id: String, seq: UInt64)] {
        guard let range = postingRange(index) else { return [] }
        var start = 0
        if let lower {
            var lo = 0, hi = range.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let c = ValueOrder.compareBytes(try postingKey(range.first + mid), lower)
                if c < 0 || (c == 0 && !lowerInclusive) { lo = mid + 1 } else { hi = mid }
            }
            start = lo
        }
        var out: [(key: [UInt8], id: String, seq: UInt64)] = []
        var i = start
        while i < range.count {
            let p = try posting(range.first + i)
            if let upper {
                let c = ValueOrder.compareBytes(p.key, upper)
                if c > 0 || (c == 0 && !upperInclusive) { break }
            }
            out.append(p)
            i += 1
        }
        return out
    }

    public func postings(_ index: IndexID, equal key: [UInt8]) throws(StateError) -> [(id: String, seq: UInt64)] {
        try postings(index, lower: key, lowerInclusive: true, upper: key, upperInclusive: true).map { ($0.id, $0.seq) }
    }

    public func postings(_ index: IndexID, token: String) throws(StateError) -> [(id: String, seq: UInt64)] {
        try postings(index, equal: Array(token.utf8))
    }

    func allPostings(_ index: IndexID) throws(StateError) -> [(key: [UInt8], id: String, seq: UInt64)] {
        try postings(index, lower: nil, lowerInclusive: true, upper: nil, upperInclusive: true)
    }

    // MARK: Replay tables

    func mapEntries(_ id: String) throws(StateError) -> [(String, UInt64)] {
        let bytes = try readSection(id)
        var out: [(String, UInt64)] = []
        for o in stride(from: 0, to: bytes.count, by: SnapshotLayout.mapEntry) {
            out.append((try string(try Entry.int(bytes, o), Int(try Entry.u32(bytes, o + 8))), try Entry.u64(bytes, o + 16)))
        }
        return out
    }

    public func nonces() throws(StateError) -> [String: UInt64] {
        Dictionary(try mapEntries("NONC"), uniquingKeysWith: { max($0, $1) })
    }

    func allNonces() throws(StateError) -> [(String, UInt64)] { try mapEntries("NONC") }

    public func idempotencySeq(_ key: String) throws(StateError) -> UInt64? {
        let n = count("IDEM", SnapshotLayout.mapEntry)
        let target = Array(key.utf8)
        func keyAt(_ i: Int) throws(StateError) -> [UInt8] {
            let e = try entry("IDEM", i, SnapshotLayout.mapEntry)
            return try blob(try Entry.int(e, 0), Int(try Entry.u32(e, 8)))
        }
        let i = try lowerBound(n, target, keyAt)
        guard i < n, try keyAt(i) == target else { return nil }
        return try Entry.u64(try entry("IDEM", i, SnapshotLayout.mapEntry), 16)
    }

    func allIdempotency() throws(StateError) -> [(String, UInt64)] { try mapEntries("IDEM") }
}
