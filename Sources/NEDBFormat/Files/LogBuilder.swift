/// Builds a complete store directory in memory, deterministically: the genesis record,
/// segments of a fixed number of records (all but the last sealed, chosen ones compressed),
/// the manifest and, for encrypted stores, the key file. Used by the fixture generator and by
/// tests; the durable store writes the same bytes incrementally.
public final class LogBuilder {
    public struct Options: Sendable {
        public var storeId: StoreID
        public var algorithm: HashAlgorithm = .blake2b256
        public var origin: String? = nil
        /// Master key and data key for an encrypted store.
        public var encryption: (master: MasterKey, dek: [UInt8])? = nil
        public var recordsPerSegment: Int = 1000
        public var startTime: Microseconds = 1_700_000_000_000_000
        public var timeStep: Microseconds = 1_000
        /// Seed for deterministic AES-GCM nonces (fixtures); random nonces when nil.
        public var nonceSeed: [UInt8]? = nil
        /// Start with the genesis record (false only for fixtures of a log that lacks it).
        public var genesis = true

        public init(storeId: StoreID) { self.storeId = storeId }
    }

    public let options: Options
    public private(set) var keyFile: KeyFile?
    let encoder: RecordEncoder
    var accumulators: [SegmentAccumulator] = []
    var frameBytes: [[UInt8]] = []
    var nonceCounter: UInt64 = 0
    public private(set) var nextSeq: UInt64 = 0
    public private(set) var records: [Record] = []

    public init(options: Options) throws(FormatError) {
        self.options = options
        var keyring: Keyring? = nil
        if let enc = options.encryption {
            let wrapNonce = options.nonceSeed.map { LogBuilder.deriveNonce(seed: $0, counter: .max) }
            let (file, ring) = try KeyFile.create(storeId: options.storeId, master: enc.master, dek: enc.dek, nonce: wrapNonce)
            keyFile = file
            keyring = ring
        }
        encoder = RecordEncoder(algorithm: options.algorithm, storeId: options.storeId, keyring: keyring, chain: .zero)
        var genesis = Record(type: .genesis, seq: 0, time: options.startTime)
        genesis.storeId = options.storeId
        genesis.hashAlgorithm = options.algorithm
        genesis.encryption = options.encryption == nil ? EncryptionMode.none : .aes256gcm
        genesis.origin = options.origin
        if options.genesis { try append(genesis) }
    }

    static func deriveNonce(seed: [UInt8], counter: UInt64) -> [UInt8] {
        Array(HashAlgorithm.blake2b256.hash(seed + le64(counter)).bytes[0..<12])
    }

    /// Appends a record; its seq and time are assigned here (whatever the caller set).
    @discardableResult
    public func append(_ record: Record) throws(FormatError) -> UInt64 {
        var r = record
        r.seq = nextSeq
        r.time = options.startTime + Int64(nextSeq) * options.timeStep
        if accumulators.isEmpty || accumulators[accumulators.count - 1].recordCount >= options.recordsPerSegment {
            startSegment()
        }
        var nonce: [UInt8]? = nil
        if let seed = options.nonceSeed {
            nonce = LogBuilder.deriveNonce(seed: seed, counter: nonceCounter)
            nonceCounter += 1
        }
        var frame: [UInt8] = []
        let chain = try encoder.append(r, to: &frame, nonce: nonce)
        let i = accumulators.count - 1
        frameBytes[i].append(contentsOf: frame)
        accumulators[i].add(frameLength: frame.count, seq: r.seq, time: r.time, chain: chain)
        records.append(r)
        nextSeq += 1
        return r.seq
    }

    func startSegment() {
        let frontier = accumulators.isEmpty ? CompactRange(hasher: MerkleHasher(options.algorithm))
            : accumulators[accumulators.count - 1].frontier()
        let previous = accumulators.last
        let header = SegmentHeader(hashAlgorithm: options.algorithm, encrypted: options.encryption != nil, compressed: false,
                                   storeId: options.storeId, segmentNumber: UInt64(accumulators.count), firstSeq: nextSeq,
                                   previousChain: previous?.chain ?? .zero,
                                   created: options.startTime + Int64(nextSeq) * options.timeStep)
        accumulators.append(SegmentAccumulator(header: header, frontier: frontier))
        frameBytes.append([])
    }

    /// The chain hash of the last record.
    public var chain: Hash32 { encoder.chain }
    /// The Merkle root of all records so far.
    public var root: Hash32 {
        guard var last = accumulators.last else { return MerkleHasher(options.algorithm).emptyRoot }
        return last.frontier().root
    }
    /// The keyring of an encrypted store.
    public var keyring: Keyring? { encoder.keyring }

    /// Every leaf (chain) hash in seq order.
    public var leaves: [Hash32] { accumulators.flatMap { $0.levels.levels[0] } }

    /// The files of the store, by path relative to the store directory.
    /// `sealLast` seals the final segment too; `compress(i)` compresses sealed segment i.
    public func files(sealLast: Bool = false, compress: (Int) -> Bool = { _ in false }) throws(FormatError) -> [(path: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        var entries: [Manifest.Entry] = []
        for (i, var acc) in accumulators.enumerated() {
            let sealed = i < accumulators.count - 1 || sealLast
            var bytes: [UInt8]
            var state = Manifest.SegmentState.active
            if sealed && compress(i) {
                bytes = try SegmentCompressor.compress(frames: frameBytes[i], accumulator: acc)
                state = .sealedCompressed
            } else {
                bytes = acc.header.encode() + frameBytes[i]
                if sealed {
                    bytes += acc.footer().encode(dataEnd: UInt64(bytes.count))
                    state = .sealed
                }
            }
            out.append(("segments/" + SegmentName.make(firstSeq: acc.header.firstSeq), bytes))
            // As the store writes it: an active segment's entry is recorded when the segment is
            // created, so it names the segment but not its (growing) contents.
            entries.append(state == .active
                ? Manifest.Entry(segmentNumber: acc.header.segmentNumber, firstSeq: acc.header.firstSeq, lastSeq: acc.header.firstSeq,
                                 state: .active, fileSize: UInt64(acc.header.headerLength), chainHead: acc.header.previousChain)
                : Manifest.Entry(segmentNumber: acc.header.segmentNumber, firstSeq: acc.header.firstSeq, lastSeq: acc.nextSeq - 1,
                                 state: state, fileSize: UInt64(bytes.count), chainHead: acc.chain))
        }
        let manifest = Manifest(hashAlgorithm: options.algorithm, encrypted: options.encryption != nil, storeId: options.storeId,
                                generation: 1, written: options.startTime + Int64(nextSeq) * options.timeStep, segments: entries)
        out.append((Manifest.fileName, manifest.encode()))
        if let keyFile { out.append((KeyFile.fileName, keyFile.encode())) }
        return out
    }

    /// Writes `files(...)` under `directory` (created if needed).
    public func write(to directory: String, fs: FileSystem = PosixFileSystem(), sealLast: Bool = false,
                      compress: (Int) -> Bool = { _ in false }) throws(FormatError) {
        let files = try self.files(sealLast: sealLast, compress: compress)
        do {
            try fs.createDirectory(directory)
            try fs.createDirectory(PathUtil.join(directory, "segments"))
            for (path, bytes) in files {
                let full = PathUtil.join(directory, path)
                let f = try fs.openForWriting(full, create: true)
                try f.truncate(to: 0)
                try f.write(bytes, at: 0)
                f.close()
            }
        } catch {
            throw .system(error)
        }
    }
}
