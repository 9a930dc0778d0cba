import NEDBFormat
import NEDBState

/// The spec test vectors (spec/vectors/): bytes ↔ fields ↔ hashes for every structure, so an
/// independent implementation can be checked without this code.
public enum Vectors {
    public static let storeId = StoreID(bytes: (0..<16).map { UInt8($0) })!

    /// Writes every vector file; returns how many.
    public static func generate(into directory: String) throws -> Int {
        try PosixFileSystem().createDirectory(directory)
        let files: [(String, JSONValue)] = [
            ("jcs.json", try jcs()),
            ("records.json", try records()),
            ("merkle.json", try merkle()),
            ("notes.json", try notes()),
            ("encryption.json", try encryption()),
            ("segment.json", try segment()),
            ("timestamps.json", timestamps()),
            ("checkpoint.json", try checkpoint()),
            ("pruning.json", try pruning()),
        ]
        for (name, value) in files {
            try FileEdits.write(Array(PrettyJSON.render(value).utf8), to: PathUtil.join(directory, name))
        }
        return files.count
    }

    static func hex(_ b: [UInt8]) -> JSONValue { .string(Hex.encode(b)) }
    static func num(_ v: UInt64) -> JSONValue { .number(Double(v)) }

    static func jcs() throws -> JSONValue {
        let inputs = [
            #"{"b": 2, "a": 1, "c": {"z": [3, 2, 1], "y": null}}"#,
            #"[1.0, 100, 1e21, 1e20, 1e-7, 0.000001, -0.0, 5e-324, 333333333.33333329, 1E30, 4.50, 2e-3]"#,
            #"{"\u20ac": "euro", "\ud83d\ude00": "emoji", "\u0080": "c1", "a": "ascii", "A": "upper"}"#,
            #""tab\tnewline\ncontrol\u0001quote\"backslash\\slash\/unicode\u00e9""#,
            #"{"name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"}"#,
            #"[true, false, null, "", [], {}]"#,
        ]
        return .array(try inputs.map { input in
            .object(["input": .string(input), "canonical": .string(String(decoding: try JCS.canonicalize(input), as: UTF8.self))])
        })
    }

    static func sampleRecords() -> [Record] {
        var g = Record(type: .genesis, seq: 0, time: 1_700_000_000_000_000)
        g.storeId = storeId; g.hashAlgorithm = .blake2b256; g.encryption = EncryptionMode.none; g.origin = "nedb.example/vectors"
        var p = Record(type: .put, seq: 1, time: 1_700_000_000_000_001)
        p.collection = "users"; p.id = "alice"
        p.document = JCS.serialize(["name": "Alice", "age": 31, "status": "active", "bio": "rust hacker"])
        var q = Record(type: .put, seq: 2, time: 1_700_000_000_000_002)
        q.collection = "policy"; q.id = "rate_2024"; q.document = JCS.serialize(["pct": 5.0])
        q.validFrom = Timestamp.parse("2024-01-01"); q.validTo = Timestamp.parse("2024-12-31")
        q.causedBy = [1]; q.evidence = "board decision"; q.confidence = 0.95
        q.client = "app"; q.nonce = 1; q.idempotencyKey = "rate-2024"
        var d = Record(type: .delete, seq: 3, time: 1_700_000_000_000_003)
        d.collection = "users"; d.id = "alice"; d.transaction = TransactionMark(firstSeq: 3, count: 2)
        var l = Record(type: .link, seq: 4, time: 1_700_000_000_000_004)
        l.collection = "users"; l.id = "alice"; l.relation = "follows"; l.targetCollection = "users"; l.targetId = "bob"
        l.transaction = TransactionMark(firstSeq: 3, count: 2)
        var i = Record(type: .defineIndex, seq: 5, time: 1_700_000_000_000_005)
        i.collection = "users"; i.indexField = "status"; i.indexKind = .eq
        var a = Record(type: .annotation, seq: 6, time: 1_700_000_000_000_006)
        a.note = "ignorable: readers that do not know type 0x81 skip it"
        a.extraFields = [ExtraField(tag: 0xA0, value: [0xDE, 0xAD])]
        // Ordered and search indexes (their postings are in checkpoint.json), a second user, and
        // the eq index dropped again.
        var o = Record(type: .defineIndex, seq: 7, time: 1_700_000_000_000_007)
        o.collection = "users"; o.indexField = "age"; o.indexKind = .ordered
        var t = Record(type: .defineIndex, seq: 8, time: 1_700_000_000_000_008)
        t.collection = "users"; t.indexField = "bio"; t.indexKind = .search
        var b = Record(type: .put, seq: 9, time: 1_700_000_000_000_009)
        b.collection = "users"; b.id = "bob"
        b.document = JCS.serialize(["name": "Bob", "age": -2.5, "status": "away", "bio": "Ünïcode SWIFT hacker, 2 cats"])
        var x = Record(type: .dropIndex, seq: 10, time: 1_700_000_000_000_010)
        x.collection = "users"; x.indexField = "status"
        return [g, p, q, d, l, i, a, o, t, b, x]
    }

    /// Records that follow `sampleRecords` in records.json: a checkpoint record for checkpoint.json's
    /// checkpoint, a key rotation, and a compaction that prunes seq 1 (pruning.json).
    static func laterRecords(checkpointHash: Hash32) -> [Record] {
        var c = Record(type: .checkpointMarker, seq: 11, time: 1_700_000_000_000_011)
        c.checkpointSeq = 10; c.checkpointHash = checkpointHash
        var k = Record(type: .keyRotation, seq: 12, time: 1_700_000_000_000_012)
        k.keyId = 1
        var m = Record(type: .compaction, seq: 13, time: 1_700_000_000_000_013)
        m.retentionSeq = 4; m.prunedCount = 1; m.prunedSet = KeyDerivation.prunedSet([1])
        return [c, k, m]
    }

    /// Record 1 (users:alice, hidden by the delete at 3) as compaction record 13 prunes it.
    static func prunedAlice() -> Record {
        var p = Record(type: .pruned, seq: 1, time: 1_700_000_000_000_001)
        p.prunedType = .put; p.supersededBy = 3; p.prunedBy = 13; p.prunedFlags = 1
        let key = KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: false, keyring: nil)!
        p.keyDigest = KeyDerivation.prunedKeyDigest(key: key, collection: "users", id: "alice")
        return p
    }

    static func pruning() throws -> JSONValue {
        let hasher = ChainHasher(.blake2b256)
        var chains: [Hash32] = []
        var previous = Hash32.zero
        let all = sampleRecords() + laterRecords(checkpointHash: try checkpointFile().hash)
        for r in all {
            previous = hasher.chain(previous: previous, type: r.type, body: RecordCodec.encodeBody(r))
            chains.append(previous)
        }
        let pruned = prunedAlice()
        let body = RecordCodec.encodeBody(pruned)
        // The frame keeps record 1's chain hash: it cannot be recomputed from the pruned body.
        var frame = ByteWriter()
        frame.u32(UInt32(body.count + 1)); frame.u32(0); frame.u8(RecordType.pruned.rawValue); frame.append(body); frame.hash(chains[1])
        var bytes = frame.bytes
        let crc = bytes.withUnsafeBytes { Frame.crc32(frame: $0) }
        bytes.replaceSubrange(4..<8, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        let digestKey = KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: false, keyring: nil)!
        return .object([
            "description": "records.json's log (BLAKE2b) after compaction record 13 (retention 4) pruned record 1, a put of users:alice without valid time that the delete at seq 3 hides at every instant",
            "store_id": .string(storeId.hex),
            "digest_key": hex(digestKey),
            "digest_input_hex": hex(Array("users".utf8) + [0] + Array("alice".utf8)),
            "pruned_fields": RecordJSON.encode(pruned),
            "pruned_body_hex": hex(body),
            "pruned_frame_hex": hex(bytes),
            "stored_chain": .string(chains[1].hex),
            "pruned_set_input_hex": hex([0x05] + withUnsafeBytes(of: UInt64(1).littleEndian) { Array($0) }),
            "compaction_fields": RecordJSON.encode(all[13]),
            "compaction_body_hex": hex(RecordCodec.encodeBody(all[13])),
        ])
    }

    static func records() throws -> JSONValue {
        var out: [JSONValue] = []
        for alg in HashAlgorithm.allCases {
            let hasher = ChainHasher(alg)
            var previous = Hash32.zero
            var tree = InMemoryMerkleTree(hasher: MerkleHasher(alg))
            for r in sampleRecords() + laterRecords(checkpointHash: try checkpointFile().hash) {
                var rec = r
                if rec.type == .genesis { rec.hashAlgorithm = alg }
                let body = RecordCodec.encodeBody(rec)
                let (frame, chain) = Frame.encode(type: rec.type, body: body, previous: previous, hasher: hasher)
                tree.append(chain)
                out.append(.object([
                    "algorithm": .string(alg.description),
                    "fields": RecordJSON.encode(rec),
                    "type_byte": num(UInt64(rec.type.rawValue)),
                    "body_hex": hex(body),
                    "previous_chain": .string(previous.hex),
                    "chain": .string(chain.hex),
                    "frame_hex": hex(frame),
                    "merkle_root_after": .string(try tree.rootHash(size: tree.size).hex),
                ]))
                previous = chain
            }
        }
        return .array(out)
    }

    static func merkle() throws -> JSONValue {
        var out: [JSONValue] = []
        for alg in HashAlgorithm.allCases {
            let hasher = MerkleHasher(alg)
            let data: [[UInt8]] = (0..<8).map { [UInt8($0)] }
            let leaves = data.map { hasher.leaf($0) }
            let tree = InMemoryMerkleTree(hasher: hasher, leaves: leaves)
            var roots: [JSONValue] = [.object(["size": 0, "root": .string(hasher.emptyRoot.hex)])]
            var inclusion: [JSONValue] = []
            var consistency: [JSONValue] = []
            for n in 1...8 {
                roots.append(.object(["size": num(UInt64(n)), "root": .string(try tree.rootHash(size: UInt64(n)).hex)]))
                for m in 0..<n {
                    inclusion.append(.object(["size": num(UInt64(n)), "index": num(UInt64(m)),
                                              "path": .array(try tree.inclusionProof(index: UInt64(m), size: UInt64(n)).map { .string($0.hex) })]))
                }
                for m in 1...n {
                    consistency.append(.object(["old_size": num(UInt64(m)), "new_size": num(UInt64(n)),
                                                "proof": .array(try tree.consistencyProof(oldSize: UInt64(m), newSize: UInt64(n)).map { .string($0.hex) })]))
                }
            }
            out.append(.object([
                "algorithm": .string(alg.description),
                "leaf_data": .array(data.map(hex)),
                "leaf_hashes": .array(leaves.map { .string($0.hex) }),
                "roots": .array(roots), "inclusion": .array(inclusion), "consistency": .array(consistency),
            ]))
        }
        return .array(out)
    }

    static func notes() throws -> JSONValue {
        let signer = try NoteSigner(name: "nedb.example/vectors", key: try Ed25519.SigningKey(seed: (0..<32).map { UInt8($0) }))
        let alg = HashAlgorithm.blake2b256
        let checkpoint = TreeCheckpoint(origin: "nedb.example/vectors", lastSeq: 6, root: alg.hash(Array("root".utf8)),
                                        chainHead: alg.hash(Array("chain".utf8)), algorithm: alg)
        let note = SignedNote.sign(text: checkpoint.text, with: [signer])
        return .object([
            "signer_key": .string(signer.encoded),
            "verifier_key": .string(signer.verifier.encoded),
            "key_id": .string(NoteKeys.hex8(signer.keyId)),
            "public_key": hex(signer.key.publicKey),
            "checkpoint_text": .string(checkpoint.text),
            "signed_note": .string(note.encoded),
            "signature": hex(note.signatures[0].signature),
        ])
    }

    static func encryption() throws -> JSONValue {
        let tmk: [UInt8] = (0..<32).map { UInt8(0x40 + $0) }
        let dek: [UInt8] = (0..<32).map { UInt8(0x80 + $0) }
        let wrapNonce: [UInt8] = (0..<12).map { UInt8(0xA0 + $0) }
        let recordNonce: [UInt8] = (0..<12).map { UInt8(0xB0 + $0) }
        let (keyFile, ring) = try KeyFile.create(storeId: storeId, master: try MasterKey(raw: tmk), dek: dek, nonce: wrapNonce)
        var put = sampleRecords()[1]
        put.seq = 7
        let key = ring.keys[0]!
        let sealed = try RecordSealer.seal(put, with: key, storeId: storeId, nonce: recordNonce)
        let recordKey = KeyDerivation.recordKey(dek: dek, storeId: storeId, seq: put.seq)
        var inner = ByteWriter()
        RecordCodec.encodeFields(put, into: &inner) { !RecordRules.outerTags.contains($0) }
        let body = RecordCodec.encodeBody(sealed)
        let (frame, chain) = Frame.encode(type: .put, body: body, previous: .zero, hasher: ChainHasher(.blake2b256))
        let passphraseKey = try MasterKey(passphrase: "correct horse battery staple", salt: [UInt8](repeating: 7, count: 16),
                                          opsLimit: 1, memLimit: 8192)
        // Data-key rotation: DEK 1 from seq 12 added (records.json's key_rotation record is seq 12);
        // then master-key rotation: both DEKs rewrapped under a new TMK, with fixed nonces here.
        let dek1: [UInt8] = (0..<32).map { UInt8(0xE0 &+ $0) }
        var rotated = keyFile
        try rotated.add(dek: dek1, keyId: 1, fromSeq: 12, tmk: tmk, nonce: (0..<12).map { UInt8(0xD0 + $0) })
        let newTMK: [UInt8] = (0..<32).map { UInt8(0x10 + $0) }
        var rewrapped = KeyFile(source: .raw, storeId: storeId, salt: [UInt8](repeating: 0, count: 16), opsLimit: 0, memLimit: 0,
                                tmkCheck: KeyDerivation.tmkCheck(tmk: newTMK, storeId: storeId), keys: [])
        try rewrapped.add(dek: dek, keyId: 0, fromSeq: 0, tmk: newTMK, nonce: (0..<12).map { UInt8(0xF0 + $0) })
        try rewrapped.add(dek: dek1, keyId: 1, fromSeq: 12, tmk: newTMK, nonce: (0..<12).map { UInt8(0xF4 + $0) })
        return .object([
            "rotated_dek": hex(dek1), "rotated_dek_key_id": 1, "rotated_dek_from_seq": 12,
            "key_file_after_data_key_rotation_hex": hex(rotated.encode()),
            "new_tmk": hex(newTMK),
            "key_file_after_master_key_rotation_hex": hex(rewrapped.encode()),
            "store_id": .string(storeId.hex),
            "tmk": hex(tmk),
            "tmk_check": .string(keyFile.tmkCheck.hex),
            "dek": hex(dek), "dek_key_id": 0, "dek_from_seq": 0,
            "dek_wrap_nonce": hex(wrapNonce),
            "dek_wrap_aad": hex(KeyDerivation.dekAAD(storeId: storeId, keyId: 0, fromSeq: 0)),
            "dek_wrapped": hex(keyFile.keys[0].wrapped),
            "key_file_hex": hex(keyFile.encode()),
            "record_seq": num(put.seq), "record_time": .number(Double(put.time)),
            "record_key": hex(recordKey),
            "key_commitment": .string(KeyDerivation.commitment(recordKey: recordKey).hex),
            "record_aad": hex(KeyDerivation.recordAAD(storeId: storeId, type: .put, seq: put.seq, time: put.time, keyId: 0)),
            "record_nonce": hex(recordNonce),
            "plaintext_fields_hex": hex(inner.bytes),
            "sealed_field_hex": hex(sealed.sealed ?? []),
            "body_hex": hex(body),
            "frame_hex": hex(frame),
            "chain_with_zero_previous": .string(chain.hex),
            "passphrase": .string("correct horse battery staple"),
            "passphrase_salt": hex([UInt8](repeating: 7, count: 16)),
            "passphrase_ops_limit": 1, "passphrase_mem_limit": 8192,
            "passphrase_key": hex(passphraseKey.key),
        ])
    }

    static func segment() throws -> JSONValue {
        var options = LogBuilder.Options(storeId: storeId)
        options.origin = "nedb.example/vectors"
        options.recordsPerSegment = 3
        options.startTime = 1_700_000_000_000_000
        let builder = try LogBuilder(options: options)
        for r in sampleRecords().dropFirst().prefix(2) { try builder.append(r) }
        let plain = try builder.files(sealLast: true)
        let compressed = try builder.files(sealLast: true, compress: { _ in true })
        let segmentBytes = plain.first { $0.path.hasPrefix("segments/") }!.bytes
        let compressedBytes = compressed.first { $0.path.hasPrefix("segments/") }!.bytes
        let trailer = Array(segmentBytes.suffix(SegmentFooter.trailerLength))
        let dataEnd = Int(trailer.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        return .object([
            "description": "a sealed segment of 3 records (genesis and two puts), plain and compressed",
            "segment_hex": hex(segmentBytes),
            "header_hex": hex(Array(segmentBytes[0..<SegmentHeader.length])),
            "records_hex": hex(Array(segmentBytes[SegmentHeader.length..<dataEnd])),
            "footer_hex": hex(Array(segmentBytes[dataEnd...])),
            "compressed_segment_hex": hex(compressedBytes),
            "chain_head": .string(builder.chain.hex),
            "merkle_root": .string(builder.root.hex),
            "leaves": .array(builder.leaves.map { .string($0.hex) }),
        ])
    }

    /// The checkpoint of the state after `sampleRecords` (plain, uncompressed).
    static func checkpointFile(compress: Bool = false, key: DataKey? = nil) throws
        -> (bytes: [UInt8], hash: Hash32, payload: [UInt8], seq: UInt64, chain: Hash32, root: Hash32) {
        let state = try DatabaseState()
        var chain = Hash32.zero
        var tree = InMemoryMerkleTree(hasher: MerkleHasher(.blake2b256))
        let hasher = ChainHasher(.blake2b256)
        for r in sampleRecords() {
            chain = hasher.chain(previous: chain, type: r.type, body: RecordCodec.encodeBody(r))
            tree.append(chain)
            try state.apply(r, chain: chain)
        }
        let payload = try SnapshotWriter.encode(state)
        let built = try CheckpointContainer.build(state: payload, stateVersion: 1, hashAlgorithm: .blake2b256, storeId: storeId,
                                                  seq: state.lastSeq!, chainHead: chain, root: try tree.rootHash(size: tree.size),
                                                  created: 1_700_000_000_000_000, compress: compress, key: key,
                                                  nonce: key == nil ? nil : (0..<12).map { UInt8(0xC0 + $0) })
        return (built.bytes, built.hash, payload, state.lastSeq!, chain, try tree.rootHash(size: tree.size))
    }

    static func checkpoint() throws -> JSONValue {
        let dek: [UInt8] = (0..<32).map { UInt8(0x80 + $0) }
        let compressed = try checkpointFile(compress: true)
        let encrypted = try checkpointFile(compress: true, key: DataKey(keyId: 0, fromSeq: 0, key: dek))
        let built = try checkpointFile()
        let payload = built.payload
        return .object([
            "description": "the state after the first eleven records of records.json (BLAKE2b), as a checkpoint at seq 10; the same checkpoint zstd-compressed, and compressed then sealed under encryption.json's DEK (key id 0) with checkpoint nonce c0c1…cb",
            "compressed_checkpoint_hex": hex(compressed.bytes),
            "compressed_checkpoint_hash": .string(compressed.hash.hex),
            "encrypted_checkpoint_hex": hex(encrypted.bytes),
            "encrypted_checkpoint_hash": .string(encrypted.hash.hex),
            "checkpoint_key": hex(KeyDerivation.checkpointKey(dek: dek, storeId: storeId, seq: 10)),
            "state_encoding_hex": hex(payload),
            "state_digest": .string(HashAlgorithm.blake2b256.hash(payload).hex),
            "checkpoint_hex": hex(built.bytes),
            "checkpoint_hash": .string(built.hash.hex),
            "seq": num(built.seq),
            "chain": .string(built.chain.hex),
            "root": .string(built.root.hex),
        ])
    }

    static func timestamps() -> JSONValue {
        let inputs = ["2024-06-15", "2024-01-01T00:00:00Z", "2024-02-29T12:30:45.5+02:00", "1970-01-01T00:00:00.000001z",
                      "2024-12-31 23:59:59-00:30", "0001-01-01", "9999-12-31T23:59:59.999999999Z"]
        return .array(inputs.map { text in
            let v = Timestamp.parse(text)!
            return .object(["input": .string(text), "micros": .string(String(v)), "formatted": .string(Timestamp.format(v))])
        } + ["2024-02-30", "2024-13-01", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00", "24-01-01", "2024-01-01T00:00:00.Z"].map {
            .object(["input": .string($0), "invalid": true])
        })
    }
}
