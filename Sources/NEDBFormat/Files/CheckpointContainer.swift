/// A checkpoint (state snapshot) file (spec/FORMAT.md §10). The payload is the state encoding
/// of spec/STATE.md; this container binds it to a position in the log.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "\x89NEDBCKP" |
/// | 8 | 2 | read version | 10 | 2 | write version |
/// | 12 | 2 | header length (160) |
/// | 14 | 1 | hash algorithm id |
/// | 15 | 1 | flags: bit 0 encrypted payload, bit 1 zstd-compressed payload |
/// | 16 | 16 | store id |
/// | 32 | 8 | seq N: the state includes every record up to and including N |
/// | 40 | 32 | chain hash of record N |
/// | 72 | 32 | Merkle root of the tree of size N+1 |
/// | 104 | 8 | creation time, µs |
/// | 112 | 8 | stored payload length P |
/// | 120 | 8 | payload length before compression and encryption |
/// | 128 | 4 | state encoding version |
/// | 132 | 4 | data key id (encrypted) or 0 |
/// | 136 | 12 | AES-GCM nonce (encrypted) or zero |
/// | 148 | 8 | reserved, zero |
/// | 156 | 4 | CRC32C of bytes [0,156) |
/// | 160 | P | payload |
/// | 160+P | 32·n | page hashes: H(0x03 ‖ page) for each 4 KiB page of the payload (n pages) |
/// | … | 32·g | group hashes: H(0x04 ‖ the hashes of 256 consecutive pages) (g groups) |
/// | end−32 | 32 | checkpoint hash = H(0x02 ‖ header ‖ group hashes) |
///
/// The two levels let a reader open a large checkpoint without reading it: it checks the
/// checkpoint hash over the header and group hashes, then a group's page hashes and each page
/// the first time it touches them.
public struct CheckpointHeader: Sendable, Equatable {
    public static let length = 160
    public static let hashDomain: UInt8 = 0x02
    public static let pageDomain: UInt8 = 0x03
    public static let groupDomain: UInt8 = 0x04
    public static let pageSize = 4096
    public static let pagesPerGroup = 256

    public var hashAlgorithm: HashAlgorithm
    public var encrypted: Bool
    public var compressed: Bool
    public var storeId: StoreID
    public var seq: UInt64
    public var chainHead: Hash32
    public var root: Hash32
    public var created: Microseconds
    public var payloadLength: UInt64
    public var rawLength: UInt64
    public var stateVersion: UInt32
    public var keyId: UInt32
    public var nonce: [UInt8]

    public init(hashAlgorithm: HashAlgorithm, encrypted: Bool, compressed: Bool, storeId: StoreID, seq: UInt64,
                chainHead: Hash32, root: Hash32, created: Microseconds, payloadLength: UInt64, rawLength: UInt64,
                stateVersion: UInt32, keyId: UInt32, nonce: [UInt8]) {
        self.hashAlgorithm = hashAlgorithm; self.encrypted = encrypted; self.compressed = compressed
        self.storeId = storeId; self.seq = seq; self.chainHead = chainHead; self.root = root; self.created = created
        self.payloadLength = payloadLength; self.rawLength = rawLength; self.stateVersion = stateVersion
        self.keyId = keyId; self.nonce = nonce
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: CheckpointHeader.length)
        w.append(Magic.checkpoint)
        w.u16(FormatVersion.read); w.u16(FormatVersion.write); w.u16(UInt16(CheckpointHeader.length))
        w.u8(hashAlgorithm.rawValue); w.u8((encrypted ? 1 : 0) | (compressed ? 2 : 0))
        w.append(storeId.bytes)
        w.u64(seq); w.hash(chainHead); w.hash(root); w.i64(created)
        w.u64(payloadLength); w.u64(rawLength); w.u32(stateVersion); w.u32(keyId)
        w.append(nonce.count == 12 ? nonce : [UInt8](repeating: 0, count: 12))
        w.zeros(8)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], file: String?) throws(FormatError) -> CheckpointHeader {
        let at = Location(file: file, offset: 0)
        guard bytes.count >= length else { throw .truncated(at, needed: length, available: bytes.count) }
        guard Array(bytes[0..<8]) == Magic.checkpoint else {
            throw .badMagic(at, expected: Magic.describe(Magic.checkpoint), found: Magic.describe(Array(bytes[0..<8])))
        }
        let stored = try Peek.u32(bytes, 156)
        let computed = CRC32C.checksum(Array(bytes[0..<156]))
        guard stored == computed else {
            throw .checksumMismatch(Location(file: file, offset: 156), what: "checkpoint header", expected: computed, found: stored)
        }
        var r = ByteReader(bytes, start: 8, end: 156)
        do {
            try checkVersions(read: try r.u16(), write: try r.u16(), what: "checkpoint", location: at, forWriting: false)
            let headerLength = try r.u16()
            guard headerLength == UInt16(length) else {
                throw FormatError.malformed(Location(file: file, offset: 12), detail: "checkpoint header length \(headerLength) is not \(length)")
            }
            let algRaw = try r.u8()
            guard let alg = HashAlgorithm(rawValue: algRaw) else {
                throw FormatError.malformed(Location(file: file, offset: 14), detail: "unknown hash algorithm id \(algRaw)")
            }
            let flags = try r.u8()
            guard flags & ~0x03 == 0 else {
                throw FormatError.malformed(Location(file: file, offset: 15), detail: "unknown checkpoint flags")
            }
            guard let storeId = StoreID(bytes: try r.bytes(16)) else { throw FormatError.malformed(at, detail: "checkpoint store id") }
            return CheckpointHeader(hashAlgorithm: alg, encrypted: flags & 1 != 0, compressed: flags & 2 != 0,
                                    storeId: storeId, seq: try r.u64(), chainHead: try r.hash(),
                                    root: try r.hash(), created: try r.i64(), payloadLength: try r.u64(), rawLength: try r.u64(),
                                    stateVersion: try r.u32(), keyId: try r.u32(), nonce: try r.bytes(12))
        } catch let e as FormatError {
            throw e
        } catch let e as ByteReader.Failure {
            throw FormatError.from(e, file: file, what: "checkpoint header")
        } catch {
            throw .malformed(at, detail: "checkpoint header: \(error)")
        }
    }
}

/// Builds and opens checkpoint files.
public enum CheckpointContainer {
    public static let directory = "checkpoints"
    public static let suffix = ".nckp"

    public static func fileName(seq: UInt64) -> String {
        let digits = String(seq)
        return String(repeating: "0", count: 20 - digits.count) + digits + suffix
    }

    public static func parseName(_ name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }

    /// Builds a checkpoint file around `state` (the encoded state, spec/STATE.md).
    public static func build(state: [UInt8], stateVersion: UInt32, hashAlgorithm: HashAlgorithm, storeId: StoreID,
                             seq: UInt64, chainHead: Hash32, root: Hash32, created: Microseconds,
                             compress: Bool = true, key: DataKey? = nil,
                             nonce fixedNonce: [UInt8]? = nil) throws(FormatError) -> (bytes: [UInt8], hash: Hash32) {
        var payload = state
        if compress {
            do { payload = try Zstd.compress(state) } catch {
                throw .library(Location(), detail: "checkpoint compression failed: \(error)")
            }
        }
        var header = CheckpointHeader(hashAlgorithm: hashAlgorithm, encrypted: key != nil, compressed: compress,
                                      storeId: storeId, seq: seq, chainHead: chainHead, root: root, created: created,
                                      payloadLength: 0, rawLength: UInt64(state.count), stateVersion: stateVersion,
                                      keyId: key?.keyId ?? 0, nonce: key != nil ? (fixedNonce ?? SecureRandom.bytes(12)) : [])
        if let key {
            header.payloadLength = UInt64(payload.count + AESGCM.tagLength)
            let aad = header.encode()
            let k = KeyDerivation.checkpointKey(dek: key.key, storeId: storeId, seq: seq)
            do { payload = try AESGCM.seal(payload, key: k, nonce: header.nonce, aad: aad) } catch {
                throw .library(Location(), detail: "checkpoint encryption failed: \(error)")
            }
        } else {
            header.payloadLength = UInt64(payload.count)
        }
        var bytes = header.encode()
        bytes.append(contentsOf: payload)
        let pages = pageHashes(payload, algorithm: hashAlgorithm)
        for h in pages { bytes.append(contentsOf: h.bytes) }
        let groups = groupHashes(pages, algorithm: hashAlgorithm)
        for h in groups { bytes.append(contentsOf: h.bytes) }
        let hash = checkpointHash(header: Array(bytes[0..<CheckpointHeader.length]), groups: groups, algorithm: hashAlgorithm)
        bytes.append(contentsOf: hash.bytes)
        return (bytes, hash)
    }

    static func groupHashes(_ pages: [Hash32], algorithm: HashAlgorithm) -> [Hash32] {
        stride(from: 0, to: pages.count, by: CheckpointHeader.pagesPerGroup).map { start in
            groupHash(pages[start..<min(pages.count, start + CheckpointHeader.pagesPerGroup)], algorithm: algorithm)
        }
    }

    static func groupHash<C: Collection>(_ pages: C, algorithm: HashAlgorithm) -> Hash32 where C.Element == Hash32 {
        var input = [CheckpointHeader.groupDomain]
        for h in pages { input.append(contentsOf: h.bytes) }
        return algorithm.hash(input)
    }

    static func pageHashes(_ payload: [UInt8], algorithm: HashAlgorithm) -> [Hash32] {
        payload.withUnsafeBytes { pageHashes(UnsafeRawBufferPointer(rebasing: $0[...]), firstPage: 0,
                                             count: (payload.count + CheckpointHeader.pageSize - 1) / CheckpointHeader.pageSize,
                                             algorithm: algorithm) }
    }

    /// `H(pageDomain ‖ page)` for `count` pages of `payload` from `firstPage` on (the last page may be
    /// short), many pages hashed at once (`HashBatch`).
    static func pageHashes(_ payload: UnsafeRawBufferPointer, firstPage: Int, count: Int, algorithm: HashAlgorithm) -> [Hash32] {
        var batch = HashBatch(algorithm)
        for page in firstPage..<(firstPage + count) {
            let start = page * CheckpointHeader.pageSize
            let end = min(payload.count, start + CheckpointHeader.pageSize)
            batch.append(CheckpointHeader.pageDomain)
            batch.append(UnsafeRawBufferPointer(rebasing: payload[start..<end]))
            batch.finishMessage()
        }
        var out: [Hash32] = []
        batch.digests(into: &out)
        return out
    }

    static func checkpointHash(header: [UInt8], groups: [Hash32], algorithm: HashAlgorithm) -> Hash32 {
        var input = [CheckpointHeader.hashDomain] + header
        for h in groups { input.append(contentsOf: h.bytes) }
        return algorithm.hash(input)
    }

    /// Parses a checkpoint file and checks everything (every page), returning the header, the
    /// hash, and the raw (still encrypted / compressed) payload.
    public static func parse(_ bytes: [UInt8], file: String?) throws(FormatError) -> (header: CheckpointHeader, hash: Hash32, payload: [UInt8]) {
        let opened = try CheckpointFile(bytes: MappedBytes(bytes: bytes), file: file)
        try opened.verifyAllPages()
        return (opened.header, opened.hash, opened.bytes.slice(CheckpointHeader.length, Int(opened.header.payloadLength)))
    }

    /// Decrypts and decompresses a payload returned by `parse`.
    public static func openPayload(_ payload: [UInt8], header: CheckpointHeader, keyring: Keyring?, file: String?) throws(FormatError) -> [UInt8] {
        var data = payload
        if header.encrypted {
            guard let keyring else { throw .wrongKey(Location(file: file), detail: "the checkpoint is encrypted; a key is required") }
            guard let dek = keyring.keys[header.keyId] else { throw .wrongKey(Location(file: file), detail: "no data key \(header.keyId)") }
            let k = KeyDerivation.checkpointKey(dek: dek.key, storeId: header.storeId, seq: header.seq)
            var aadHeader = header
            aadHeader.payloadLength = header.payloadLength
            do { data = try AESGCM.open(data, key: k, nonce: header.nonce, aad: aadHeader.encode()) } catch {
                throw .decryptionFailed(Location(file: file, offset: UInt64(CheckpointHeader.length)), detail: "checkpoint payload: \(error)")
            }
        }
        if header.compressed {
            guard header.rawLength < UInt64(Int32.max) else {
                throw .malformed(Location(file: file), detail: "checkpoint payload is too large")
            }
            do { data = try Zstd.decompress(data, expectedSize: Int(header.rawLength)) } catch {
                throw .malformed(Location(file: file, offset: UInt64(CheckpointHeader.length)), detail: "checkpoint payload: \(error)")
            }
        }
        guard UInt64(data.count) == header.rawLength else {
            throw .malformed(Location(file: file), detail: "checkpoint payload is \(data.count) bytes, header says \(header.rawLength)")
        }
        return data
    }
}

/// A checkpoint file opened for lazy reading: the header and group hashes are checked against
/// the checkpoint hash at once; a group's page hashes and each payload page are checked when
/// first used.
public final class CheckpointFile: @unchecked Sendable {
    public let header: CheckpointHeader
    public let hash: Hash32
    public let bytes: MappedBytes
    public let file: String?
    let groupHashes: [Hash32]
    let pageCount: Int
    let pageTableStart: Int
    private let mutex = PthreadMutex()
    private var pageHashes: [Int: [Hash32]] = [:]      // by group
    private var verified: [Bool]

    public init(bytes: MappedBytes, file: String?) throws(FormatError) {
        let head = bytes.slice(0, CheckpointHeader.length)
        let header = try CheckpointHeader.decode(head, file: file)
        let pageSize = UInt64(CheckpointHeader.pageSize), perGroup = UInt64(CheckpointHeader.pagesPerGroup)
        guard header.payloadLength < UInt64(Int.max / 4) else {
            throw .malformed(Location(file: file, offset: 112), detail: "checkpoint payload length is implausible")
        }
        let pages = (header.payloadLength + pageSize - 1) / pageSize
        let groups = (pages + perGroup - 1) / perGroup
        let expected = UInt64(CheckpointHeader.length) + header.payloadLength + pages * 32 + groups * 32 + 32
        guard UInt64(bytes.count) == expected else {
            throw .truncated(Location(file: file, offset: UInt64(CheckpointHeader.length)), needed: Int(clamping: expected), available: bytes.count)
        }
        let pageTableStart = CheckpointHeader.length + Int(header.payloadLength)
        let table = bytes.slice(pageTableStart + Int(pages) * 32, Int(groups) * 32)
        let groupHashes = table.withUnsafeBytes { raw in (0..<Int(groups)).map { Hash32(loadingFrom: raw.baseAddress! + $0 * 32) } }
        guard let stored = Hash32(bytes: bytes.slice(bytes.count - 32, 32)) else {
            throw .truncated(Location(file: file, offset: 0), needed: CheckpointHeader.length + 32, available: bytes.count)
        }
        let computed = CheckpointContainer.checkpointHash(header: head, groups: groupHashes, algorithm: header.hashAlgorithm)
        guard stored == computed else {
            throw .checkpointMismatch(Location(file: file, offset: UInt64(bytes.count - 32)),
                                      detail: "checkpoint hash mismatch: stored \(stored.hex), computed \(computed.hex)")
        }
        self.header = header
        self.hash = stored
        self.bytes = bytes
        self.file = file
        self.groupHashes = groupHashes
        self.pageCount = Int(pages)
        self.pageTableStart = pageTableStart
        self.verified = Array(repeating: false, count: Int(pages))
    }

    public var payloadLength: Int { Int(header.payloadLength) }

    /// Checks the pages covering payload bytes [offset, offset+count) (once each).
    public func verify(payloadOffset offset: Int, count: Int) throws(FormatError) {
        guard count > 0 else { return }
        let first = offset / CheckpointHeader.pageSize
        let last = (offset + count - 1) / CheckpointHeader.pageSize
        for page in first...last { try verifyPage(page) }
    }

    /// The page hashes of a group, checked against its group hash.
    func pages(ofGroup group: Int) throws(FormatError) -> [Hash32] {
        if let cached = mutex.locked({ pageHashes[group] }) { return cached }
        let first = group * CheckpointHeader.pagesPerGroup
        let count = min(CheckpointHeader.pagesPerGroup, pageCount - first)
        let raw = bytes.slice(pageTableStart + first * 32, count * 32)
        let hashes = raw.withUnsafeBytes { r in (0..<count).map { Hash32(loadingFrom: r.baseAddress! + $0 * 32) } }
        guard CheckpointContainer.groupHash(hashes, algorithm: header.hashAlgorithm) == groupHashes[group] else {
            throw .checkpointMismatch(Location(file: file, offset: UInt64(pageTableStart + first * 32)),
                                      detail: "page hash group \(group) does not match its hash")
        }
        mutex.locked { pageHashes[group] = hashes }
        return hashes
    }

    func verifyPage(_ page: Int) throws(FormatError) {
        guard page >= 0, page < pageCount else {
            throw .malformed(Location(file: file), detail: "checkpoint read beyond its payload")
        }
        if mutex.locked({ verified[page] }) { return }
        let expected = try pages(ofGroup: page / CheckpointHeader.pagesPerGroup)[page % CheckpointHeader.pagesPerGroup]
        let start = page * CheckpointHeader.pageSize
        let computed: Hash32? = bytes.withBytes { raw in
            CheckpointContainer.pageHashes(UnsafeRawBufferPointer(rebasing: raw[CheckpointHeader.length..<(CheckpointHeader.length + payloadLength)]),
                                           firstPage: page, count: 1, algorithm: header.hashAlgorithm).first
        }
        guard computed == expected else {
            throw .checkpointMismatch(Location(file: file, offset: UInt64(CheckpointHeader.length + start)),
                                      detail: "checkpoint page \(page) does not match its hash")
        }
        mutex.locked { verified[page] = true }
    }

    /// Checks every page, a group of pages at a time with their hashes computed together.
    public func verifyAllPages() throws(FormatError) {
        let perGroup = CheckpointHeader.pagesPerGroup
        for group in 0..<((pageCount + perGroup - 1) / perGroup) {
            let expected = try pages(ofGroup: group)
            let first = group * perGroup
            let computed = bytes.withBytes { raw in
                CheckpointContainer.pageHashes(UnsafeRawBufferPointer(rebasing: raw[CheckpointHeader.length..<(CheckpointHeader.length + payloadLength)]),
                                               firstPage: first, count: expected.count, algorithm: header.hashAlgorithm)
            }
            if let i = (0..<expected.count).first(where: { computed[$0] != expected[$0] }) {
                throw .checkpointMismatch(Location(file: file, offset: UInt64(CheckpointHeader.length + (first + i) * CheckpointHeader.pageSize)),
                                          detail: "checkpoint page \(first + i) does not match its hash")
            }
            mutex.locked { for i in 0..<expected.count { verified[first + i] = true } }
        }
    }

    /// The raw payload (for encrypted or compressed checkpoints, which are read whole).
    public func payload() throws(FormatError) -> [UInt8] {
        try verifyAllPages()
        return bytes.slice(CheckpointHeader.length, payloadLength)
    }
}
