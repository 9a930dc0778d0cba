/// The one-byte record type (spec/FORMAT.md §3.2). Bit 7 set means "safe to ignore if unknown".
public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// First record of every store: binds store id, hash algorithm and encryption mode.
    public static let genesis = RecordType(rawValue: 0x01)
    public static let put = RecordType(rawValue: 0x02)
    public static let delete = RecordType(rawValue: 0x03)
    public static let link = RecordType(rawValue: 0x04)
    public static let unlink = RecordType(rawValue: 0x05)
    public static let defineIndex = RecordType(rawValue: 0x06)
    /// Notes that a checkpoint of the state at some seq was written (binds its hash into the log).
    public static let checkpointMarker = RecordType(rawValue: 0x07)
    /// A new data-encryption key is in use for the records after this one.
    public static let keyRotation = RecordType(rawValue: 0x08)
    /// History before a retention point was pruned by compaction (and how much).
    public static let compaction = RecordType(rawValue: 0x09)
    public static let dropIndex = RecordType(rawValue: 0x0A)
    /// A record whose content was removed by compaction; only its chain hash remains.
    public static let pruned = RecordType(rawValue: 0x7E)
    /// Free-text annotation; ignorable (bit 7), so readers that do not know it skip it.
    public static let annotation = RecordType(rawValue: 0x81)

    /// Types this version of the spec defines.
    public static let known: [RecordType] = [.genesis, .put, .delete, .link, .unlink, .defineIndex,
                                             .checkpointMarker, .keyRotation, .compaction, .dropIndex,
                                             .pruned, .annotation]

    /// Bit 7: a reader that does not know this type may skip the record (it still hashes it).
    public var isIgnorable: Bool { rawValue & 0x80 != 0 }

    public var isKnown: Bool { RecordType.known.contains(self) }

    public var name: String {
        switch self {
        case .genesis: return "genesis"
        case .put: return "put"
        case .delete: return "delete"
        case .link: return "link"
        case .unlink: return "unlink"
        case .defineIndex: return "define_index"
        case .checkpointMarker: return "checkpoint"
        case .keyRotation: return "key_rotation"
        case .compaction: return "compaction"
        case .dropIndex: return "drop_index"
        case .pruned: return "pruned"
        case .annotation: return "annotation"
        default: return "unknown_0x" + String(rawValue, radix: 16)
        }
    }

    public init?(name: String) {
        guard let t = RecordType.known.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    public var description: String { name }

    /// Types whose user-visible fields are sealed in an encrypted store.
    public var isSealedWhenEncrypted: Bool {
        switch self {
        case .put, .delete, .link, .unlink, .defineIndex, .dropIndex, .annotation: return true
        default: return false
        }
    }
}

/// The kinds of secondary index a `define_index` record may declare.
public enum IndexKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Equality lookups (`=`, `IN`).
    case eq = 1
    /// Ranges and ORDER BY.
    case ordered = 2
    /// Full-text token search.
    case search = 3

    public var description: String {
        switch self {
        case .eq: return "eq"
        case .ordered: return "ordered"
        case .search: return "search"
        }
    }

    public init?(name: String) {
        guard let k = IndexKind.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = k
    }
}

/// Marks a record as one of `count` records of an atomic transaction starting at `firstSeq`.
public struct TransactionMark: Hashable, Sendable {
    public var firstSeq: UInt64
    public var count: UInt32
    public init(firstSeq: UInt64, count: UInt32) { self.firstSeq = firstSeq; self.count = count }
}
