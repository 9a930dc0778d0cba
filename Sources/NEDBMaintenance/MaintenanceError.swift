import NEDBStore
import NEDBState

/// Why a maintenance job (compaction, repair) did not run or did not finish.
public enum MaintenanceError: Error, Sendable, CustomStringConvertible {
    /// The store does not verify: nothing was changed (repair it first).
    case doesNotVerify([FormatError])
    /// The job needs the master key (it reads documents).
    case keyRequired(String)
    /// Repair in place refuses anything but an interrupted write or stale derived files (or a
    /// rollback it was told to accept): salvage into a new directory instead.
    case refusedInPlace(String)
    /// The output directory is not empty.
    case outputExists(String)
    /// Nothing can be salvaged.
    case nothingToSalvage(String)
    case store(StoreError)
    case io(SystemError)
    case failed(String)

    public var description: String {
        switch self {
        case let .doesNotVerify(issues):
            return "the store does not verify; run nedb-verify / nedb-repair first:\n" + issues.map { "[\($0.id)] \($0.location): \($0.detail)" }.joined(separator: "\n")
        case let .keyRequired(why): return why
        case let .refusedInPlace(why): return "refusing to repair in place: \(why)"
        case let .outputExists(path): return "\(path) exists and is not empty"
        case let .nothingToSalvage(why): return "no record can be salvaged: \(why)"
        case let .store(e): return e.description
        case let .io(e): return e.description
        case let .failed(why): return why
        }
    }

    static func wrap(_ error: Error) -> MaintenanceError {
        switch error {
        case let e as MaintenanceError: return e
        case let e as StoreError: return .store(e)
        case let e as SystemError: return .io(e)
        case let e as FormatError: return .store(.damaged(e))
        default: return .failed("\(error)")
        }
    }
}
