import Testing
@testable import NEDBFormat

@Suite struct ContainerTests {
    @Test func segmentHeaderRoundTripAndChecks() throws {
        let h = SegmentHeader(hashAlgorithm: .blake2b256, encrypted: true, compressed: false, storeId: StoreID.random(),
                              segmentNumber: 3, firstSeq: 300, previousChain: Hash32(bytes: [UInt8](repeating: 5, count: 32))!,
                              created: 12345)
        let bytes = h.encode()
        #expect(bytes.count == 128)
        #expect(try SegmentHeader.decode(bytes) == h)
        var bad = bytes
        bad[50] ^= 1
        #expect { try SegmentHeader.decode(bad) } throws: { ($0 as? FormatError)?.id == "checksum_mismatch" }
        bad = bytes
        bad[0] = 0
        #expect { try SegmentHeader.decode(bad) } throws: { ($0 as? FormatError)?.id == "bad_magic" }
        #expect { try SegmentHeader.decode(Array(bytes[0..<60])) } throws: { ($0 as? FormatError)?.id == "truncated" }
        #expect(SegmentName.make(firstSeq: 300) == "00000000000000000300.nseg")
        #expect(SegmentName.parse("00000000000000000300.nseg") == 300)
        #expect(SegmentName.parse("300.nseg") == nil)
    }

    @Test func manifestRoundTrip() throws {
        let m = Manifest(hashAlgorithm: .sha256, encrypted: false, storeId: StoreID.random(), generation: 7, written: 99,
                         segments: [Manifest.Entry(segmentNumber: 0, firstSeq: 0, lastSeq: 9, state: .sealed, fileSize: 1000, chainHead: .zero),
                                    Manifest.Entry(segmentNumber: 1, firstSeq: 10, lastSeq: 10, state: .active, fileSize: 128, chainHead: .zero)])
        #expect(try Manifest.decode(m.encode()) == m)
        var bad = m.encode()
        bad[70] ^= 1
        #expect(throws: FormatError.self) { try Manifest.decode(bad) }
    }

    @Test func checkpointContainerRoundTripPlainAndEncrypted() throws {
        let id = StoreID.random()
        let state = Array("some state bytes".utf8) + [UInt8](repeating: 1, count: 500)
        let dek = DataKey(keyId: 2, fromSeq: 0, key: SecureRandom.bytes(32))
        for key in [nil, dek] {
            let built = try CheckpointContainer.build(state: state, stateVersion: 1, hashAlgorithm: .blake2b256, storeId: id, seq: 10,
                                                      chainHead: .zero, root: .zero, created: 5, key: key)
            let parsed = try CheckpointContainer.parse(built.bytes, file: "c")
            #expect(parsed.hash == built.hash)
            let ring = key.map { Keyring(storeId: id, keys: [$0.keyId: $0]) }
            #expect(try CheckpointContainer.openPayload(parsed.payload, header: parsed.header, keyring: ring, file: "c") == state)
            var bad = built.bytes
            bad[CheckpointHeader.length + 3] ^= 1
            #expect { try CheckpointContainer.parse(bad, file: "c") } throws: { ($0 as? FormatError)?.id == "checkpoint_mismatch" }
        }
    }

    @Test func keyFileRotationRewrapsWithoutChangingDataKeys() throws {
        let id = StoreID.random()
        let master = try MasterKey(raw: SecureRandom.bytes(32))
        let (file, ring) = try KeyFile.create(storeId: id, master: master)
        let decoded = try KeyFile.decode(file.encode())
        #expect(decoded == file)
        let newMaster = try MasterKey(passphrase: "correct horse", opsLimit: 1, memLimit: 8192)
        let rotated = try decoded.rewrapped(oldTMK: master.key, newMaster: newMaster)
        #expect(rotated.source == .passphrase)
        let again = try MasterKey.forKeyFile(rotated, passphrase: "correct horse")
        #expect(try rotated.unwrapAll(tmk: again.key).keys[0]?.key == ring.keys[0]?.key)
        #expect { try rotated.unwrapAll(tmk: master.key) } throws: { ($0 as? FormatError)?.id == "wrong_key" }
        #expect(try MasterKey.parseKeyText(Hex.encode(master.key) + "\n") == master.key)
        #expect(try MasterKey.parseKeyText(Base64.encode(master.key)) == master.key)
    }

    @Test func signedCheckpointNotes() throws {
        let signer = try NoteSigner(name: "example.org/log", key: try Ed25519.SigningKey(seed: [UInt8](repeating: 1, count: 32)))
        let parsedSigner = try NoteSigner(encoded: signer.encoded)
        #expect(parsedSigner.key.publicKey == signer.key.publicKey)
        let verifier = try NoteVerifier(encoded: signer.verifier.encoded)
        let checkpoint = TreeCheckpoint(origin: "example.org/log", lastSeq: 9, root: HashAlgorithm.blake2b256.hash([1]),
                                        chainHead: HashAlgorithm.blake2b256.hash([2]), algorithm: .blake2b256)
        let note = SignedNote.sign(text: checkpoint.text, with: [signer])
        let parsed = try SignedNote.parse(note.encoded)
        #expect(parsed == note)
        #expect(parsed.isSigned(by: verifier))
        #expect(try TreeCheckpoint.parse(parsed.text) == checkpoint)
        #expect(checkpoint.size == 10 && checkpoint.chainHead == HashAlgorithm.blake2b256.hash([2]))
        var tampered = note
        tampered.text = tampered.text.replacingFirst("10\n", with: "11\n")
        #expect(!tampered.isSigned(by: verifier))
        let other = try NoteSigner(name: "other", key: try Ed25519.SigningKey(seed: [UInt8](repeating: 2, count: 32)))
        #expect(!note.isSigned(by: other.verifier))
        #expect(throws: FormatError.self) { try SignedNote.parse("no blank line\n") }
        #expect(throws: FormatError.self) { try NoteVerifier(encoded: "name+00000000+" + Base64.encode([1] + signer.key.publicKey)) }
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a, options: .forwards) else { return self }
        return String(self[..<r.lowerBound]) + b + String(self[r.upperBound...])
    }
}
