/// A segment scanner that reads ahead a batch of events and recomputes the chain hash of every
/// record in the batch at once (`HashBatch`), so full verification and recovery hash several
/// records per instruction. Events come out in the same order, each record with the chain hash recomputed
/// from the previous record's stored chain hash: exactly what checking one record at a time
/// computes.
public struct PrehashingScanner {
    static let batchSize = 64

    private var scanner: SegmentScanner
    private let chainHashes: Bool
    private var previous: Hash32
    private var batch: HashBatch
    private var events: [ScanEvent] = []
    /// For each event, the index of its recomputed hash in `digests`, or -1.
    private var digestIndex: [Int] = []
    private var digests: [Hash32] = []
    private var cursor = 0
    private var pendingError: FormatError?
    private var ended = false

    /// `previous` is the chain hash before the segment's first record (its header's link).
    /// With `chainHashes` false, no hash is computed and `next` returns nil hashes.
    public init(_ scanner: SegmentScanner, algorithm: HashAlgorithm, previous: Hash32, chainHashes: Bool) {
        self.scanner = scanner
        self.previous = previous
        self.chainHashes = chainHashes
        batch = HashBatch(algorithm)
    }

    /// The next event and, for a record that is not pruned, its recomputed chain hash.
    public mutating func next() throws(FormatError) -> (event: ScanEvent, computed: Hash32?)? {
        if !chainHashes { return try scanner.next().map { ($0, nil) } }
        if cursor == events.count {
            if let error = pendingError {
                pendingError = nil
                ended = true
                throw error
            }
            if ended { return nil }
            refill()
            if events.isEmpty {
                if let error = pendingError {
                    pendingError = nil
                    ended = true
                    throw error
                }
                return nil
            }
        }
        let i = cursor
        cursor += 1
        let d = digestIndex[i]
        return (events[i], d >= 0 ? digests[d] : nil)
    }

    private mutating func refill() {
        events.removeAll(keepingCapacity: true)
        digestIndex.removeAll(keepingCapacity: true)
        batch.removeAll()
        cursor = 0
        while events.count < PrehashingScanner.batchSize {
            let event: ScanEvent?
            do { event = try scanner.next() } catch {
                pendingError = error
                break
            }
            guard let event else {
                ended = true
                break
            }
            var index = -1
            if case let .record(frame) = event {
                if chainHashes && frame.view.type != .pruned {
                    index = batch.count
                    batch.append(0x00)
                    batch.append(previous)
                    frame.withRecordBytes { batch.append($0) }
                    batch.finishMessage()
                }
                previous = frame.view.storedChain
            }
            events.append(event)
            digestIndex.append(index)
        }
        batch.digests(into: &digests)
    }
}
