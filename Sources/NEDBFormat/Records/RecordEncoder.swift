/// Turns records into chained frames: validates, seals (in encrypted stores), encodes the body,
/// and links the chain. One per log writer; not thread-safe.
public final class RecordEncoder {
    public let algorithm: HashAlgorithm
    public let storeId: StoreID
    public var keyring: Keyring?
    /// Re-parse documents to check they are canonical JSON objects. Callers that produced the
    /// bytes with `JCS.serialize` of a `.object` may turn this off.
    public var checkDocuments = true
    public private(set) var chain: Hash32
    let hasher: ChainHasher

    public init(algorithm: HashAlgorithm, storeId: StoreID, keyring: Keyring?, chain: Hash32) {
        self.algorithm = algorithm
        self.storeId = storeId
        self.keyring = keyring
        self.chain = chain
        self.hasher = ChainHasher(algorithm)
    }

    /// Validates `record`, seals it when the store is encrypted, and appends its frame to
    /// `buffer`. Returns the chain hash. `nonce` fixes the AES-GCM nonce (fixtures only).
    @discardableResult
    public func append(_ record: Record, to buffer: inout [UInt8], nonce: [UInt8]? = nil,
                       validated: Bool = false) throws(FormatError) -> Hash32 {
        if !validated { try RecordCodec.validateForWriting(record, checkDocument: checkDocuments) }
        // The frame is built straight into `buffer` (moved into a writer and back, not copied).
        var w = ByteWriter(continuing: buffer)
        buffer = []
        defer { buffer = w.takeBytes() }
        if let keyring, record.type.isSealedWhenEncrypted {
            guard let key = keyring.current else { throw .wrongKey(Location(seq: record.seq), detail: "no data key available") }
            let sealed = try RecordSealer.seal(record, with: key, storeId: storeId, nonce: nonce)
            let start = Frame.begin(type: sealed.type, in: &w)
            RecordCodec.encodeBody(sealed, into: &w)
            chain = Frame.finish(at: start, previous: chain, hasher: hasher, in: &w)
        } else {
            let start = Frame.begin(type: record.type, in: &w)
            RecordCodec.encodeBody(record, into: &w)
            chain = Frame.finish(at: start, previous: chain, hasher: hasher, in: &w)
        }
        return chain
    }

    /// Continues from a different chain value (after recovery or at a segment boundary check).
    public func reset(chain: Hash32) { self.chain = chain }
}
