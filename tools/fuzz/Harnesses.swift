import NEDBQuery
import NEDBStore
import NEDBState

/// One harness per parser of untrusted bytes. Each takes any bytes and must return normally:
/// an error is the right answer to garbage, a trap (or a sanitizer report) is a bug.
enum Harnesses {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "record": record, "segment": segment, "block": block, "manifest": manifest, "replay": replay, "keys": keys,
        "checkpoint": checkpoint, "proof": proof, "note": note, "json": json, "nql": nql,
    ]

    /// A record frame and its body (FORMAT §3).
    static func record(_ bytes: [UInt8]) {
        if case let .frame(view) = bytes.withUnsafeBytes({ Frame.parse($0, at: 0) }) {
            _ = try? RecordCodec.decode(type: view.type, bytes: bytes, bodyStart: view.bodyRange.lowerBound, bodyEnd: view.bodyRange.upperBound,
                                        location: Location(), options: RecordCodec.Options(checkCanonicalDocuments: true))
        }
        guard let type = bytes.first else { return }
        if let r = try? RecordCodec.decode(type: RecordType(rawValue: type), bytes: bytes, bodyStart: 1, bodyEnd: bytes.count,
                                           location: Location(), options: RecordCodec.Options(checkCanonicalDocuments: true)) {
            _ = try? RecordCodec.validateForWriting(r)
            _ = RecordCodec.encodeBody(r)
        }
        _ = bytes.withUnsafeBytes { StructureCheck.check(type: RecordType(rawValue: type), body: UnsafeRawBufferPointer(rebasing: $0[1...])) }
    }

    /// A whole segment file (header, frames, footer) through the scanner and a read-only open
    /// of a store made of it (FORMAT §2.3, §7, §13).
    static func segment(_ bytes: [UInt8]) {
        let fs = MemoryFileSystem()
        try? fs.createDirectories("/s/segments")
        fs.setContents("/s/segments/" + SegmentName.make(firstSeq: 0), bytes)
        if let file = try? SegmentFile.open(fs: fs, path: "/s/segments/" + SegmentName.make(firstSeq: 0)) {
            if let footer = file.footer {
                _ = try? footer.recordOffsets(file: nil, reader: file.reader)
                _ = try? footer.levels(hasher: MerkleHasher(file.header.hashAlgorithm), file: nil, reader: file.reader)
                _ = try? footer.frontier(hasher: MerkleHasher(file.header.hashAlgorithm), file: nil, reader: file.reader)
                _ = try? footer.blocks(file: nil, reader: file.reader)
            }
            var scanner = PrehashingScanner(file.scanner(), algorithm: file.header.hashAlgorithm, previous: file.header.previousChain,
                                            chainHashes: true)
            var events = 0
            while events < 100_000, let next = try? scanner.next() {
                if case let .record(frame) = next.event { _ = try? frame.decode(file: nil) }
                events += 1
            }
        }
        _ = StoreVerifier.verify(directory: "/s", fs: fs)
        var options = StoreOptions()
        options.fileSystem = fs
        options.readOnly = true
        options.allowDamaged = true
        if let store = try? LogStore.open("/s", options: options) {
            if let (state, _) = try? StateLoader.load(store: store) {
                _ = try? QueryExecutor(state: state, head: store.lastSeq, useIndexes: true, rowCache: nil).run("FROM users")
            }
            if store.count > 0 { _ = try? store.record(0); _ = try? store.record(store.lastSeq) }
        }
    }

    /// A compressed block (FORMAT §8).
    static func block(_ bytes: [UInt8]) {
        _ = try? CompressedBlock.parseHeader(bytes, location: Location())
        _ = try? CompressedBlock.decode(bytes, location: Location())
    }

    static func manifest(_ bytes: [UInt8]) {
        if let m = try? Manifest.decode(bytes) { _ = StoreWitnesses.witnesses(of: m, file: "MANIFEST") }
    }

    static func replay(_ bytes: [UInt8]) { _ = try? ReplayFileHeader.decode(bytes, file: nil) }

    static func keys(_ bytes: [UInt8]) {
        if let file = try? KeyFile.decode(bytes) { _ = try? file.unwrapAll(tmk: [UInt8](repeating: 7, count: 32)) }
        _ = try? MasterKey.parseKeyText(String(decoding: bytes, as: UTF8.self))
    }

    /// A checkpoint container and the state encoding inside it (FORMAT §10, STATE §7).
    static func checkpoint(_ bytes: [UInt8]) {
        for payload in [bytes, Array(bytes.dropFirst(min(bytes.count, CheckpointHeader.length)))] {
            if let file = try? CheckpointFile(bytes: MappedBytes(bytes: payload), file: nil) {
                _ = try? file.verifyAllPages()
                if let snapshot = try? StateSnapshot(file: file) { exercise(snapshot) }
            }
            if let snapshot = try? StateSnapshot(payload: payload) { exercise(snapshot) }
        }
    }

    static func exercise(_ snapshot: StateSnapshot) {
        guard let state = try? DatabaseState(base: snapshot) else { return }
        for c in ((try? state.collectionNames()) ?? []).prefix(8) {
            for id in ((try? state.ids(collection: c)) ?? []).prefix(16) {
                _ = try? state.versions(collection: c, id: id)
                _ = try? state.document(collection: c, id: id, at: ReadPoint(asOf: snapshot.seq))
                _ = try? state.outgoing(from: "\(c):\(id)", relation: nil, at: snapshot.seq)
                _ = try? state.incoming(to: "\(c):\(id)", relation: nil, at: snapshot.seq)
            }
        }
        for def in state.indexes().prefix(8) {
            let index = IndexID(collection: def.collection, field: def.field, kind: def.kind)
            _ = try? state.postingKeys(index)
            _ = try? state.orderedPostingLists(index)
        }
        _ = try? state.effects(of: 1, asOf: snapshot.seq)
        _ = try? state.idempotencySeq("k")
        _ = try? SnapshotWriter.encode(state)
    }

    /// A proof file, checked against a fixed key (PROOFS.md).
    static let signer: NoteSigner? = {
        guard let key = try? Ed25519.SigningKey(seed: [UInt8](repeating: 3, count: 32)) else { return nil }
        return try? NoteSigner(name: "fuzz", key: key)
    }()
    static let verifier: NoteVerifier? = signer?.verifier

    static func proof(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self), let proof = try? ProofFile.parse(text) else { return }
        _ = proof.encoded
        if let verifier {
            _ = try? proof.verifyRecord(verifier: verifier)
            _ = try? proof.verifyConsistency(verifier: verifier)
        }
    }

    static func note(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let note = try? SignedNote.parse(text) {
            _ = try? TreeCheckpoint.parse(note.text)
            if let verifier { _ = note.isSigned(by: verifier) }
        }
        _ = try? NoteVerifier(encoded: text)
        _ = try? NoteSigner(encoded: text)
    }

    /// JSON: whatever parses must canonicalise to text that parses back to the same value.
    static func json(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        let canonical = JCS.serialize(value)
        guard let again = try? JSONParser.parse(canonical), again == value, JCS.serialize(again) == canonical else {
            fatalError("JCS round trip changed \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
    }

    static func nql(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        if let q = try? QueryParser.parse(text), let state = emptyState {
            _ = try? QueryExecutor(state: state, head: 0, useIndexes: true, rowCache: nil).run(q)
        }
    }

    nonisolated(unsafe) static let emptyState: DatabaseState? = try? DatabaseState()
}
