/// The position a verified log ends at: its last seq, that record's chain hash, and the Merkle
/// root of the tree of size seq+1.
public struct LogHead: Sendable, Equatable, Hashable {
    public var seq: UInt64
    public var chain: Hash32
    public var root: Hash32

    public init(seq: UInt64, chain: Hash32, root: Hash32) { self.seq = seq; self.chain = chain; self.root = root }

    public var treeSize: UInt64 { seq + 1 }
}

/// What verification learned about one segment file.
public struct SegmentSummary: Sendable, Equatable {
    public var name: String
    public var segmentNumber: UInt64?
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var records: UInt64
    public var fileSize: UInt64
    public var sealed: Bool
    public var compressed: Bool
    public var pruned: UInt64
}

/// What verification learned about one checkpoint file.
public struct CheckpointSummary: Sendable, Equatable {
    public var name: String
    public var seq: UInt64?
    public var valid: Bool
}

/// The outcome of verifying a store directory.
public struct VerifyReport: Sendable {
    /// Problems found, in log order, at most `maxIssues`.
    public var issues: [FormatError] = []
    /// Problems found beyond the limit (not listed).
    public var omittedIssues = 0
    /// Findings that are not problems: derived files behind the segments as an interrupted
    /// operation leaves them (rebuilt by the next writer).
    public var notes: [FormatError] = []
    /// The head of the longest verified prefix of the log.
    public var head: LogHead?
    public var segments: [SegmentSummary] = []
    public var checkpoints: [CheckpointSummary] = []
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Records whose content compaction removed (their hashes remain).
    public var prunedRecords: UInt64 = 0
    public var storeId: StoreID?
    public var hashAlgorithm: HashAlgorithm?
    public var encrypted = false
    /// True when records were decrypted and checked with a key.
    public var decrypted = false
    public var mode: VerifyOptions.Mode = .full

    public var ok: Bool { issues.isEmpty && omittedIssues == 0 }

    /// The broad verdicts present, worst first.
    public var verdicts: [FormatError.Verdict] {
        let order: [FormatError.Verdict] = [.tampering, .missingData, .corruption, .crash, .environment, .derived]
        let present = Set(issues.map(\.verdict))
        return order.filter { present.contains($0) }
    }
}

/// How to verify.
public struct VerifyOptions: Sendable {
    public enum Mode: String, Sendable {
        /// Framing, CRCs, seq continuity, stored chain links between segments, footers, manifest.
        case quick
        /// Also re-hash every record, recompute every Merkle root, check record structure,
        /// bind every checkpoint to the log and (with a hook) compare its state with a replay.
        case full
    }

    public var mode: Mode = .full
    /// With a keyring every sealed record is decrypted and its content checked.
    public var keyring: Keyring?
    /// Also decode every record and check documents are canonical JSON objects.
    public var checkDocuments = false
    public var maxIssues = 100
    public var parallelism = 1
    /// Verify only records up to this seq (a live store being appended to).
    public var limitSeq: UInt64?
    public var checkManifest = true
    public var checkCheckpoints = true
    /// Called with (bytes done, bytes total) as segments are scanned.
    public var progress: (@Sendable (UInt64, UInt64) -> Void)?
    /// Compares a checkpoint's state with a replay of the log; returns a problem or nil.
    public var checkpointState: (@Sendable (_ header: CheckpointHeader, _ payload: [UInt8], _ path: String) -> FormatError?)?

    public init(mode: Mode = .full) { self.mode = mode }
}
