import NEDBFormat

/// When an append returns relative to the disk.
public enum Durability: String, Sendable, CaseIterable {
    /// Handed to the operating system before returning: survives the process being killed, not
    /// a power loss.
    case none
    /// Group commit: concurrent appenders share one fsync; a call returns after the fsync that
    /// covers its records.
    case batch
    /// fsync before returning, every call.
    case always

    var needsSync: Bool { self != .none }
}

/// What to do with damage found when opening read-write (after RocksDB's WAL recovery modes).
public enum RecoveryPolicy: String, Sendable, CaseIterable {
    /// Refuse to open if anything at all is wrong, even an interrupted write at the tail.
    case strict
    /// The default: truncate a torn tail (incomplete or checksum-failing bytes after the last
    /// valid record of the active segment, and an incomplete transaction), refuse anything else.
    case truncateTornTail = "truncate-torn-tail"
    /// Also recover from damage in the middle of the active segment: everything from the first
    /// damaged byte on is moved to `lost+found/` (never deleted) and the log continues from the
    /// last good record. Refuses damage in sealed segments and tampering.
    case pointInTime = "point-in-time"
}

/// Where the master key of an encrypted store comes from.
public enum KeySource: Sendable {
    /// A file holding 64 hex digits or base64 of 32 bytes.
    case keyFile(String)
    /// An environment variable holding the same text.
    case environment(String)
    /// A passphrase stretched with Argon2id (parameters are stored in the key file).
    case passphrase(String)
    /// The 32 key bytes.
    case raw([UInt8])
}

/// How to open or create a store.
public struct StoreOptions: Sendable {
    /// Create the store if the directory holds none.
    public var create = true
    /// Open without the lock and without modifying anything (readers beside a writer).
    public var readOnly = false
    /// Read-only opens only: open a damaged store as the verified prefix of its log instead of
    /// refusing it; `LogStore.damage` then says what is wrong. Writers always refuse damage.
    public var allowDamaged = false
    public var durability: Durability = .batch
    public var recovery: RecoveryPolicy = .truncateTornTail
    /// Seal the active segment and start a new one beyond this size.
    public var segmentSize: UInt64 = 64 << 20
    /// Rewrite sealed segments zstd-compressed (in the background).
    public var compressSealed = false
    /// For a new store: the hash algorithm and the checkpoint origin line.
    public var hashAlgorithm: HashAlgorithm = .blake2b256
    public var origin: String? = nil
    /// For a new store: encrypt it. For an existing encrypted store: the key.
    public var key: KeySource? = nil
    public var encrypt = false
    /// Argon2id limits used when a passphrase creates a key file.
    public var argon2OpsLimit: UInt64 = Argon2id.defaultOpsLimit
    public var argon2MemLimit: UInt64 = Argon2id.defaultMemLimit
    /// Skip re-parsing documents before writing: for callers (the engine) that produce them
    /// with `JCS.serialize` of a JSON object.
    public var trustCanonicalDocuments = false
    /// Append to the active segment through a memory mapping (the file extended ahead with
    /// reserved zero bytes, spec/FORMAT.md §13.1) instead of one `pwrite` per flush, where the
    /// file system allows it. Same durability; removes a system call from every append.
    public var mappedAppends = true
    /// The file system (tests inject faults; in-memory stores use `MemoryFileSystem`).
    public var fileSystem: FileSystem = PosixFileSystem()
    /// The clock, µs since the epoch (tests fix it).
    public var clock: @Sendable () -> Microseconds = { Wallclock.now() }

    public init() {}

    /// Options for a store that lives only in memory.
    public static func inMemory() -> StoreOptions {
        var o = StoreOptions()
        o.fileSystem = MemoryFileSystem()
        o.durability = .none
        return o
    }
}

/// The wall clock in µs.
public enum Wallclock {
    public static func now() -> Microseconds {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

#if canImport(Glibc)
import Glibc
#endif
