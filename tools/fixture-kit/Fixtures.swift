import NEDBFormat

/// The golden fixture stores (fixtures/) and what verifying each must report.
public enum Fixtures {
    /// The master key of the encrypted fixture (also written to fixtures/encrypted.key).
    public static let encryptedKey: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    /// What verifying a fixture must find.
    public struct Expectation: Sendable {
        public var name: String
        public var description: String
        /// Error ids `StoreVerifier` reports (sorted, unique); empty for a valid store.
        public var errors: [String]
        /// The error id a tool reports as the verdict (the first one in log order).
        public var primary: String?
        /// The seq of the last record of the verified prefix.
        public var headSeq: UInt64?
        public var keyFile: String?

        public var json: JSONValue {
            var o: [String: JSONValue] = [
                "name": .string(name), "description": .string(description),
                "errors": .array(errors.map { .string($0) }),
                "verdict": .string(primary ?? "ok"),
                "exit_code": .number(errors.isEmpty ? 0 : 1),
            ]
            if let headSeq { o["head_seq"] = .number(Double(headSeq)) }
            if let keyFile { o["key_file"] = .string(keyFile) }
            return .object(o)
        }
    }

    static func storeId(_ n: UInt8) -> StoreID { StoreID(bytes: (0..<16).map { UInt8($0) &* 17 &+ n })! }

    static func builder(seed: UInt64, count: Int, perSegment: Int, algorithm: HashAlgorithm = .blake2b256,
                        encrypted: Bool = false) throws -> LogBuilder {
        var options = LogBuilder.Options(storeId: storeId(UInt8(truncatingIfNeeded: seed)))
        options.algorithm = algorithm
        options.recordsPerSegment = perSegment
        options.origin = "nedb.example/fixture-\(seed)"
        options.nonceSeed = Array("fixture-nonce-\(seed)".utf8)
        if encrypted {
            options.encryption = (try MasterKey(raw: encryptedKey), (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) })
        }
        let builder = try LogBuilder(options: options)
        var data = SampleData(seed: seed)
        for r in data.records(count: count) { try builder.append(r) }
        return builder
    }

    /// Writes every fixture store and its `.expected` file into `directory`.
    public static func generate(into directory: String) throws -> [Expectation] {
        let fs = PosixFileSystem()
        try fs.createDirectory(directory)
        var out: [Expectation] = []
        func path(_ name: String) -> String { PathUtil.join(directory, name) }
        func fresh(_ name: String) throws -> String {
            let p = path(name)
            if fs.exists(p) { try fs.remove(p) }
            return p
        }
        func segment(_ store: String, _ firstSeq: UInt64) -> String {
            PathUtil.join(PathUtil.join(path(store), "segments"), SegmentName.make(firstSeq: firstSeq))
        }

        // Valid stores.
        let small = try builder(seed: 1, count: 24, perSegment: 1000)
        try small.write(to: try fresh("valid-small"))
        out.append(Expectation(name: "valid-small", description: "24 records after genesis in one active segment",
                               errors: [], primary: nil, headSeq: 24))

        let multi = try builder(seed: 2, count: 600, perSegment: 100)
        try multi.write(to: try fresh("multi-segment"), compress: { $0 % 2 == 1 })
        out.append(Expectation(name: "multi-segment", description: "601 records in 7 segments; 6 sealed, segments 1, 3 and 5 compressed",
                               errors: [], primary: nil, headSeq: 600))

        let enc = try builder(seed: 3, count: 150, perSegment: 100, encrypted: true)
        try enc.write(to: try fresh("encrypted"), compress: { $0 == 0 })
        try FileEdits.write(Array((Hex.encode(encryptedKey) + "\n").utf8), to: path("encrypted.key"))
        out.append(Expectation(name: "encrypted", description: "AES-256-GCM encrypted store (key in encrypted.key), 2 segments, the first compressed",
                               errors: [], primary: nil, headSeq: 150, keyFile: "encrypted.key"))

        let sha = try builder(seed: 4, count: 12, perSegment: 1000, algorithm: .sha256)
        try sha.write(to: try fresh("sha256"))
        out.append(Expectation(name: "sha256", description: "a store using SHA-256 instead of BLAKE2b-256",
                               errors: [], primary: nil, headSeq: 12))

        // Crash damage.
        try small.write(to: try fresh("torn-tail"))
        var bytes = try FileEdits.read(segment("torn-tail", 0))
        bytes.removeLast(20)
        try FileEdits.write(bytes, to: segment("torn-tail", 0))
        out.append(Expectation(name: "torn-tail", description: "the last record is cut short, as by a crash mid-write",
                               errors: ["torn_tail"], primary: "torn_tail", headSeq: 23))

        try small.write(to: try fresh("torn-tail-zeros"))
        bytes = try FileEdits.read(segment("torn-tail-zeros", 0))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 300))
        try FileEdits.write(bytes, to: segment("torn-tail-zeros", 0))
        out.append(Expectation(name: "torn-tail-zeros", description: "300 zero bytes after the last record (an extended but unwritten tail)",
                               errors: ["torn_tail"], primary: "torn_tail", headSeq: 24))

        // Corruption and tampering in the active segment of the small store.
        let frames = try FileEdits.frames(in: segment("valid-small", 0))
        let target = frames[10]           // seq 10
        func editSmall(_ name: String, _ edit: (inout [UInt8]) -> Void) throws {
            try small.write(to: try fresh(name))
            var b = try FileEdits.read(segment(name, 0))
            edit(&b)
            try FileEdits.write(b, to: segment(name, 0))
        }
        try editSmall("flipped-payload") { b in b[target.offset + target.length - 60] ^= 0x01 }
        out.append(Expectation(name: "flipped-payload", description: "one bit flipped inside record 10 (its CRC no longer matches)",
                               errors: ["checksum_mismatch"], primary: "checksum_mismatch", headSeq: 9))

        try editSmall("tampered-payload") { b in
            b[target.offset + target.length - 60] ^= 0x01
            FileEdits.fixCRC(&b, frameAt: target.offset)
        }
        out.append(Expectation(name: "tampered-payload", description: "record 10 edited and its CRC recomputed: the hash no longer matches",
                               errors: ["hash_mismatch"], primary: "hash_mismatch", headSeq: 9))

        try editSmall("tampered-relinked") { b in
            b[target.offset + target.length - 60] ^= 0x01
            let previous = FileEdits.storedChain(b, frameAt: frames[9].offset)
            FileEdits.fixChain(&b, frameAt: target.offset, previous: previous, algorithm: .blake2b256)
        }
        out.append(Expectation(name: "tampered-relinked", description: "record 10 edited with its own hash and CRC recomputed: record 11 no longer links",
                               errors: ["hash_mismatch"], primary: "hash_mismatch", headSeq: 10))

        try editSmall("unsupported-version") { b in
            b[8] = 2    // read version 2
            let crc = CRC32C.checksum(Array(b[0..<124]))
            for i in 0..<4 { b[124 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        }
        out.append(Expectation(name: "unsupported-version", description: "the segment header demands reader version 2",
                               errors: ["unsupported_version"], primary: "unsupported_version", headSeq: nil))

        // Damage in sealed segments of the multi-segment store.
        func copyMulti(_ name: String) throws { try multi.write(to: try fresh(name), compress: { $0 % 2 == 1 }) }
        try copyMulti("flipped-hash")
        let seg2 = segment("flipped-hash", 200)
        bytes = try FileEdits.read(seg2)
        let seg2Frames = try FileEdits.frames(in: seg2)
        let f = seg2Frames[5]
        bytes[f.offset + f.length - 10] ^= 0x80       // inside the stored chain hash of seq 205
        try FileEdits.write(bytes, to: seg2)
        out.append(Expectation(name: "flipped-hash", description: "one bit flipped in the stored hash of record 205 (sealed segment 2)",
                               errors: ["checksum_mismatch"], primary: "checksum_mismatch", headSeq: 204))

        try copyMulti("flipped-footer")
        let seg4 = segment("flipped-footer", 400)
        bytes = try FileEdits.read(seg4)
        let segFile = try SegmentFile.open(fs: fs, path: seg4)
        let mrkl = segFile.footer!.chunk("MRKL")!
        bytes[Int(mrkl.offset) + 100] ^= 0x04
        try FileEdits.write(bytes, to: seg4)
        out.append(Expectation(name: "flipped-footer", description: "one bit flipped in the Merkle chunk of sealed segment 4's footer",
                               errors: ["checksum_mismatch"], primary: "checksum_mismatch", headSeq: 600))

        try copyMulti("missing-segment")
        try fs.remove(segment("missing-segment", 300))
        out.append(Expectation(name: "missing-segment", description: "segment 3 (seqs 300…399) deleted",
                               errors: ["manifest_mismatch", "missing_segment"], primary: "missing_segment", headSeq: 299))

        try copyMulti("reordered-segment")
        let a = segment("reordered-segment", 200), b = segment("reordered-segment", 300)
        try fs.rename(a, to: a + ".swap")
        try fs.rename(b, to: a)
        try fs.rename(a + ".swap", to: b)
        out.append(Expectation(name: "reordered-segment", description: "the files of segments 2 and 3 swapped names",
                               errors: ["manifest_mismatch", "reordered_segment"], primary: "reordered_segment", headSeq: 199))

        for e in out {
            try FileEdits.write(Array(PrettyJSON.render(e.json).utf8), to: path(e.name + ".expected"))
        }
        return out
    }
}
