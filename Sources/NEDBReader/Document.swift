/// A document as reads return it: the stored JSON object plus its metadata. `json` merges both
/// into one object with the metadata under reserved `_` names (spec/NQL.md §4.1).
public struct Document: Sendable, Equatable {
    public let collection: String
    public let id: String
    /// The stored document (no metadata).
    public let body: JSONValue
    /// The version read: seq, times, chain hash, provenance.
    public let version: Version

    public var seq: UInt64 { version.seq }
    /// Transaction time.
    public var time: Microseconds { version.time }
    /// The record's chain hash.
    public var hash: Hash32 { version.chain }
    public var validFrom: Microseconds? { version.validFrom }
    public var validTo: Microseconds? { version.validTo }
    public var causedBy: [UInt64] { version.causedBy }
    public var evidence: String? { version.evidence }
    public var confidence: Double? { version.confidence }

    public init(collection: String, id: String, version: Version, body: JSONValue) {
        self.collection = collection
        self.id = id
        self.version = version
        self.body = body
    }

    /// The body with `_id`, `_coll`, `_seq`, `_time`, `_hash` and, where set, `_valid_from`,
    /// `_valid_to`, `_caused_by`, `_evidence`, `_confidence`.
    public var json: JSONValue { version.rendered(body, collection: collection, id: id) }

    /// `body[key]`.
    public subscript(key: String) -> JSONValue? { body[key] }
}

/// Errors of the embedded API.
public enum DatabaseError: Error, Sendable, CustomStringConvertible {
    /// Bad input: a bad name, a reserved field, an unparsable date, a non-object document…
    case invalid(String)
    /// A transaction's precondition failed: which operation (0-based) and why. Nothing was written.
    case preconditionFailed(operation: Int, reason: String)
    case query(QueryError)
    case store(StoreError)
    case state(StateError)
    case readOnly

    public var description: String {
        switch self {
        case let .invalid(s): return s
        case let .preconditionFailed(op, reason): return "operation \(op): precondition failed: \(reason) (nothing was written)"
        case let .query(e): return e.description
        case let .store(e): return e.description
        case let .state(e): return e.description
        case .readOnly: return "the database is open read-only"
        }
    }

    /// The damage found in the store's files, with its id, file, offset and seq (nil for any
    /// other error).
    public var damage: FormatError? {
        if case let .store(.damaged(e)) = self { return e }
        return nil
    }

    /// Stable identifier for tools.
    public var id: String {
        switch self {
        case .invalid: return "invalid"
        case .preconditionFailed: return "precondition_failed"
        case .query: return "nql_error"
        case let .store(e): return e.id
        case .state: return "state_error"
        case .readOnly: return "read_only"
        }
    }

    package static func wrap(_ error: Error) -> DatabaseError {
        switch error {
        case let e as DatabaseError: return e
        case let e as StoreError: return .store(e)
        case let e as StateError: return .state(e)
        case let e as QueryError: return .query(e)
        case let e as FormatError: return .store(.damaged(e))
        case let e as SystemError: return .store(.io(e))
        default: return .invalid("\(error)")
        }
    }
}
