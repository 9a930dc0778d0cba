/// Offline proof files (spec/PROOFS.md): a record and its inclusion in a signed tree, or the
/// consistency of two signed trees. Verifying needs only the file and the signer's public key.
public struct ProofFile: Sendable, Equatable {
    public static let header = "nedb-proof@v1"

    public enum Kind: String, Sendable { case record, consistency }

    public var kind: Kind
    public var storeId: StoreID
    public var algorithm: HashAlgorithm
    // Record proofs.
    public var document: String?          // collection:id
    public var seq: UInt64 = 0
    public var asOf: UInt64 = 0
    /// previous chain hash ‖ type ‖ body of record `seq`.
    public var leaf: [UInt8] = []
    /// The per-record key of an encrypted record (its disclosure key).
    public var recordKey: [UInt8]?
    /// type ‖ body of records seq+1 … asOf, showing none of them changed the document.
    public var next: [[UInt8]] = []
    /// Leaf index of the inclusion proof (asOf), or the old tree size of a consistency proof.
    public var index: UInt64 = 0
    public var oldNote: String?
    public var path: [Hash32] = []
    /// The signed checkpoint the proof is checked against (the newer one for consistency).
    public var note: String

    public init(kind: Kind, storeId: StoreID, algorithm: HashAlgorithm, note: String) {
        self.kind = kind; self.storeId = storeId; self.algorithm = algorithm; self.note = note
    }

    public var encoded: String {
        var lines = [ProofFile.header, "kind \(kind.rawValue)", "store \(storeId.hex)", "hash \(algorithm)"]
        switch kind {
        case .record:
            lines.append("doc \(document ?? "")")
            lines.append("seq \(seq)")
            lines.append("as-of \(asOf)")
            lines.append("leaf \(Base64.encode(leaf))")
            if let recordKey { lines.append("key \(Base64.encode(recordKey))") }
            for n in next { lines.append("next \(Base64.encode(n))") }
        case .consistency:
            lines.append("old \(Base64.encode(Array((oldNote ?? "").utf8)))")
        }
        lines.append("index \(index)")
        for h in path { lines.append(Base64.encode(h.bytes)) }
        return lines.map { $0 + "\n" }.joined() + "\n" + note
    }

    /// Parses a proof file; throws `malformed` with the line number on any deviation.
    public static func parse(_ text: String) throws(FormatError) -> ProofFile {
        guard let split = text.range(of: "\n\n", options: .forwards) else {
            throw .malformed(Location(), detail: "proof has no blank line before its checkpoint")
        }
        let head = String(text[..<split.lowerBound])
        let note = String(text[split.upperBound...])
        let lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func fail(_ line: Int, _ why: String) -> FormatError { .malformed(Location(offset: UInt64(line + 1)), detail: "proof line \(line + 1): \(why)") }
        guard lines.first == header else { throw fail(0, "expected \"\(header)\"") }
        var i = 1
        func field(_ name: String) throws(FormatError) -> String {
            guard i < lines.count, lines[i].hasPrefix(name + " ") else { throw fail(i, "expected \"\(name) …\"") }
            defer { i += 1 }
            return String(lines[i].dropFirst(name.count + 1))
        }
        func number(_ name: String) throws(FormatError) -> UInt64 {
            let t = try field(name)
            guard let v = UInt64(t), String(v) == t else { throw fail(i - 1, "\(name) must be a decimal number") }
            return v
        }
        func base64(_ text: String, _ what: String) throws(FormatError) -> [UInt8] {
            guard let b = Base64.decode(text) else { throw fail(i - 1, "\(what) is not base64") }
            return b
        }
        guard let kind = Kind(rawValue: try field("kind")) else { throw fail(1, "unknown proof kind") }
        guard let storeId = StoreID(hex: try field("store")) else { throw fail(2, "store must be 32 hex digits") }
        guard let algorithm = HashAlgorithm(name: try field("hash")) else { throw fail(3, "unknown hash algorithm") }
        var proof = ProofFile(kind: kind, storeId: storeId, algorithm: algorithm, note: note)
        switch kind {
        case .record:
            proof.document = try field("doc")
            proof.seq = try number("seq")
            proof.asOf = try number("as-of")
            proof.leaf = try base64(try field("leaf"), "leaf")
            if i < lines.count, lines[i].hasPrefix("key ") { proof.recordKey = try base64(try field("key"), "key") }
            while i < lines.count, lines[i].hasPrefix("next ") { proof.next.append(try base64(try field("next"), "next record")) }
        case .consistency:
            let old = try base64(try field("old"), "old checkpoint")
            guard let oldText = String(validating: old, as: UTF8.self) else { throw fail(i - 1, "old checkpoint is not UTF-8") }
            proof.oldNote = oldText
        }
        proof.index = try number("index")
        while i < lines.count {
            guard let b = Base64.decode(lines[i]), let h = Hash32(bytes: b) else { throw fail(i, "expected a base64 32-byte hash") }
            proof.path.append(h)
            i += 1
        }
        guard proof.path.count <= 64 else { throw fail(i, "proof path is too long") }
        return proof
    }
}

/// What a verified record proof establishes.
public struct ProvenRecord: Sendable {
    public var record: Record
    /// The checkpoint the proof was checked against.
    public var checkpoint: TreeCheckpoint
    /// The seq through which the record's document is shown unchanged (asOf).
    public var unchangedThrough: UInt64
}

/// Why a proof does not verify.
public struct ProofFailure: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

extension ProofFile {
    /// Checks a record proof with nothing but the signer's key (spec/PROOFS.md §3).
    public func verifyRecord(verifier: NoteVerifier) throws(ProofFailure) -> ProvenRecord {
        guard kind == .record else { throw ProofFailure(reason: "not a record proof") }
        let checkpoint = try checkedCheckpoint(note, verifier: verifier)
        let hasher = MerkleHasher(algorithm)
        guard leaf.count > 33 else { throw ProofFailure(reason: "leaf data is too short") }
        let type = RecordType(rawValue: leaf[32])
        var record: Record
        do { record = try RecordCodec.decode(type: type, bytes: leaf, bodyStart: 33, bodyEnd: leaf.count) } catch {
            throw ProofFailure(reason: "the record does not decode: \(error.detail)")
        }
        guard record.seq == seq else { throw ProofFailure(reason: "the record is seq \(record.seq), the proof says \(seq)") }
        if record.isSealed {
            guard let recordKey else { throw ProofFailure(reason: "the record is encrypted and the proof carries no key") }
            do { record = try RecordSealer.open(record, recordKey: recordKey, storeId: storeId, location: Location(seq: seq)) } catch {
                throw ProofFailure(reason: "the disclosed key does not open the record: \(error.detail)")
            }
        }
        guard record.type == .put || record.type == .delete, let key = record.key, key == document else {
            throw ProofFailure(reason: "the record is not a version of \(document ?? "?")")
        }
        if record.type == .put, let doc = record.document {
            guard let parsed = try? JSONParser.parse(doc), JCS.serialize(parsed) == doc else {
                throw ProofFailure(reason: "the document is not canonical JSON")
            }
        }
        var chain = algorithm.hash([0x00] + leaf)
        var position = seq
        var lastTime = record.time
        for bytes in next {
            guard !bytes.isEmpty else { throw ProofFailure(reason: "empty next record") }
            let t = RecordType(rawValue: bytes[0])
            let r: Record
            do { r = try RecordCodec.decode(type: t, bytes: bytes, bodyStart: 1, bodyEnd: bytes.count) } catch {
                throw ProofFailure(reason: "a following record does not decode: \(error.detail)")
            }
            guard r.seq == position + 1 else { throw ProofFailure(reason: "following records must be consecutive (found seq \(r.seq))") }
            guard r.time >= lastTime else { throw ProofFailure(reason: "record \(r.seq) is earlier than the record before it") }
            lastTime = r.time
            guard r.type != .pruned else { throw ProofFailure(reason: "record \(r.seq) is pruned: its chain hash cannot be recomputed") }
            guard !r.isSealed else { throw ProofFailure(reason: "following records are encrypted: they cannot show the document unchanged") }
            if (r.type == .put || r.type == .delete), r.key == document {
                throw ProofFailure(reason: "record \(r.seq) changes \(document ?? "") again")
            }
            chain = ChainHasher(algorithm).chain(previous: chain, type: t, body: Array(bytes[1...]))
            position += 1
        }
        guard position == asOf, index == asOf else { throw ProofFailure(reason: "the records shown end at \(position), the proof claims \(asOf)") }
        guard MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: chain, index: index, size: checkpoint.size,
                                             path: path, root: checkpoint.root) else {
            throw ProofFailure(reason: "the inclusion proof does not lead to the signed root")
        }
        if index == checkpoint.size - 1, let head = checkpoint.chainHead, head != chain {
            throw ProofFailure(reason: "the record's chain hash differs from the checkpoint's chain head")
        }
        return ProvenRecord(record: record, checkpoint: checkpoint, unchangedThrough: asOf)
    }

    /// Checks a consistency proof: the newer signed tree extends the older one.
    public func verifyConsistency(verifier: NoteVerifier) throws(ProofFailure) -> (old: TreeCheckpoint, new: TreeCheckpoint) {
        guard kind == .consistency, let oldNote else { throw ProofFailure(reason: "not a consistency proof") }
        let old = try checkedCheckpoint(oldNote, verifier: verifier)
        let new = try checkedCheckpoint(note, verifier: verifier)
        guard old.origin == new.origin else { throw ProofFailure(reason: "the checkpoints name different logs") }
        guard index == old.size else { throw ProofFailure(reason: "index must be the old tree size") }
        guard MerkleVerifier.verifyConsistency(hasher: MerkleHasher(algorithm), oldSize: old.size, newSize: new.size,
                                               oldRoot: old.root, newRoot: new.root, proof: path) else {
            throw ProofFailure(reason: "the consistency proof does not verify")
        }
        return (old, new)
    }

    func checkedCheckpoint(_ text: String, verifier: NoteVerifier) throws(ProofFailure) -> TreeCheckpoint {
        let parsed: SignedNote
        let checkpoint: TreeCheckpoint
        do {
            parsed = try SignedNote.parse(text)
            checkpoint = try TreeCheckpoint.parse(parsed.text)
        } catch { throw ProofFailure(reason: "the checkpoint does not parse: \(error.detail)") }
        guard parsed.isSigned(by: verifier) else { throw ProofFailure(reason: "the checkpoint is not signed by \(verifier.name)") }
        guard checkpoint.hashAlgorithm == algorithm else { throw ProofFailure(reason: "the checkpoint uses another hash algorithm") }
        // The `store` line is checked against what the signer signed: a `nedb-store` line, or a
        // default origin naming the store id. A checkpoint that names no store cannot vouch for it.
        guard let signedStore = checkpoint.storeId else {
            throw ProofFailure(reason: "the checkpoint names no store (no nedb-store line, origin \"\(checkpoint.origin)\"): the proof's store id is bound to nothing")
        }
        guard signedStore == storeId else {
            throw ProofFailure(reason: "the proof names store \(storeId), the signed checkpoint store \(signedStore)")
        }
        return checkpoint
    }
}
