/// Seals and opens the user-visible fields of records in an encrypted store
/// (spec/FORMAT.md §12.3).
public enum RecordSealer {
    /// Replaces the sealable fields of `record` by `sealed` (nonce ‖ ciphertext ‖ tag), `keyId`
    /// and `keyCommitment`. Records of other types are returned unchanged.
    public static func seal(_ record: Record, with key: DataKey, storeId: StoreID,
                            nonce fixedNonce: [UInt8]? = nil) throws(FormatError) -> Record {
        guard record.type.isSealedWhenEncrypted else { return record }
        var inner = ByteWriter(capacity: 64 + (record.document?.count ?? 0))
        RecordCodec.encodeFields(record, into: &inner) { !RecordRules.outerTags.contains($0) }
        let recordKey = KeyDerivation.recordKey(dek: key.key, storeId: storeId, seq: record.seq)
        let nonce = fixedNonce ?? SecureRandom.bytes(AESGCM.nonceLength)
        let aad = KeyDerivation.recordAAD(storeId: storeId, type: record.type, seq: record.seq, time: record.time, keyId: key.keyId)
        let ciphertext: [UInt8]
        do { ciphertext = try AESGCM.seal(inner.bytes, key: recordKey, nonce: nonce, aad: aad) } catch {
            throw .library(Location(seq: record.seq), detail: "cannot encrypt: \(error)")
        }
        var out = Record(type: record.type, seq: record.seq, time: record.time)
        out.transaction = record.transaction
        out.keyId = key.keyId
        out.sealed = nonce + ciphertext
        out.keyCommitment = KeyDerivation.commitment(recordKey: recordKey)
        return out
    }

    /// Opens a sealed record with its per-record key (a disclosure key, or one derived from the
    /// DEK). Checks the key commitment first so that no other key can open the record.
    public static func open(_ record: Record, recordKey: [UInt8], storeId: StoreID, location: Location,
                            options: RecordCodec.Options = RecordCodec.Options()) throws(FormatError) -> Record {
        guard let sealed = record.sealed, let keyId = record.keyId, let commitment = record.keyCommitment else { return record }
        guard KeyDerivation.commitment(recordKey: recordKey) == commitment else {
            throw .decryptionFailed(location, detail: "the record key does not match the record's key commitment")
        }
        let nonce = Array(sealed[0..<AESGCM.nonceLength])
        let body = Array(sealed[AESGCM.nonceLength...])
        let aad = KeyDerivation.recordAAD(storeId: storeId, type: record.type, seq: record.seq, time: record.time, keyId: keyId)
        let inner: [UInt8]
        do { inner = try AESGCM.open(body, key: recordKey, nonce: nonce, aad: aad) } catch {
            throw .decryptionFailed(location, detail: "AES-256-GCM authentication failed")
        }
        var opened = record
        try RecordCodec.mergeOpened(inner, into: &opened, location: location, options: options)
        // The content is now plaintext; the key id stays as a note of which key sealed it.
        opened.sealed = nil
        opened.keyCommitment = nil
        return opened
    }

    /// Opens a sealed record using the store's keyring.
    public static func open(_ record: Record, keyring: Keyring, location: Location,
                            options: RecordCodec.Options = RecordCodec.Options()) throws(FormatError) -> Record {
        guard record.isSealed, let keyId = record.keyId else { return record }
        guard let key = keyring.keys[keyId] else {
            throw .wrongKey(location, detail: "no data key \(keyId) in the key file")
        }
        guard record.seq >= key.fromSeq else {
            throw .malformed(location, detail: "record uses data key \(keyId), which starts at seq \(key.fromSeq)")
        }
        let recordKey = KeyDerivation.recordKey(dek: key.key, storeId: keyring.storeId, seq: record.seq)
        return try open(record, recordKey: recordKey, storeId: keyring.storeId, location: location, options: options)
    }
}
