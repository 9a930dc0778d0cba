import Testing
@testable import NEDBFormat

@Suite struct RecordCodecTests {
    static func samplePut(seq: UInt64 = 42) -> Record {
        var r = Record(type: .put, seq: seq, time: 1_700_000_000_123_456)
        r.collection = "users"; r.id = "alice"
        r.document = JCS.serialize(["name": "Alice", "age": 31])
        r.validFrom = 1_704_067_200_000_000; r.validTo = 1_735_689_600_000_000
        r.causedBy = [3, 7]; r.evidence = "user_message"; r.confidence = 0.95
        r.client = "app-1"; r.nonce = 9; r.idempotencyKey = "k-1"
        r.transaction = TransactionMark(firstSeq: 41, count: 2)
        return r
    }

    @Test func everyTypeRoundTrips() throws {
        var records: [Record] = [RecordCodecTests.samplePut()]
        var d = Record(type: .delete, seq: 5, time: 1); d.collection = "c"; d.id = "x:y"; records.append(d)
        var l = Record(type: .link, seq: 6, time: 2); l.collection = "users"; l.id = "a"; l.relation = "follows"
        l.targetCollection = "users"; l.targetId = "b"; records.append(l)
        var i = Record(type: .defineIndex, seq: 7, time: 3); i.collection = "users"; i.indexField = "address.city"; i.indexKind = .ordered
        records.append(i)
        var g = Record(type: .genesis, seq: 0, time: 0); g.storeId = StoreID.random(); g.hashAlgorithm = .sha256
        g.encryption = EncryptionMode.none; g.origin = "example.org/x"; records.append(g)
        var c = Record(type: .checkpointMarker, seq: 9, time: 4); c.checkpointSeq = 8; c.checkpointHash = .zero; records.append(c)
        var p = Record(type: .pruned, seq: 10, time: 5); p.prunedType = .put; records.append(p)
        var a = Record(type: .annotation, seq: 11, time: 6); a.note = "hello"
        a.extraFields = [ExtraField(tag: 0x90, value: [1, 2, 3])]; records.append(a)
        for r in records {
            try RecordCodec.validateForWriting(r)
            let body = RecordCodec.encodeBody(r)
            let decoded = try RecordCodec.decode(type: r.type, bytes: body, bodyStart: 0, bodyEnd: body.count)
            #expect(decoded == r)
            #expect(RecordCodec.encodeBody(decoded) == body)
            let structural = body.withUnsafeBytes { StructureCheck.check(type: r.type, body: $0) }
            #expect(structural == nil)
        }
    }

    static func expectMalformed(_ type: RecordType, _ body: [UInt8], _ fragment: String) {
        do {
            _ = try RecordCodec.decode(type: type, bytes: body, bodyStart: 0, bodyEnd: body.count)
            Issue.record("accepted a record that should fail with '\(fragment)'")
        } catch {
            #expect(error.id == "malformed")
            #expect(error.detail.contains(fragment), "\(error.detail)")
        }
    }

    @Test func decoderRejectsEachBrokenRule() {
        var w = ByteWriter(); w.u64(1); w.i64(0)
        let headerOnly = w.bytes
        func body(_ fields: [(UInt8, [UInt8])]) -> [UInt8] {
            var b = ByteWriter(); b.append(headerOnly)
            for (t, v) in fields { b.u8(t); b.uvarint(UInt64(v.count)); b.append(v) }
            return b.bytes
        }
        let coll: (UInt8, [UInt8]) = (0x01, Array("users".utf8))
        let id: (UInt8, [UInt8]) = (0x02, Array("a".utf8))
        let doc: (UInt8, [UInt8]) = (0x03, Array("{\"a\":1}".utf8))
        RecordCodecTests.expectMalformed(.put, body([coll, id]), "lacks required field document")
        RecordCodecTests.expectMalformed(.put, body([id, coll, doc]), "strictly ascending")
        RecordCodecTests.expectMalformed(.put, body([coll, id, doc, (0x50, [1])]), "unknown critical field tag 0x50")
        RecordCodecTests.expectMalformed(.put, body([coll, id, (0x03, Array("{\"b\":1, \"a\":2}".utf8))]), "canonical")
        RecordCodecTests.expectMalformed(.put, body([coll, id, (0x03, Array("[1]".utf8))]), "JSON object")
        RecordCodecTests.expectMalformed(.put, body([(0x01, Array("us:ers".utf8)), id, doc]), "must not contain ':'")
        RecordCodecTests.expectMalformed(.put, body([coll, id, doc, (0x04, [1])]), "must be 8 bytes")
        RecordCodecTests.expectMalformed(.put, body([coll, id, doc, (0x06, [9, 0, 0, 0, 0, 0, 0, 0])]), "not earlier")
        RecordCodecTests.expectMalformed(.put, body([coll, id, doc, (0x08, Array(withUnsafeBytes(of: 1.5.bitPattern.littleEndian) { Array($0) }))]), "confidence")
        RecordCodecTests.expectMalformed(.delete, body([coll, id, doc]), "must not have field document")
        RecordCodecTests.expectMalformed(RecordType(rawValue: 0x33), headerOnly, "not marked ignorable")
        RecordCodecTests.expectMalformed(.put, [1, 2, 3], "record header")
        var overrun = headerOnly; overrun.append(contentsOf: [0x01, 0x7F, 0x61])
        RecordCodecTests.expectMalformed(.put, overrun, "claims 127 bytes")
        var nonMinimal = headerOnly; nonMinimal.append(contentsOf: [0x01, 0x81, 0x00])
        RecordCodecTests.expectMalformed(.put, nonMinimal, "varint")
    }

    @Test func unknownIgnorableTypesAndFieldsArePreserved() throws {
        var w = ByteWriter(); w.u64(3); w.i64(0); w.append([0x01, 0x02, 0xAA, 0xBB])
        let unknown = try RecordCodec.decode(type: RecordType(rawValue: 0xC4), bytes: w.bytes, bodyStart: 0, bodyEnd: w.count)
        #expect(unknown.unknownFieldBytes == [0x01, 0x02, 0xAA, 0xBB])
        #expect(RecordCodec.encodeBody(unknown) == w.bytes)
    }

    @Test func framesCarryCRCAndChain() throws {
        let hasher = ChainHasher(.blake2b256)
        let r = RecordCodecTests.samplePut()
        let body = RecordCodec.encodeBody(r)
        let previous = Hash32(bytes: [UInt8](repeating: 0xAB, count: 32))!
        let (frame, chain) = Frame.encode(type: .put, body: body, previous: previous, hasher: hasher)
        #expect(frame.count == body.count + 1 + Frame.overhead)
        #expect(chain == HashAlgorithm.blake2b256.hash([0x00] + previous.bytes + [RecordType.put.rawValue] + body))
        let parsed = frame.withUnsafeBytes { Frame.parse($0, at: 0) }
        guard case let .frame(view) = parsed else { Issue.record("not parsed"); return }
        #expect(view.crcValid && view.storedChain == chain && view.type == .put)
        for i in [0, 3, 4, 8, 20, frame.count - 1] {
            var bad = frame
            bad[i] ^= 0x10
            let p = bad.withUnsafeBytes { Frame.parse($0, at: 0) }
            if case let .frame(v) = p { #expect(!v.crcValid, "flip at \(i) passed the CRC") }
        }
        let short = Array(frame.dropLast(5))
        #expect(short.withUnsafeBytes { Frame.parse($0, at: 0) } == .incomplete(needed: frame.count, available: frame.count - 5))
    }

    @Test func sealedRecordsOpenOnlyWithTheirKey() throws {
        let storeId = StoreID.random()
        let key = DataKey(keyId: 0, fromSeq: 0, key: SecureRandom.bytes(32))
        let plain = RecordCodecTests.samplePut()
        let sealed = try RecordSealer.seal(plain, with: key, storeId: storeId)
        #expect(sealed.collection == nil && sealed.document == nil && sealed.transaction == plain.transaction)
        let body = RecordCodec.encodeBody(sealed)
        let decoded = try RecordCodec.decode(type: .put, bytes: body, bodyStart: 0, bodyEnd: body.count)
        #expect(decoded.isSealed)
        let ring = Keyring(storeId: storeId, keys: [0: key])
        var opened = try RecordSealer.open(decoded, keyring: ring, location: Location())
        opened.sealed = nil; opened.keyId = nil; opened.keyCommitment = nil
        #expect(opened == plain)
        // The per-record key opens it alone (disclosure); any other key is refused by the commitment.
        let recordKey = KeyDerivation.recordKey(dek: key.key, storeId: storeId, seq: plain.seq)
        #expect(try RecordSealer.open(decoded, recordKey: recordKey, storeId: storeId, location: Location()).document == plain.document)
        #expect(throws: FormatError.self) {
            try RecordSealer.open(decoded, recordKey: SecureRandom.bytes(32), storeId: storeId, location: Location())
        }
        // Moving the ciphertext to another seq fails authentication (AAD binds seq).
        var moved = decoded
        moved.seq = 43
        #expect(throws: FormatError.self) { try RecordSealer.open(moved, keyring: ring, location: Location()) }
    }
}
