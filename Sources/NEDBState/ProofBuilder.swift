import NEDBStore

/// Builds the proof files of spec/PROOFS.md from a store and its state.
public enum ProofBuilder {
    public enum Failure: Error, CustomStringConvertible {
        case notFound(String)
        case tooLong(String)
        case keyRequired
        public var description: String {
            switch self {
            case let .notFound(s), let .tooLong(s): return s
            case .keyRequired: return "the store is encrypted: give its key to disclose a record"
            }
        }
    }

    /// The signed checkpoint of the store's current head.
    public static func signedCheckpoint(store: LogStore, signers: [NoteSigner]) throws -> String {
        let head = store.head
        let checkpoint = TreeCheckpoint(origin: store.origin, lastSeq: head.seq, root: head.root, chainHead: head.chain,
                                        algorithm: store.hashAlgorithm, storeId: store.storeId)
        return SignedNote.sign(text: checkpoint.text, with: signers).encoded
    }

    /// A proof that document `collection:id` had, at seq `asOf`, the value its latest version at
    /// or before `asOf` wrote (a tombstone proves it was deleted). The records after that
    /// version up to `asOf` are included (at most `maxFollowing`); with `writtenOnly`, or in an
    /// encrypted store, the proof covers only the version itself.
    public static func recordProof(store: LogStore, state: DatabaseState, collection: String, id: String, asOf: UInt64,
                                   signers: [NoteSigner], writtenOnly: Bool = false, maxFollowing: Int = 10_000) throws -> ProofFile {
        let head = store.head
        guard asOf <= head.seq else { throw Failure.notFound("seq \(asOf) is beyond the head (\(head.seq))") }
        // Below a retention point the versions a proof would show may be pruned (FORMAT §3.7).
        guard asOf >= state.historyFrom else { throw Failure.notFound(state.prunedHistoryMessage(asOf)) }
        guard let version = try state.versions(collection: collection, id: id).last(where: { $0.seq <= asOf }) else {
            throw Failure.notFound("\(collection):\(id) has no version at or before seq \(asOf); a proof of absence would need every record up to it, which format v1 does not prove compactly")
        }
        let m = version.seq
        var proof = ProofFile(kind: .record, storeId: store.storeId, algorithm: store.hashAlgorithm,
                              note: try signedCheckpoint(store: store, signers: signers))
        proof.document = "\(collection):\(id)"
        proof.seq = m
        let previous = m == 0 ? Hash32.zero : try store.chainHash(seq: m - 1)
        proof.leaf = previous.bytes + (try recordBytes(store, m))
        var last = m
        if store.encrypted {
            guard let keyring = store.dataKeys else { throw Failure.keyRequired }
            let raw = try store.frameBytes(m)
            let record = try RecordCodec.decode(type: RecordType(rawValue: raw.bytes[8]), bytes: raw.bytes, bodyStart: 9,
                                                bodyEnd: raw.bytes.count - 32, options: RecordCodec.Options(checkCanonicalDocuments: false))
            guard let keyId = record.keyId, let dek = keyring.keys[keyId] else { throw Failure.keyRequired }
            proof.recordKey = KeyDerivation.recordKey(dek: dek.key, storeId: store.storeId, seq: m)
        } else if !writtenOnly && asOf > m {
            guard asOf - m <= UInt64(maxFollowing) else {
                throw Failure.tooLong("\(asOf - m) records follow the version at seq \(m); more than \(maxFollowing) (use --written, or a smaller --seq)")
            }
            for s in (m + 1)...asOf {
                let bytes = try recordBytes(store, s)
                // A pruned record's chain hash cannot be recomputed from its bytes (FORMAT §3.7).
                if bytes.first == RecordType.pruned.rawValue {
                    throw Failure.tooLong("record \(s), after the version at seq \(m), was pruned by compaction: the version cannot be shown unchanged through seq \(asOf) (use --written)")
                }
                proof.next.append(bytes)
            }
            last = asOf
        }
        proof.asOf = last
        proof.index = last
        proof.path = try store.inclusionProof(seq: last, size: head.treeSize)
        return proof
    }

    /// A proof that the store's current tree extends the tree of an older signed checkpoint.
    public static func consistencyProof(store: LogStore, oldNote: String, signers: [NoteSigner]) throws -> ProofFile {
        let old = try TreeCheckpoint.parse(try SignedNote.parse(oldNote).text)
        let head = store.head
        guard old.size <= head.treeSize else { throw Failure.notFound("the old checkpoint is larger than the store") }
        guard old.origin == store.origin, try store.rootHash(size: old.size) == old.root else {
            throw Failure.notFound("the old checkpoint is not a prefix of this log (origin or root at size \(old.size) differs)")
        }
        var proof = ProofFile(kind: .consistency, storeId: store.storeId, algorithm: store.hashAlgorithm,
                              note: try signedCheckpoint(store: store, signers: signers))
        proof.oldNote = oldNote
        proof.index = old.size
        proof.path = try store.consistencyProof(oldSize: old.size, newSize: head.treeSize)
        return proof
    }

    /// type ‖ body of record `seq`.
    static func recordBytes(_ store: LogStore, _ seq: UInt64) throws -> [UInt8] {
        let frame = try store.frameBytes(seq).bytes
        return Array(frame[8..<(frame.count - 32)])
    }
}
