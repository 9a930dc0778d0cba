import NEDBFormat

/// Replay protection and idempotency at the log level: the last nonce of every client and the
/// seq of every idempotency key. Keys are kept as 16-byte keyed hashes, so the derived REPLAY
/// file reveals neither client names nor keys (spec/FORMAT.md §9.1).
struct ReplayTable: Sendable {
    struct Key: Hashable, Sendable { let a: UInt64, b: UInt64 }

    let hashKey: [UInt8]
    var nonces: [Key: UInt64] = [:]
    var idempotency: [Key: UInt64] = [:]

    /// The hashing key: derived from data key 0 in encrypted stores, from the store id otherwise.
    init(storeId: StoreID, keyring: Keyring?) {
        let domain = Array("NEDB-v1-replay".utf8)
        if let dek = keyring?.keys[0]?.key {
            hashKey = KeyedBlake2b.hash(key: dek, message: domain + storeId.bytes).bytes
        } else {
            hashKey = HashAlgorithm.blake2b256.hash(domain + storeId.bytes).bytes
        }
    }

    func key(_ kind: UInt8, _ text: String) -> Key {
        let h = KeyedBlake2b.hash(key: hashKey, message: [kind] + Array(text.utf8))
        return Key(a: h.w0, b: h.w1)
    }

    /// The seq of an earlier record with one of these idempotency keys, if any.
    func duplicate(of records: [Record]) -> UInt64? {
        // Indexed field reads: iterating `for r in records` would copy each (large) record.
        for i in records.indices {
            if let k = records[i].idempotencyKey, let seq = idempotency[key(1, k)] { return seq }
        }
        return nil
    }

    /// Throws if a nonce is not above the client's last one (checking the batch in order).
    func checkNonces(_ records: [Record]) throws(StoreError) {
        var seen: [Key: UInt64] = [:]
        for i in records.indices {
            guard let client = records[i].client, let nonce = records[i].nonce else { continue }
            let k = key(0, client)
            let last = seen[k] ?? nonces[k]
            if let last, nonce <= last { throw .staleNonce(client: client, nonce: nonce, last: last) }
            seen[k] = nonce
        }
    }

    mutating func apply(_ r: Record) {
        if let client = r.client, let nonce = r.nonce {
            let k = key(0, client)
            nonces[k] = max(nonces[k] ?? 0, nonce)
        }
        if let idem = r.idempotencyKey {
            let k = key(1, idem)
            if idempotency[k] == nil { idempotency[k] = r.seq }
        }
    }

    // MARK: The REPLAY file

    static let fileName = ReplayFileHeader.fileName

    /// Encodes the table as of `seq` (whose chain hash is `chain`).
    func encode(storeId: StoreID, seq: UInt64, chain: Hash32) -> [UInt8] {
        func entries(_ table: [Key: UInt64]) -> [[UInt8]] {
            table.sorted(by: { ($0.key.a, $0.key.b) < ($1.key.a, $1.key.b) }).map { k, v in
                var w = ByteWriter(capacity: 24)
                w.u64(k.a); w.u64(k.b); w.u64(v)
                return w.bytes
            }
        }
        return ReplayFileHeader.encode(storeId: storeId, seq: seq, chain: chain, clientEntries: entries(nonces),
                                       idempotencyEntries: entries(idempotency))
    }

    /// Decodes a REPLAY file; nil if it is damaged or belongs elsewhere.
    mutating func load(_ bytes: [UInt8], storeId: StoreID) -> (seq: UInt64, chain: Hash32)? {
        guard let header = try? ReplayFileHeader.decode(bytes, file: nil), header.storeId == storeId else { return nil }
        var r = ByteReader(bytes, start: ReplayFileHeader.length, end: bytes.count - 4)
        do {
            var n: [Key: UInt64] = [:], i: [Key: UInt64] = [:]
            for _ in 0..<header.clientEntries { n[Key(a: try r.u64(), b: try r.u64())] = try r.u64() }
            for _ in 0..<header.idempotencyEntries { i[Key(a: try r.u64(), b: try r.u64())] = try r.u64() }
            // A repeated key is not something a writer produces: rebuild rather than pick one.
            guard n.count == Int(header.clientEntries), i.count == Int(header.idempotencyEntries) else { return nil }
            nonces = n
            idempotency = i
            return (header.seq, header.chain)
        } catch {
            return nil
        }
    }
}
