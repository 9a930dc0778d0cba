#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// The writer's lock on a store directory, held across a maintenance job that rewrites files
/// (compaction, in-place repair): taken before the store is first opened and released only when
/// the job is done, so no writer can open the store between its steps. Stores opened through
/// the holder leave the lock held when they close.
public final class StoreLockHolder: @unchecked Sendable {
    // Immutable after init; the lock itself is thread-safe.
    public let directory: String
    let fs: FileSystem
    let lock: FileLock

    init(directory: String, fs: FileSystem, lock: FileLock) {
        self.directory = directory
        self.fs = fs
        self.lock = lock
    }

    /// Takes the lock of the store in `directory` (which must exist); `locked` when a writer
    /// holds it. A `key` is checked first, so a wrong key touches nothing (the lock file included).
    public static func acquire(_ directory: String, fileSystem: FileSystem = PosixFileSystem(),
                               key: KeySource? = nil) throws(StoreError) -> StoreLockHolder {
        guard fileSystem.isDirectory(directory) else { throw .notAStore(path: directory) }
        var options = StoreOptions()
        options.fileSystem = fileSystem
        options.key = key
        _ = try StoreOpener(directory: directory, options: options).checkKey()
        let layout = StoreLayout(root: directory)
        do {
            return StoreLockHolder(directory: directory, fs: fileSystem, lock: try fileSystem.lock(layout.lock, owner: LockOwner.describe()))
        } catch {
            if error.errno == EWOULDBLOCK || error.errno == EAGAIN {
                throw .locked(path: layout.lock, holder: error.path.suffix(after: " held by ") ?? "unknown")
            }
            throw .io(error)
        }
    }

    /// Opens the store for writing under the held lock (`options.readOnly` is ignored).
    public func open(options: StoreOptions) throws(StoreError) -> LogStore {
        var o = options
        o.readOnly = false
        o.fileSystem = fs
        return try StoreOpener(directory: directory, options: o, heldLock: BorrowedLock()).open()
    }

    public func release() { lock.release() }

    deinit { lock.release() }
}

/// Stands for a lock someone else holds: releasing it does nothing.
final class BorrowedLock: FileLock, @unchecked Sendable {
    func release() {}
}
