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
/// | 160+P | 32 | checkpoint hash = H(0x02 ‖ bytes [0, 160+P)) |
public struct CheckpointHeader: Sendable, Equatable {
    public static let length = 160
    public static let hashDomain: UInt8 = 0x02

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
        let stored = ByteReaderPeek.u32(bytes, 156)
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
            return CheckpointHeader(hashAlgorithm: alg, encrypted: flags & 1 != 0, compressed: flags & 2 != 0,
                                    storeId: StoreID(bytes: try r.bytes(16))!, seq: try r.u64(), chainHead: try r.hash(),
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
                throw .io(Location(), errno: 0, detail: "checkpoint compression failed: \(error)")
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
                throw .io(Location(), errno: 0, detail: "checkpoint encryption failed: \(error)")
            }
        } else {
            header.payloadLength = UInt64(payload.count)
        }
        var bytes = header.encode()
        bytes.append(contentsOf: payload)
        let hash = hashAlgorithm.hash([CheckpointHeader.hashDomain] + bytes)
        bytes.append(contentsOf: hash.bytes)
        return (bytes, hash)
    }

    /// Parses a checkpoint file, checks its hash, and returns the header, the hash, and the raw
    /// (still encrypted / compressed) payload.
    public static func parse(_ bytes: [UInt8], file: String?) throws(FormatError) -> (header: CheckpointHeader, hash: Hash32, payload: [UInt8]) {
        let header = try CheckpointHeader.decode(bytes, file: file)
        let expected = UInt64(CheckpointHeader.length) + header.payloadLength + 32
        guard header.payloadLength < UInt64(Int32.max), UInt64(bytes.count) == expected else {
            throw .truncated(Location(file: file, offset: UInt64(CheckpointHeader.length)), needed: Int(clamping: expected), available: bytes.count)
        }
        let end = bytes.count - 32
        let stored = Hash32(bytes: Array(bytes[end...]))!
        let computed = header.hashAlgorithm.hash([CheckpointHeader.hashDomain] + Array(bytes[0..<end]))
        guard stored == computed else {
            throw .checkpointMismatch(Location(file: file, offset: UInt64(end)),
                                      detail: "checkpoint hash mismatch: stored \(stored.hex), computed \(computed.hex)")
        }
        return (header, stored, Array(bytes[CheckpointHeader.length..<end]))
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
