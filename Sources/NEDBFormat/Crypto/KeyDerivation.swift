/// The key derivations and domain strings of the TMK/DEK envelope (spec/FORMAT.md §12).
/// Every derivation is keyed BLAKE2b-256 or unkeyed BLAKE2b-256 with an ASCII domain prefix.
public enum KeyDerivation {
    public static let tmkCheckDomain = Array("NEDB-v1-tmk-check".utf8)
    public static let dekWrapDomain = Array("NEDB-v1-dek".utf8)
    public static let recordKeyDomain = Array("NEDB-v1-record-key".utf8)
    public static let commitmentDomain = Array("NEDB-v1-key-commitment".utf8)
    public static let recordAADDomain = Array("NEDB-v1-record".utf8)
    public static let checkpointKeyDomain = Array("NEDB-v1-checkpoint-key".utf8)
    public static let prunedKeyDomain = Array("NEDB-v1-pruned-key".utf8)

    /// The key of pruned records' key digests (§3.7): `BLAKE2b-256(key = DEK 0, "NEDB-v1-pruned-key" ‖
    /// store id)` in an encrypted store, so only key holders can test a guess of what was pruned;
    /// `BLAKE2b-256("NEDB-v1-pruned-key" ‖ store id)` otherwise. Nil: encrypted, no key given.
    public static func prunedDigestKey(storeId: StoreID, encrypted: Bool, keyring: Keyring?) -> [UInt8]? {
        if encrypted {
            guard let dek = keyring?.keys[0]?.key else { return nil }
            return KeyedBlake2b.hash(key: dek, message: prunedKeyDomain + storeId.bytes).bytes
        }
        return HashAlgorithm.blake2b256.hash(prunedKeyDomain + storeId.bytes).bytes
    }

    /// A pruned version's key digest: `BLAKE2b-256(key = Kd, collection ‖ 0x00 ‖ id)`.
    public static func prunedKeyDigest(key: [UInt8], collection: String, id: String) -> Hash32 {
        KeyedBlake2b.hash(key: key, message: Array(collection.utf8) + [0] + Array(id.utf8))
    }

    /// A compaction record's pruned_set: `BLAKE2b-256(0x05 ‖ seq₁ ‖ … ‖ seqₖ)`, the pruned seqs
    /// ascending (u64 LE), whatever the store's hash algorithm (like every derivation here).
    public static func prunedSet(_ seqs: [UInt64]) -> Hash32 {
        var bytes: [UInt8] = [0x05]
        bytes.reserveCapacity(1 + seqs.count * 8)
        for s in seqs.sorted() { bytes += le64(s) }
        return HashAlgorithm.blake2b256.hash(bytes)
    }

    /// `BLAKE2b-256(key = TMK, "NEDB-v1-tmk-check" ‖ store id)`: stored in KEYS so a wrong master
    /// key is recognised before anything is decrypted or written.
    public static func tmkCheck(tmk: [UInt8], storeId: StoreID) -> Hash32 {
        KeyedBlake2b.hash(key: tmk, message: tmkCheckDomain + storeId.bytes)
    }

    /// The per-record key: `BLAKE2b-256(key = DEK, "NEDB-v1-record-key" ‖ store id ‖ seq u64 LE)`.
    /// Disclosing it reveals exactly one record.
    public static func recordKey(dek: [UInt8], storeId: StoreID, seq: UInt64) -> [UInt8] {
        KeyedBlake2b.hash(key: dek, message: recordKeyDomain + storeId.bytes + le64(seq)).bytes
    }

    /// The key commitment stored in every sealed record: `BLAKE2b-256("NEDB-v1-key-commitment" ‖ K)`.
    public static func commitment(recordKey: [UInt8]) -> Hash32 {
        HashAlgorithm.blake2b256.hash(commitmentDomain + recordKey)
    }

    /// The checkpoint payload key: `BLAKE2b-256(key = DEK, "NEDB-v1-checkpoint-key" ‖ store id ‖ seq)`.
    public static func checkpointKey(dek: [UInt8], storeId: StoreID, seq: UInt64) -> [UInt8] {
        KeyedBlake2b.hash(key: dek, message: checkpointKeyDomain + storeId.bytes + le64(seq)).bytes
    }

    /// Associated data of a sealed record: domain ‖ store id ‖ type ‖ seq ‖ time ‖ key id.
    public static func recordAAD(storeId: StoreID, type: RecordType, seq: UInt64, time: Microseconds, keyId: UInt32) -> [UInt8] {
        recordAADDomain + storeId.bytes + [type.rawValue] + le64(seq) + le64(UInt64(bitPattern: time)) + le32(keyId)
    }

    /// Associated data of a wrapped DEK: domain ‖ store id ‖ key id ‖ first seq.
    public static func dekAAD(storeId: StoreID, keyId: UInt32, fromSeq: UInt64) -> [UInt8] {
        dekWrapDomain + storeId.bytes + le32(keyId) + le64(fromSeq)
    }
}
