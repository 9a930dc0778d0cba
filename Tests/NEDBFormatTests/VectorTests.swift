import Testing
import Foundation
@testable import NEDBFormat
import NEDBFixtureKit
import NEDBState

/// The spec vectors are checked by decoding them with the library, not only by regenerating.
@Suite struct VectorTests {
    static func load(_ name: String) throws -> JSONValue {
        try JSONParser.parse(try String(contentsOfFile: Repo.vectors + "/" + name, encoding: .utf8))
    }

    static func bytes(_ v: JSONValue?) -> [UInt8] { Hex.decode(v?.stringValue ?? "") ?? [] }
    static func hash(_ v: JSONValue?) -> Hash32? { Hash32(hex: v?.stringValue ?? "") }

    @Test func jcsVectors() throws {
        for v in try VectorTests.load("jcs.json").arrayValue ?? [] {
            let canonical = try JCS.canonicalize(v["input"]!.stringValue!)
            #expect(String(decoding: canonical, as: UTF8.self) == v["canonical"]?.stringValue)
        }
    }

    @Test func recordVectorsDecodeAndChain() throws {
        let vectors = try VectorTests.load("records.json").arrayValue ?? []
        #expect(vectors.count == 28)   // 14 records (every record type but pruned, which pruning.json holds) × 2 algorithms
        for v in vectors {
            let alg = HashAlgorithm(name: v["algorithm"]!.stringValue!)!
            let type = RecordType(rawValue: UInt8(v["type_byte"]!.numberValue!))
            let body = VectorTests.bytes(v["body_hex"])
            let record = try RecordCodec.decode(type: type, bytes: body, bodyStart: 0, bodyEnd: body.count)
            #expect(RecordJSON.encode(record) == v["fields"])
            let previous = VectorTests.hash(v["previous_chain"])!
            #expect(ChainHasher(alg).chain(previous: previous, type: type, body: body) == VectorTests.hash(v["chain"]))
            let frame = VectorTests.bytes(v["frame_hex"])
            guard case let .frame(view) = frame.withUnsafeBytes({ Frame.parse($0, at: 0) }) else {
                Issue.record("frame does not parse"); continue
            }
            #expect(view.crcValid && view.storedChain == VectorTests.hash(v["chain"]))
        }
    }

    @Test func merkleVectors() throws {
        for v in try VectorTests.load("merkle.json").arrayValue ?? [] {
            let hasher = MerkleHasher(HashAlgorithm(name: v["algorithm"]!.stringValue!)!)
            let leaves = (v["leaf_data"]!.arrayValue!).map { hasher.leaf(VectorTests.bytes($0)) }
            #expect(leaves.map(\.hex) == v["leaf_hashes"]!.arrayValue!.compactMap(\.stringValue))
            var roots: [UInt64: Hash32] = [:]
            for r in v["roots"]!.arrayValue! { roots[UInt64(r["size"]!.numberValue!)] = VectorTests.hash(r["root"]) }
            #expect(roots[0] == hasher.emptyRoot)
            for p in v["inclusion"]!.arrayValue! {
                let n = UInt64(p["size"]!.numberValue!), m = UInt64(p["index"]!.numberValue!)
                let path = p["path"]!.arrayValue!.compactMap { VectorTests.hash($0) }
                #expect(MerkleVerifier.verifyInclusion(hasher: hasher, leafHash: leaves[Int(m)], index: m, size: n, path: path, root: roots[n]!))
            }
            for p in v["consistency"]!.arrayValue! {
                let a = UInt64(p["old_size"]!.numberValue!), b = UInt64(p["new_size"]!.numberValue!)
                let proof = p["proof"]!.arrayValue!.compactMap { VectorTests.hash($0) }
                #expect(MerkleVerifier.verifyConsistency(hasher: hasher, oldSize: a, newSize: b, oldRoot: roots[a]!, newRoot: roots[b]!, proof: proof))
            }
        }
    }

    @Test func noteVectors() throws {
        let v = try VectorTests.load("notes.json")
        let verifier = try NoteVerifier(encoded: v["verifier_key"]!.stringValue!)
        let note = try SignedNote.parse(v["signed_note"]!.stringValue!)
        #expect(note.isSigned(by: verifier))
        #expect(note.text == v["checkpoint_text"]?.stringValue)
        #expect(try NoteSigner(encoded: v["signer_key"]!.stringValue!).verifier == verifier)
        // The key id is 8 hex digits (§11), the one inside both key texts.
        let keyId = try #require(v["key_id"]?.stringValue)
        #expect(keyId.count == 8 && keyId == NoteKeys.hex8(verifier.keyId))
        #expect(v["verifier_key"]!.stringValue!.split(separator: "+")[1] == Substring(keyId))
        let checkpoint = try TreeCheckpoint.parse(note.text)
        #expect(checkpoint.size == 7 && checkpoint.hashAlgorithm == .blake2b256)
    }

    @Test func encryptionVectors() throws {
        let v = try VectorTests.load("encryption.json")
        let storeId = StoreID(hex: v["store_id"]!.stringValue!)!
        let keyFile = try KeyFile.decode(VectorTests.bytes(v["key_file_hex"]))
        let ring = try keyFile.unwrapAll(tmk: VectorTests.bytes(v["tmk"]))
        #expect(ring.keys[0]?.key == VectorTests.bytes(v["dek"]))
        let seq = UInt64(v["record_seq"]!.numberValue!)
        let recordKey = KeyDerivation.recordKey(dek: VectorTests.bytes(v["dek"]), storeId: storeId, seq: seq)
        #expect(recordKey == VectorTests.bytes(v["record_key"]))
        #expect(KeyDerivation.commitment(recordKey: recordKey) == VectorTests.hash(v["key_commitment"]))
        let body = VectorTests.bytes(v["body_hex"])
        let sealed = try RecordCodec.decode(type: .put, bytes: body, bodyStart: 0, bodyEnd: body.count)
        let opened = try RecordSealer.open(sealed, recordKey: recordKey, storeId: storeId, location: Location())
        #expect(opened.collection == "users" && opened.id == "alice")
        let inner = try AESGCM.open(Array(sealed.sealed![12...]), key: recordKey, nonce: VectorTests.bytes(v["record_nonce"]),
                                    aad: VectorTests.bytes(v["record_aad"]))
        #expect(inner == VectorTests.bytes(v["plaintext_fields_hex"]))
        let derived = try MasterKey(passphrase: v["passphrase"]!.stringValue!, salt: VectorTests.bytes(v["passphrase_salt"]),
                                    opsLimit: 1, memLimit: 8192)
        #expect(derived.key == VectorTests.bytes(v["passphrase_key"]))
    }

    @Test func segmentVectors() throws {
        let v = try VectorTests.load("segment.json")
        for key in ["segment_hex", "compressed_segment_hex"] {
            let fs = MemoryFileSystem()
            try fs.createDirectory("/s")
            try fs.createDirectory("/s/segments")
            fs.setContents("/s/segments/" + SegmentName.make(firstSeq: 0), VectorTests.bytes(v[key]))
            var options = VerifyOptions()
            options.checkManifest = false
            options.checkDocuments = true
            let report = StoreVerifier.verify(directory: "/s", fs: fs, options: options)
            #expect(report.ok, "\(key): \(report.issues)")
            #expect(report.head?.chain == VectorTests.hash(v["chain_head"]))
            #expect(report.head?.root == VectorTests.hash(v["merkle_root"]))
            #expect(report.segments.first?.compressed == (key == "compressed_segment_hex"))
        }
    }

    @Test func timestampVectors() throws {
        for v in try VectorTests.load("timestamps.json").arrayValue ?? [] {
            let input = v["input"]!.stringValue!
            if v["invalid"] != nil {
                #expect(Timestamp.parse(input) == nil, "\(input)")
            } else {
                let micros = Timestamp.parse(input)
                #expect(micros.map { String($0) } == v["micros"]?.stringValue)
                #expect(micros.map(Timestamp.format) == v["formatted"]?.stringValue)
            }
        }
    }

    @Test func checkpointVector() throws {
        let v = try VectorTests.load("checkpoint.json")
        let bytes = VectorTests.bytes(v["checkpoint_hex"])
        let parsed = try CheckpointContainer.parse(bytes, file: nil)
        #expect(parsed.hash == VectorTests.hash(v["checkpoint_hash"]))
        #expect(parsed.payload == VectorTests.bytes(v["state_encoding_hex"]))
        #expect(parsed.header.seq == 10 && parsed.header.chainHead == VectorTests.hash(v["chain"]) && parsed.header.root == VectorTests.hash(v["root"]))
        #expect(HashAlgorithm.blake2b256.hash(parsed.payload) == VectorTests.hash(v["state_digest"]))
        // The same state, compressed, and compressed then encrypted (FORMAT §10, §12.4): both open to the same encoding.
        let dek: [UInt8] = (0..<32).map { UInt8(0x80 + $0) }
        let storeId = parsed.header.storeId
        #expect(KeyDerivation.checkpointKey(dek: dek, storeId: storeId, seq: 10) == VectorTests.bytes(v["checkpoint_key"]))
        let keyring = Keyring(storeId: storeId, keys: [0: DataKey(keyId: 0, fromSeq: 0, key: dek)])
        for (file, hash, encrypted) in [("compressed_checkpoint_hex", "compressed_checkpoint_hash", false), ("encrypted_checkpoint_hex", "encrypted_checkpoint_hash", true)] {
            let other = try CheckpointContainer.parse(VectorTests.bytes(v[file]), file: nil)
            #expect(other.hash == VectorTests.hash(v[hash]) && other.header.compressed && other.header.encrypted == encrypted)
            let opened = try CheckpointContainer.openPayload(other.payload, header: other.header, keyring: keyring, file: nil)
            #expect(opened == parsed.payload)
        }
        // Postings of all three index kinds, and a dropped index, are in the state.
        let definitions = try StateSnapshot(payload: parsed.payload).indexDefinitions()
        #expect(definitions.map(\.kind) == [.eq, .ordered, .search] && definitions[0].droppedSeq == 10)
    }

    /// Data-key rotation adds a DEK from a seq; master-key rotation rewraps every DEK (FORMAT §12.2).
    @Test func keyRotationVectors() throws {
        let v = try VectorTests.load("encryption.json")
        let rotated = try KeyFile.decode(VectorTests.bytes(v["key_file_after_data_key_rotation_hex"]))
        let ring = try rotated.unwrapAll(tmk: VectorTests.bytes(v["tmk"]))
        #expect(ring.keys[0]?.key == VectorTests.bytes(v["dek"]) && ring.keys[1]?.key == VectorTests.bytes(v["rotated_dek"]))
        #expect(ring.keys[1]?.fromSeq == 12 && ring.current?.keyId == 1)
        let rewrapped = try KeyFile.decode(VectorTests.bytes(v["key_file_after_master_key_rotation_hex"]))
        #expect(throws: FormatError.self) { try rewrapped.unwrapAll(tmk: VectorTests.bytes(v["tmk"])) }
        let again = try rewrapped.unwrapAll(tmk: VectorTests.bytes(v["new_tmk"]))
        #expect(again.keys.mapValues(\.key) == ring.keys.mapValues(\.key))
        #expect(again.keys.mapValues(\.fromSeq) == ring.keys.mapValues(\.fromSeq))
    }

    @Test func pruningVector() throws {
        let v = try VectorTests.load("pruning.json")
        let body = VectorTests.bytes(v["pruned_body_hex"])
        let pruned = try RecordCodec.decode(type: .pruned, bytes: body, bodyStart: 0, bodyEnd: body.count)
        #expect(RecordJSON.encode(pruned) == v["pruned_fields"])
        let storeId = try #require(StoreID(hex: v["store_id"]!.stringValue!))
        let key = try #require(KeyDerivation.prunedDigestKey(storeId: storeId, encrypted: false, keyring: nil))
        #expect(key == VectorTests.bytes(v["digest_key"]))
        #expect(KeyedBlake2b.hash(key: key, message: VectorTests.bytes(v["digest_input_hex"])) == pruned.keyDigest)
        let compactionBody = VectorTests.bytes(v["compaction_body_hex"])
        let compaction = try RecordCodec.decode(type: .compaction, bytes: compactionBody, bodyStart: 0, bodyEnd: compactionBody.count)
        #expect(compaction.prunedSet == HashAlgorithm.blake2b256.hash(VectorTests.bytes(v["pruned_set_input_hex"])))
        #expect(compaction.prunedSet == KeyDerivation.prunedSet([pruned.seq]) && pruned.prunedBy == compaction.seq)
        // The frame keeps the original record's chain hash (records.json, BLAKE2b, seq 1).
        let original = try VectorTests.load("records.json").arrayValue!.first { $0["algorithm"]?.stringValue == "blake2b-256" && $0["fields"]?["seq"]?.numberValue == 1 }
        #expect(original?["chain"] == v["stored_chain"])
        let frame = VectorTests.bytes(v["pruned_frame_hex"])
        guard case let .frame(view) = frame.withUnsafeBytes({ Frame.parse($0, at: 0) }) else { Issue.record("frame does not parse"); return }
        #expect(view.crcValid && view.storedChain == VectorTests.hash(v["stored_chain"]))
    }

    @Test func generatorReproducesTheVectors() throws {
        let temp = TempDir("vectors")
        let count = try Vectors.generate(into: temp.path)
        let names = try FileManager.default.contentsOfDirectory(atPath: Repo.vectors).sorted()
        #expect(names.count == count)
        for name in names {
            let a = try String(contentsOfFile: Repo.vectors + "/" + name, encoding: .utf8)
            let b = try String(contentsOfFile: temp.path + "/" + name, encoding: .utf8)
            #expect(a == b, "\(name) differs from the generator's output")
        }
    }
}
