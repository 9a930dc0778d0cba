import NEDBState

/// A parsed NQL query (spec/NQL.md).
public struct Query: Sendable, Equatable {
    public var collection: String
    public var asOf: UInt64?
    /// VALID AS OF, as µs (parsed from the date text).
    public var validAt: Microseconds?
    public var filter: Predicate?
    public var search: Search?
    public var traverse: Traverse?
    public var trace: Trace?
    public var group: Group?
    public var order: [OrderKey] = []
    public var limit: Int?
    public var offset: Int = 0

    public init(collection: String) { self.collection = collection }
}

/// A dotted path into a document; a first component starting with `_` names metadata.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public var components: [String]
    public init(_ components: [String]) { self.components = components }
    public var description: String { components.joined(separator: ".") }
    public var isMetadata: Bool { components.count == 1 && components[0].hasPrefix("_") }

    /// The metadata names a query may use (spec/NQL.md §4.1).
    public static let metadataNames: [String] = ["_id", "_coll", "_seq", "_time", "_hash", "_valid_from", "_valid_to",
                                                 "_caused_by", "_evidence", "_confidence"]
    /// Metadata holding instants: compared with date strings as instants, ordered in time.
    public static let instantNames: Set<String> = ["_time", "_valid_from", "_valid_to"]

    /// Whether this names an instant-valued metadata field.
    public var isInstant: Bool { isMetadata && FieldPath.instantNames.contains(components[0]) }
}

public enum Comparison: String, Sendable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
}

public indirect enum Predicate: Sendable, Equatable {
    case compare(FieldPath, Comparison, JSONValue)
    case isIn(FieldPath, [JSONValue])
    case exists(FieldPath)
    case and(Predicate, Predicate)
    case or(Predicate, Predicate)
    case not(Predicate)
}

public struct Search: Sendable, Equatable {
    /// The field searched; nil: the collection's search-indexed fields (or every string).
    public var field: FieldPath?
    public var text: String
}

public struct Traverse: Sendable, Equatable {
    public enum Direction: String, Sendable { case outbound, inbound, both }
    public var relation: String?
    public var depth: Int
    public var direction: Direction
}

public struct Trace: Sendable, Equatable {
    public var reverse: Bool
    /// nil: follow causes to the end.
    public var depth: Int?
}

public struct Group: Sendable, Equatable {
    public enum Aggregate: Sendable, Equatable {
        case count
        case sum(FieldPath), avg(FieldPath), min(FieldPath), max(FieldPath)

        public var name: String {
            switch self {
            case .count: return "count"
            case .sum: return "sum"
            case .avg: return "avg"
            case .min: return "min"
            case .max: return "max"
            }
        }
    }
    public var key: FieldPath
    public var aggregate: Aggregate
}

public struct OrderKey: Sendable, Equatable {
    public var path: FieldPath
    public var descending: Bool
}

/// A malformed query: where (character offset, 1-based line and column) and what was expected.
public struct QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { "NQL error at line \(line), column \(column): \(message)" }
}
