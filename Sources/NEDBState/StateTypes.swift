/// One version of a document: a put (with content) or a delete (a tombstone).
public struct Version: Sendable, Equatable {
    public var seq: UInt64
    /// Transaction time (µs).
    public var time: Microseconds
    public var deleted: Bool
    /// The canonical JSON bytes (nil for a tombstone).
    public var documentBytes: [UInt8]?
    /// Valid time [validFrom, validTo); nil ends are open.
    public var validFrom: Microseconds?
    public var validTo: Microseconds?
    public var causedBy: [UInt64]
    public var evidence: String?
    public var confidence: Double?
    /// The record's chain hash (its Merkle leaf).
    public var chain: Hash32

    public init(seq: UInt64, time: Microseconds, deleted: Bool, documentBytes: [UInt8]?, validFrom: Microseconds?,
                validTo: Microseconds?, causedBy: [UInt64], evidence: String?, confidence: Double?, chain: Hash32) {
        self.seq = seq; self.time = time; self.deleted = deleted; self.documentBytes = documentBytes
        self.validFrom = validFrom; self.validTo = validTo; self.causedBy = causedBy; self.evidence = evidence
        self.confidence = confidence; self.chain = chain
    }

    /// True when valid time `t` is inside [validFrom, validTo). Tombstones cover all time.
    @inline(__always)
    public func isValid(at t: Microseconds) -> Bool {
        if deleted { return true }
        if let f = validFrom, t < f { return false }
        if let e = validTo, t >= e { return false }
        return true
    }
}

/// A document version with its parsed content, as reads return it.
public struct DocumentVersion: Sendable {
    public let collection: String
    public let id: String
    public let version: Version
    /// The parsed document (nil for a tombstone).
    public let document: JSONValue?
}

extension Version {
    /// `document` with this version's metadata added (spec/NQL.md §4.1): `_id`, `_coll`,
    /// `_seq`, `_time`, `_hash` and, where set, `_valid_from`, `_valid_to`, `_caused_by`,
    /// `_evidence`, `_confidence`. A document that is not an object is returned as it is.
    public func rendered(_ document: JSONValue, collection: String, id: String) -> JSONValue {
        guard case var .object(o) = document else { return document }
        o.reserveCapacity(o.count + 10)
        o["_id"] = .string(id)
        o["_coll"] = .string(collection)
        o["_seq"] = .number(Double(seq))
        o["_time"] = .string(Timestamp.format(time))
        o["_hash"] = .string(chain.hex)
        if let validFrom { o["_valid_from"] = .string(Timestamp.format(validFrom)) }
        if let validTo { o["_valid_to"] = .string(Timestamp.format(validTo)) }
        if !causedBy.isEmpty { o["_caused_by"] = .array(causedBy.map { .number(Double($0)) }) }
        if let evidence { o["_evidence"] = .string(evidence) }
        if let confidence { o["_confidence"] = .number(confidence) }
        return .object(o)
    }
}

/// Which version a read sees: transaction time (seq) and, optionally, valid time.
public struct ReadPoint: Sendable, Equatable {
    /// Records with seq ≤ this are visible.
    public var asOf: UInt64
    /// When set, only versions whose valid time contains it qualify (VALID AS OF).
    public var validAt: Microseconds?

    public init(asOf: UInt64, validAt: Microseconds? = nil) { self.asOf = asOf; self.validAt = validAt }
}

/// A definition of a secondary index, with the seqs it was defined and dropped at.
public struct IndexDefinition: Sendable, Equatable, Hashable {
    public var collection: String
    /// Dotted path into the document.
    public var field: String
    public var kind: IndexKind
    public var definedSeq: UInt64
    public var droppedSeq: UInt64?

    public var path: [String] { field.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

    public func isDefined(at seq: UInt64) -> Bool {
        definedSeq <= seq && (droppedSeq.map { seq < $0 } ?? true)
    }
}

/// The identity of an index (one per collection, field and kind).
public struct IndexID: Hashable, Sendable, Comparable {
    public var collection: String
    public var field: String
    public var kind: IndexKind

    public init(collection: String, field: String, kind: IndexKind) {
        self.collection = collection; self.field = field; self.kind = kind
    }

    public static func < (a: IndexID, b: IndexID) -> Bool {
        (a.collection, a.field, a.kind.rawValue) < (b.collection, b.field, b.kind.rawValue)
    }
}

/// One interval during which an edge existed: [added, removed).
public struct EdgeInterval: Sendable, Equatable {
    public var added: UInt64
    public var removed: UInt64?

    public func contains(_ seq: UInt64) -> Bool { added <= seq && (removed.map { seq < $0 } ?? true) }
}

/// An edge (from, relation, to) between documents named `collection:id`.
public struct EdgeKey: Hashable, Sendable, Comparable {
    public var from: String
    public var relation: String
    public var to: String

    public init(from: String, relation: String, to: String) { self.from = from; self.relation = relation; self.to = to }

    public static func < (a: EdgeKey, b: EdgeKey) -> Bool {
        let x = ValueOrder.compareBytes(Array(a.from.utf8), Array(b.from.utf8))
        if x != 0 { return x < 0 }
        let y = ValueOrder.compareBytes(Array(a.relation.utf8), Array(b.relation.utf8))
        if y != 0 { return y < 0 }
        return ValueOrder.compareBytes(Array(a.to.utf8), Array(b.to.utf8)) < 0
    }
}

/// Failures of state reads and checkpoint loading.
public enum StateError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A checkpoint page or section failed its check (the engine falls back to the log).
    case checkpoint(FormatError)
    /// A record could not be applied (it would make the state inconsistent).
    case invalidRecord(seq: UInt64, reason: String)

    public var description: String {
        switch self {
        case let .checkpoint(e): return "checkpoint: \(e)"
        case let .invalidRecord(seq, reason): return "record \(seq) cannot be applied: \(reason)"
        }
    }
}

/// Compares two strings by their UTF-8 bytes (the key order of the state).
@inline(__always)
public func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
