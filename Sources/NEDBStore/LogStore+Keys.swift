import NEDBFormat

extension LogStore {
    /// Master-key rotation: rewraps every data key under the new master key and replaces the
    /// key file atomically. No segment is rewritten.
    public func rotateMasterKey(to source: KeySource) throws(StoreError) {
        try mutex.locked { () throws(StoreError) in
            try checkWritableLocked()
            guard let file = keyFile, let old = masterKey else { throw .keyRequired(path: layout.root) }
            let new = try KeyResolver.newMasterKey(source, options: options)
            let rewrapped: KeyFile
            do throws(FormatError) { rewrapped = try file.rewrapped(oldTMK: old.key, newMaster: new) } catch { throw .damaged(error) }
            do throws(SystemError) { try fs.writeAtomically(rewrapped.encode(), to: layout.keys) } catch { throw .io(error) }
            keyFile = rewrapped
            masterKey = new
        }
    }

    /// Data-key rotation: adds a fresh data key for every record after a key_rotation record,
    /// which is appended (and fsynced) here. Returns the new key id.
    @discardableResult
    public func rotateDataKey() throws(StoreError) -> UInt32 {
        let keyId = try mutex.locked { () throws(StoreError) -> UInt32 in
            try checkWritableLocked()
            guard var file = keyFile, let master = masterKey, let ring = keyring else { throw .keyRequired(path: layout.root) }
            let keyId = (ring.current?.keyId ?? 0) + 1
            let dek = SecureRandom.bytes(32)
            // The rotation record itself uses the old key (it is not sealed); the new key starts after it.
            let fromSeq = nextSeq + 1
            do throws(FormatError) { try file.add(dek: dek, keyId: keyId, fromSeq: fromSeq, tmk: master.key) } catch { throw .damaged(error) }
            do throws(SystemError) { try fs.writeAtomically(file.encode(), to: layout.keys) } catch { throw .io(error) }
            keyFile = file
            return keyId
        }
        var marker = Record(type: .keyRotation, seq: 0, time: 0)
        marker.keyId = keyId
        // The encoder switches keys only after the marker is buffered.
        let ticket = try enqueue([marker], durability: .always)
        mutex.locked {
            if let ring = keyFileRing() { keyring = ring; encoder.keyring = ring }
        }
        try wait(for: ticket)
        return keyId
    }

    /// The keyring as the key file now describes it (all keys unwrapped with the master key).
    private func keyFileRing() -> Keyring? {
        guard let file = keyFile, let master = masterKey else { return nil }
        return try? file.unwrapAll(tmk: master.key)
    }
}
