/// One data-encryption key, wrapped under the master key.
public struct WrappedKey: Sendable, Equatable {
    public var keyId: UInt32
    /// The first seq this key encrypts.
    public var fromSeq: UInt64
    public var nonce: [UInt8]
    /// AES-256-GCM(TMK, nonce, DEK, aad) — 32 bytes of ciphertext and a 16-byte tag.
    public var wrapped: [UInt8]

    static let encodedLength = 4 + 8 + 12 + 48
}

/// The KEYS file of an encrypted store (spec/FORMAT.md §12.2). It is authoritative: without it
/// the records cannot be decrypted (structure, chain and Merkle proofs still verify).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "\x89NEDBKEY" |
/// | 8 | 2 | read version | 10 | 2 | write version |
/// | 12 | 1 | master key source: 0 raw 32-byte key, 1 Argon2id passphrase |
/// | 13 | 3 | reserved |
/// | 16 | 16 | store id |
/// | 32 | 16 | Argon2id salt (zero for raw keys) |
/// | 48 | 8 | Argon2id ops limit | 56 | 8 | Argon2id memory limit (bytes) |
/// | 64 | 32 | TMK check |
/// | 96 | 4 | number of wrapped keys N |
/// | 100 | 72·N | wrapped keys: key id u32, from seq u64, nonce 12, wrapped 48 |
/// | … | 4 | CRC32C of everything before |
public struct KeyFile: Sendable, Equatable {
    public enum Source: UInt8, Sendable { case raw = 0, passphrase = 1 }

    public static let fileName = "KEYS"

    public var source: Source
    public var storeId: StoreID
    public var salt: [UInt8]
    public var opsLimit: UInt64
    public var memLimit: UInt64
    public var tmkCheck: Hash32
    public var keys: [WrappedKey]

    public init(source: Source, storeId: StoreID, salt: [UInt8], opsLimit: UInt64, memLimit: UInt64,
                tmkCheck: Hash32, keys: [WrappedKey]) {
        self.source = source; self.storeId = storeId; self.salt = salt; self.opsLimit = opsLimit
        self.memLimit = memLimit; self.tmkCheck = tmkCheck; self.keys = keys
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 104 + keys.count * WrappedKey.encodedLength)
        w.append(Magic.keys)
        w.u16(FormatVersion.read); w.u16(FormatVersion.write)
        w.u8(source.rawValue); w.zeros(3)
        w.append(storeId.bytes)
        w.append(salt.count == 16 ? salt : [UInt8](repeating: 0, count: 16))
        w.u64(opsLimit); w.u64(memLimit)
        w.hash(tmkCheck)
        w.u32(UInt32(keys.count))
        for k in keys { w.u32(k.keyId); w.u64(k.fromSeq); w.append(k.nonce); w.append(k.wrapped) }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], file: String? = nil) throws(FormatError) -> KeyFile {
        let at = Location(file: file, offset: 0)
        guard bytes.count >= 104 else { throw .truncated(at, needed: 104, available: bytes.count) }
        guard Array(bytes[0..<8]) == Magic.keys else {
            throw .badMagic(at, expected: Magic.describe(Magic.keys), found: Magic.describe(Array(bytes[0..<8])))
        }
        let stored = try Peek.u32(bytes, bytes.count - 4)
        let computed = CRC32C.checksum(Array(bytes[0..<(bytes.count - 4)]))
        guard stored == computed else {
            throw .checksumMismatch(Location(file: file, offset: UInt64(bytes.count - 4)), what: "key file", expected: computed, found: stored)
        }
        var r = ByteReader(bytes, end: bytes.count - 4)
        do {
            try r.skip(8)
            try checkVersions(read: try r.u16(), write: try r.u16(), what: "key file", location: at, forWriting: false)
            let sourceRaw = try r.u8()
            guard let source = Source(rawValue: sourceRaw) else {
                throw FormatError.malformed(Location(file: file, offset: 12), detail: "unknown master key source \(sourceRaw)")
            }
            try r.skip(3)
            guard let storeId = StoreID(bytes: try r.bytes(16)) else { throw FormatError.malformed(at, detail: "key file store id") }
            let salt = try r.bytes(16)
            let ops = try r.u64(), mem = try r.u64()
            let check = try r.hash()
            let count = Int(try r.u32())
            guard r.remaining == count * WrappedKey.encodedLength else {
                throw FormatError.malformed(Location(file: file, offset: 96), detail: "key file holds \(r.remaining) bytes for \(count) keys")
            }
            var keys: [WrappedKey] = []
            for _ in 0..<count {
                keys.append(WrappedKey(keyId: try r.u32(), fromSeq: try r.u64(), nonce: try r.bytes(12), wrapped: try r.bytes(48)))
            }
            for (i, k) in keys.enumerated() where i > 0 && (k.keyId <= keys[i - 1].keyId || k.fromSeq <= keys[i - 1].fromSeq) {
                throw FormatError.malformed(Location(file: file, offset: 100), detail: "wrapped keys must ascend by key id and first seq")
            }
            return KeyFile(source: source, storeId: storeId, salt: salt, opsLimit: ops, memLimit: mem, tmkCheck: check, keys: keys)
        } catch let e as FormatError {
            throw e
        } catch let e as ByteReader.Failure {
            throw FormatError.from(e, file: file, what: "key file")
        } catch {
            throw .malformed(at, detail: "key file: \(error)")
        }
    }

    /// Checks `tmk` against the stored check value (constant time).
    public func accepts(tmk: [UInt8]) -> Bool {
        tmk.count == 32 && SecureRandom.constantTimeEqual(KeyDerivation.tmkCheck(tmk: tmk, storeId: storeId).bytes, tmkCheck.bytes)
    }

    /// Unwraps every data key; throws `wrongKey` if the master key does not match.
    public func unwrapAll(tmk: [UInt8], file: String? = nil) throws(FormatError) -> Keyring {
        guard accepts(tmk: tmk) else {
            throw .wrongKey(Location(file: file, offset: 64), detail: "the master key does not match this store's key check")
        }
        var deks: [UInt32: DataKey] = [:]
        for k in keys {
            do {
                let dek = try AESGCM.open(k.wrapped, key: tmk, nonce: k.nonce,
                                          aad: KeyDerivation.dekAAD(storeId: storeId, keyId: k.keyId, fromSeq: k.fromSeq))
                deks[k.keyId] = DataKey(keyId: k.keyId, fromSeq: k.fromSeq, key: dek)
            } catch .aesGCMUnavailable {
                throw .library(Location(file: file), detail: PrimitiveError.aesGCMUnavailable.description)
            } catch {
                throw .decryptionFailed(Location(file: file, offset: 100), detail: "data key \(k.keyId) does not unwrap: \(error)")
            }
        }
        return Keyring(storeId: storeId, keys: deks)
    }

    /// Creates a key file with one fresh data key starting at seq 0.
    public static func create(storeId: StoreID, master: MasterKey, dek fixedDEK: [UInt8]? = nil,
                              nonce: [UInt8]? = nil) throws(FormatError) -> (KeyFile, Keyring) {
        var file = KeyFile(source: master.source, storeId: storeId, salt: master.salt, opsLimit: master.opsLimit,
                           memLimit: master.memLimit, tmkCheck: KeyDerivation.tmkCheck(tmk: master.key, storeId: storeId), keys: [])
        let dek = fixedDEK ?? SecureRandom.bytes(32)
        try file.add(dek: dek, keyId: 0, fromSeq: 0, tmk: master.key, nonce: nonce)
        return (file, Keyring(storeId: storeId, keys: [0: DataKey(keyId: 0, fromSeq: 0, key: dek)]))
    }

    /// Wraps and appends a data key.
    public mutating func add(dek: [UInt8], keyId: UInt32, fromSeq: UInt64, tmk: [UInt8],
                             nonce fixedNonce: [UInt8]? = nil) throws(FormatError) {
        let nonce = fixedNonce ?? SecureRandom.bytes(12)
        do {
            let wrapped = try AESGCM.seal(dek, key: tmk, nonce: nonce,
                                          aad: KeyDerivation.dekAAD(storeId: storeId, keyId: keyId, fromSeq: fromSeq))
            keys.append(WrappedKey(keyId: keyId, fromSeq: fromSeq, nonce: nonce, wrapped: wrapped))
        } catch {
            throw .library(Location(), detail: "cannot wrap a data key: \(error)")
        }
    }

    /// Master-key rotation: the same data keys, rewrapped under `newMaster`. Segments are untouched.
    public func rewrapped(oldTMK: [UInt8], newMaster: MasterKey) throws(FormatError) -> KeyFile {
        let ring = try unwrapAll(tmk: oldTMK)
        var out = KeyFile(source: newMaster.source, storeId: storeId, salt: newMaster.salt, opsLimit: newMaster.opsLimit,
                          memLimit: newMaster.memLimit, tmkCheck: KeyDerivation.tmkCheck(tmk: newMaster.key, storeId: storeId), keys: [])
        for k in keys {
            guard let dek = ring.keys[k.keyId] else { continue }
            try out.add(dek: dek.key, keyId: k.keyId, fromSeq: k.fromSeq, tmk: newMaster.key)
        }
        return out
    }
}

/// A master key (TMK) and how it was obtained.
public struct MasterKey: Sendable {
    public var key: [UInt8]
    public var source: KeyFile.Source
    public var salt: [UInt8]
    public var opsLimit: UInt64
    public var memLimit: UInt64

    /// A raw 32-byte key (from a key file or environment variable).
    public init(raw: [UInt8]) throws(FormatError) {
        guard raw.count == 32 else { throw .wrongKey(Location(), detail: "a master key must be 32 bytes, got \(raw.count)") }
        key = raw; source = .raw; salt = [UInt8](repeating: 0, count: 16); opsLimit = 0; memLimit = 0
    }

    /// A key derived from a passphrase with Argon2id (a new random salt unless one is given).
    public init(passphrase: String, salt: [UInt8]? = nil, opsLimit: UInt64 = Argon2id.defaultOpsLimit,
                memLimit: UInt64 = Argon2id.defaultMemLimit) throws(FormatError) {
        let s = salt ?? SecureRandom.bytes(Argon2id.saltLength)
        do {
            key = try Argon2id.deriveKey(passphrase: Array(passphrase.utf8), salt: s, opsLimit: opsLimit, memLimit: memLimit)
        } catch {
            throw .wrongKey(Location(), detail: "passphrase key derivation failed: \(error)")
        }
        source = .passphrase; self.salt = s; self.opsLimit = opsLimit; self.memLimit = memLimit
    }

    /// Parses key text: 64 hex digits or base64 of 32 bytes (surrounding whitespace ignored).
    public static func parseKeyText(_ text: String) throws(FormatError) -> [UInt8] {
        // Only ASCII white space around the key is ignored (a trailing newline); nothing inside it.
        let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        let utf8 = Array(text.utf8)
        let start = utf8.firstIndex { !space.contains($0) } ?? utf8.count
        let end = (utf8.lastIndex { !space.contains($0) }).map { $0 + 1 } ?? start
        let trimmed = String(decoding: utf8[start..<max(start, end)], as: UTF8.self)
        if let hex = Hex.decode(trimmed), hex.count == 32 { return hex }
        if let b64 = Base64.decode(trimmed), b64.count == 32 { return b64 }
        throw .wrongKey(Location(), detail: "key text must be 64 hex digits or base64 of 32 bytes")
    }

    /// The master key for an existing key file given a passphrase (uses the file's salt and limits).
    public static func forKeyFile(_ file: KeyFile, passphrase: String) throws(FormatError) -> MasterKey {
        guard file.source == .passphrase else {
            throw .wrongKey(Location(), detail: "this store's master key is a raw key, not a passphrase")
        }
        return try MasterKey(passphrase: passphrase, salt: file.salt, opsLimit: file.opsLimit, memLimit: file.memLimit)
    }
}

/// An unwrapped data key.
public struct DataKey: Sendable {
    public var keyId: UInt32
    public var fromSeq: UInt64
    public var key: [UInt8]
    public init(keyId: UInt32, fromSeq: UInt64, key: [UInt8]) { self.keyId = keyId; self.fromSeq = fromSeq; self.key = key }
}

/// The unwrapped data keys of a store.
public struct Keyring: Sendable {
    public var storeId: StoreID
    public var keys: [UInt32: DataKey]

    public init(storeId: StoreID, keys: [UInt32: DataKey]) { self.storeId = storeId; self.keys = keys }

    /// The key with the highest id: the one new records use.
    public var current: DataKey? { keys.values.max { $0.keyId < $1.keyId } }
}
