import NEDBFormat

/// Everything the store reports. Each case carries the context needed to act on it.
public enum StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Another process holds the store's lock.
    case locked(path: String, holder: String)
    /// The directory holds no store and `create` was off.
    case notAStore(path: String)
    /// Damage or tampering that the recovery policy does not allow to open read-write (or any
    /// format error found while reading).
    case damaged(FormatError)
    /// The store is encrypted and no key was given.
    case keyRequired(path: String)
    /// A key was given for a store that is not encrypted (it would silently be ignored).
    case notEncrypted(path: String)
    /// A stale nonce: the client has already used this nonce or a later one.
    case staleNonce(client: String, nonce: UInt64, last: UInt64)
    /// A record the format would reject (bad name, non-canonical document, …).
    case invalidRecord(FormatError)
    /// An operating-system error; when it happened during a write or fsync, the store is now
    /// failed and must be reopened (nothing after the last successful fsync is acknowledged).
    case io(SystemError)
    /// An earlier write or fsync failed; the store refuses further writes until reopened.
    case failed(SystemError)
    /// A write on a store opened read-only.
    case readOnly
    case closed
    /// No record with this seq (beyond the head, or pruned).
    case notFound(seq: UInt64)

    public var description: String {
        switch self {
        case let .locked(path, holder): return "\(path) is locked by another writer (\(holder))"
        case let .notAStore(path): return "\(path) holds no NEDB store"
        case let .damaged(e): return e.description
        case let .keyRequired(path): return "\(path) is encrypted: give a key (--key-file, NEDB_KEY or a passphrase)"
        case let .notEncrypted(path): return "\(path) is not encrypted, but a key was given (--key-file, --key-env, --passphrase-env, NEDB_KEY or NEDB_PASSPHRASE): nothing is encrypted with it; give no key"
        case let .staleNonce(client, nonce, last): return "stale nonce \(nonce) for client \"\(client)\": last accepted nonce is \(last)"
        case let .invalidRecord(e): return "invalid record: \(e.detail)"
        case let .io(e): return "I/O error: \(e)"
        case let .failed(e): return "the store failed earlier and must be reopened: \(e)"
        case .readOnly: return "the store is open read-only"
        case .closed: return "the store is closed"
        case let .notFound(seq): return "no record with seq \(seq)"
        }
    }

    /// The stable identifier used by tools (`locked`, `torn_tail`, `stale_nonce`, …).
    public var id: String {
        switch self {
        case .locked: return "locked"
        case .notAStore: return "not_a_store"
        case let .damaged(e): return e.id
        case .keyRequired: return "key_required"
        case .notEncrypted: return "not_encrypted"
        case .staleNonce: return "stale_nonce"
        case .invalidRecord: return "invalid_record"
        case .io: return "io_error"
        case .failed: return "store_failed"
        case .readOnly: return "read_only"
        case .closed: return "closed"
        case .notFound: return "not_found"
        }
    }
}

extension StoreError {
    /// Damage found in the store's files (as opposed to a usage, key, version, lock or I/O
    /// error, which are about the environment).
    public var isDamage: Bool {
        if case let .damaged(e) = self { return e.verdict != .environment }
        return false
    }
}
