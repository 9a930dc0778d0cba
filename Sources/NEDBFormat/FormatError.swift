/// Where a problem was found: any of file, byte offset and record seq that are known.
public struct Location: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String?
    public var offset: UInt64?
    public var seq: UInt64?

    public init(file: String? = nil, offset: UInt64? = nil, seq: UInt64? = nil) {
        self.file = file; self.offset = offset; self.seq = seq
    }

    /// The same location with the offset shifted by `base` (for errors found inside a sub-buffer).
    public func shifted(by base: UInt64) -> Location {
        var copy = self
        if let offset { copy.offset = offset &+ base }
        return copy
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let offset { parts.append("offset \(offset)") }
        if let seq { parts.append("seq \(seq)") }
        return parts.isEmpty ? "(unknown location)" : parts.joined(separator: ", ")
    }
}

/// Every failure a reader of the NEDB format reports (spec/FORMAT.md §13). Each case has a
/// stable identifier (`id`) that tools print and scripts match on.
public enum FormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Incomplete or checksum-failing bytes at the end of the active segment, with nothing
    /// valid after them: an interrupted write.
    case tornTail(Location, detail: String)
    /// A CRC32C did not match where valid data follows (not a torn tail): corruption.
    case checksumMismatch(Location, what: String, expected: UInt32, found: UInt32)
    /// A record's framing and CRC are intact but its stored chain hash is not the hash of its
    /// bytes: the record was altered after it was written (tampering).
    case hashMismatch(Location, expected: Hash32, found: Hash32)
    /// Records or segments do not link: a seq gap or overlap, or a predecessor hash that does
    /// not match.
    case chainBreak(Location, detail: String)
    /// A segment that must exist between two others is absent.
    case missingSegment(Location, detail: String)
    /// A segment is present but out of place (its header disagrees with its name or position).
    case reorderedSegment(Location, detail: String)
    /// The file needs a newer reader (or writer) than this one.
    case unsupportedVersion(Location, what: String, found: UInt16, supported: UInt16)
    /// The master key does not open this store's key file.
    case wrongKey(Location, detail: String)
    /// An encrypted record or checkpoint did not decrypt although its key was accepted.
    case decryptionFailed(Location, detail: String)
    /// Bytes with a valid checksum that break a structural rule of the spec.
    case malformed(Location, detail: String)
    /// A file does not start (or end) with the expected magic bytes.
    case badMagic(Location, expected: String, found: String)
    /// A file ends before a fixed-size structure does.
    case truncated(Location, needed: Int, available: Int)
    /// A segment footer disagrees with the records it describes.
    case footerMismatch(Location, detail: String)
    /// The manifest disagrees with the segments (derived data: rebuild it).
    case manifestMismatch(Location, detail: String)
    /// A checkpoint does not match the log (its binding or its state).
    case checkpointMismatch(Location, detail: String)
    /// The REPLAY index is damaged or names another store (derived data: rebuilt).
    case replayMismatch(Location, detail: String)
    /// The log ends before a seq that another file of the store (MANIFEST, REPLAY, a
    /// checkpoint) shows it reached, or a segment file that file lists is gone: acknowledged
    /// records were lost or rolled back.
    case missingData(Location, detail: String)
    /// An operating-system error while reading or writing.
    case io(Location, errno: Int32, detail: String)
    /// A call into a cryptographic or compression library failed (no AES-GCM on this CPU, a
    /// compressor's internal error): nothing about the bytes.
    case library(Location, detail: String)

    /// The stable identifier of this error class.
    public var id: String {
        switch self {
        case .tornTail: return "torn_tail"
        case .checksumMismatch: return "checksum_mismatch"
        case .hashMismatch: return "hash_mismatch"
        case .chainBreak: return "chain_break"
        case .missingSegment: return "missing_segment"
        case .reorderedSegment: return "reordered_segment"
        case .unsupportedVersion: return "unsupported_version"
        case .wrongKey: return "wrong_key"
        case .decryptionFailed: return "decryption_failed"
        case .malformed: return "malformed"
        case .badMagic: return "bad_magic"
        case .truncated: return "truncated"
        case .footerMismatch: return "footer_mismatch"
        case .manifestMismatch: return "manifest_mismatch"
        case .checkpointMismatch: return "checkpoint_mismatch"
        case .missingData: return "missing_data"
        case .replayMismatch: return "replay_mismatch"
        case .io: return "io_error"
        case .library: return "library_error"
        }
    }

    /// Broad verdict used by tools: crash damage, tampering, missing data, or other.
    public var verdict: Verdict {
        switch self {
        case .tornTail: return .crash
        case .hashMismatch, .chainBreak, .checkpointMismatch: return .tampering
        case .missingSegment, .reorderedSegment, .missingData: return .missingData
        case .checksumMismatch, .malformed, .badMagic, .truncated, .footerMismatch, .decryptionFailed: return .corruption
        case .manifestMismatch, .replayMismatch: return .derived
        case .unsupportedVersion, .wrongKey, .io, .library: return .environment
        }
    }

    /// How an error bears on the store.
    public enum Verdict: String, Sendable {
        /// An interrupted write; safe to truncate.
        case crash
        /// Bytes that verify structurally but not cryptographically: evidence, never repaired away.
        case tampering
        /// Data that should be present is not.
        case missingData = "missing_data"
        /// Damaged bytes (media error or tampering without recomputed checksums).
        case corruption
        /// A derived file is stale or damaged; rebuildable.
        case derived
        /// Not a property of the bytes: version, key or I/O.
        case environment
    }

    public var location: Location {
        switch self {
        case let .tornTail(l, _), let .checksumMismatch(l, _, _, _), let .hashMismatch(l, _, _),
             let .chainBreak(l, _), let .missingSegment(l, _), let .reorderedSegment(l, _),
             let .unsupportedVersion(l, _, _, _), let .wrongKey(l, _), let .decryptionFailed(l, _),
             let .malformed(l, _), let .badMagic(l, _, _), let .truncated(l, _, _),
             let .footerMismatch(l, _), let .manifestMismatch(l, _), let .checkpointMismatch(l, _),
             let .missingData(l, _), let .replayMismatch(l, _), let .io(l, _, _), let .library(l, _):
            return l
        }
    }

    /// The human explanation without the location.
    public var detail: String {
        switch self {
        case let .tornTail(_, d): return "torn tail: \(d)"
        case let .checksumMismatch(_, what, e, f):
            return "\(what) CRC32C mismatch: expected \(hex32(e)), found \(hex32(f))"
        case let .hashMismatch(_, e, f): return "record hash mismatch: stored \(f.hex), computed \(e.hex)"
        case let .chainBreak(_, d): return "chain break: \(d)"
        case let .missingSegment(_, d): return "missing segment: \(d)"
        case let .reorderedSegment(_, d): return "reordered segment: \(d)"
        case let .unsupportedVersion(_, what, found, supported):
            return "\(what) version \(found) is newer than supported version \(supported)"
        case let .wrongKey(_, d): return "wrong key: \(d)"
        case let .decryptionFailed(_, d): return "decryption failed: \(d)"
        case let .malformed(_, d): return "malformed: \(d)"
        case let .badMagic(_, e, f): return "bad magic: expected \(e), found \(f)"
        case let .truncated(_, needed, available): return "truncated: needed \(needed) bytes, \(available) available"
        case let .footerMismatch(_, d): return "footer mismatch: \(d)"
        case let .manifestMismatch(_, d): return "manifest mismatch: \(d)"
        case let .checkpointMismatch(_, d): return "checkpoint mismatch: \(d)"
        case let .missingData(_, d): return "missing data: \(d)"
        case let .replayMismatch(_, d): return "REPLAY mismatch: \(d)"
        case let .io(_, e, d): return "I/O error (errno \(e)): \(d)"
        case let .library(_, d): return "library error: \(d)"
        }
    }

    public var description: String { "\(location): [\(id)] \(detail)" }

    /// A copy with the file name filled in where it was unknown.
    public func inFile(_ file: String) -> FormatError {
        mapLocation { l in var l = l; if l.file == nil { l.file = file }; return l }
    }

    /// A copy with every offset shifted by `base`.
    public func shifted(by base: UInt64) -> FormatError { mapLocation { $0.shifted(by: base) } }

    /// A copy with the seq filled in where it was unknown.
    public func atSeq(_ seq: UInt64) -> FormatError {
        mapLocation { l in var l = l; if l.seq == nil { l.seq = seq }; return l }
    }

    private func mapLocation(_ f: (Location) -> Location) -> FormatError {
        switch self {
        case let .tornTail(l, d): return .tornTail(f(l), detail: d)
        case let .checksumMismatch(l, w, e, x): return .checksumMismatch(f(l), what: w, expected: e, found: x)
        case let .hashMismatch(l, e, x): return .hashMismatch(f(l), expected: e, found: x)
        case let .chainBreak(l, d): return .chainBreak(f(l), detail: d)
        case let .missingSegment(l, d): return .missingSegment(f(l), detail: d)
        case let .reorderedSegment(l, d): return .reorderedSegment(f(l), detail: d)
        case let .unsupportedVersion(l, w, x, s): return .unsupportedVersion(f(l), what: w, found: x, supported: s)
        case let .wrongKey(l, d): return .wrongKey(f(l), detail: d)
        case let .decryptionFailed(l, d): return .decryptionFailed(f(l), detail: d)
        case let .malformed(l, d): return .malformed(f(l), detail: d)
        case let .badMagic(l, e, x): return .badMagic(f(l), expected: e, found: x)
        case let .truncated(l, n, a): return .truncated(f(l), needed: n, available: a)
        case let .footerMismatch(l, d): return .footerMismatch(f(l), detail: d)
        case let .manifestMismatch(l, d): return .manifestMismatch(f(l), detail: d)
        case let .checkpointMismatch(l, d): return .checkpointMismatch(f(l), detail: d)
        case let .missingData(l, d): return .missingData(f(l), detail: d)
        case let .replayMismatch(l, d): return .replayMismatch(f(l), detail: d)
        case let .io(l, e, d): return .io(f(l), errno: e, detail: d)
        case let .library(l, d): return .library(f(l), detail: d)
        }
    }

    /// Converts a low-level reader failure into a located format error.
    public static func from(_ failure: ByteReader.Failure, file: String? = nil, base: UInt64 = 0,
                            seq: UInt64? = nil, what: String) -> FormatError {
        switch failure {
        case let .truncated(offset, needed, available):
            return .malformed(Location(file: file, offset: base &+ UInt64(offset), seq: seq),
                              detail: "\(what): needed \(needed) bytes, \(available) remain")
        case let .badVarint(offset):
            return .malformed(Location(file: file, offset: base &+ UInt64(offset), seq: seq),
                              detail: "\(what): invalid or non-minimal varint")
        }
    }
}

func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
