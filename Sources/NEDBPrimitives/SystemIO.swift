#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An operating-system call failed: which call, on which path, with which errno.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation; self.path = path; self.errno = errno
    }

    public var message: String { String(cString: strerror(errno)) }
    public var description: String { "\(operation) \(path): \(message) (errno \(errno))" }
}

/// A file opened for reading at explicit offsets (thread-safe: uses pread).
public protocol ReadableFile: AnyObject, Sendable {
    var path: String { get }
    func size() throws(SystemError) -> UInt64
    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    func read(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8]
    /// Reads into `buffer` at `offset`; returns the bytes read (fewer only at end of file).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int
    func close()
}

/// A file opened for reading and writing at explicit offsets.
public protocol WritableFile: ReadableFile {
    /// Writes all of `bytes` at `offset` (retrying short writes).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError)
    /// fdatasync(2): the written data (and the size) reach stable storage.
    func sync() throws(SystemError)
    func truncate(to size: UInt64) throws(SystemError)
    /// A memory mapping for appending at the end of this file, or nil when the file cannot be
    /// written that way (then `write` is the only way). `reserve` is the address space to map.
    func appendMapping(reserve: Int) -> AppendMapping?
}

extension WritableFile {
    public func appendMapping(reserve: Int) -> AppendMapping? { nil }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws(SystemError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SystemError) in try write(raw, at: offset) }
        }
        try result.get()
    }
}

/// An advisory exclusive lock held until `release()` (or process exit).
public protocol FileLock: AnyObject, Sendable {
    func release()
}

/// Everything the format library, store and tools need from a file system. `PosixFileSystem`
/// is the real one; tests wrap it to inject faults.
public protocol FileSystem: Sendable {
    func openForReading(_ path: String) throws(SystemError) -> ReadableFile
    /// Opens for read/write, creating the file when `create` is true.
    func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile
    func listDirectory(_ path: String) throws(SystemError) -> [String]
    func createDirectory(_ path: String) throws(SystemError)
    func rename(_ from: String, to: String) throws(SystemError)
    func remove(_ path: String) throws(SystemError)
    /// fsync(2) on a directory so renames and creations in it are durable.
    func syncDirectory(_ path: String) throws(SystemError)
    func exists(_ path: String) -> Bool
    func isDirectory(_ path: String) -> Bool
    /// Takes an exclusive non-blocking lock on `path` (created if needed) and writes `owner`
    /// into it. Fails with EWOULDBLOCK when another process holds it; the error carries the
    /// current owner text in `SystemError.path` after " held by ".
    func lock(_ path: String, owner: String) throws(SystemError) -> FileLock
}

extension FileSystem {
    /// Creates `path` and any missing parents (like `mkdir -p`).
    public func createDirectories(_ path: String) throws(SystemError) {
        if isDirectory(path) { return }
        let parent = PathUtil.parent(path)
        if !parent.isEmpty && parent != path && parent != "/" { try createDirectories(parent) }
        try createDirectory(path)
    }

    /// Reads a whole file.
    public func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        let file = try openForReading(path)
        defer { file.close() }
        let size = try file.size()
        guard size <= UInt64(Int.max) else { throw SystemError(operation: "read", path: path, errno: EFBIG) }
        return try file.read(at: 0, count: Int(size))
    }

    /// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync directory.
    /// Writes `path` as a whole or not at all: a temporary file, fsynced, renamed over it, the
    /// directory fsynced. A failure removes the temporary file (a full disk leaves nothing behind).
    public func writeAtomically(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let temp = path + ".tmp"
        let file = try openForWriting(temp, create: true)
        do {
            try file.truncate(to: 0)
            try file.write(bytes, at: 0)
            try file.sync()
            file.close()
            try rename(temp, to: path)
        } catch {
            file.close()
            try? remove(temp)
            throw error
        }
        try syncDirectory(PathUtil.directory(of: path))
    }
}

/// Minimal path helpers (no Foundation).
public enum PathUtil {
    /// The directory part of `path` ("" for a bare name).
    public static func parent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    public static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// The real file system through POSIX calls.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func openForReading(_ path: String) throws(SystemError) -> ReadableFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path)
    }

    public func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = Glibc.open(path, flags, 0o644)
        guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path)
    }

    public func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func createDirectory(_ path: String) throws(SystemError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SystemError(operation: "mkdir", path: path, errno: errno)
        }
    }

    public func rename(_ from: String, to: String) throws(SystemError) {
        if Glibc.rename(from, to) != 0 { throw SystemError(operation: "rename", path: "\(from) -> \(to)", errno: errno) }
    }

    public func remove(_ path: String) throws(SystemError) {
        if isDirectory(path) {
            for name in try listDirectory(path) { try remove(PathUtil.join(path, name)) }
            if rmdir(path) != 0 { throw SystemError(operation: "rmdir", path: path, errno: errno) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SystemError(operation: "unlink", path: path, errno: errno)
        }
    }

    public func syncDirectory(_ path: String) throws(SystemError) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        if fsync(fd) != 0 { throw SystemError(operation: "fsync", path: path, errno: errno) }
    }

    public func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func lock(_ path: String, owner: String) throws(SystemError) -> FileLock {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = pread(fd, &buffer, buffer.count, 0)
            Glibc.close(fd)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingNewlines : "unknown"
            throw SystemError(operation: "lock", path: "\(path) held by \(holder)", errno: code)
        }
        // Overwrite, then cut to length: cheaper than truncating to zero first (which frees the
        // file's block and journals it) when the previous owner text had the same length.
        let text = Array((owner + "\n").utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = ftruncate(fd, off_t(text.count))
        return PosixLock(fd: fd)
    }
}

extension String {
    var trimmingNewlines: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s = s.dropLast() }
        return String(s)
    }
}

final class PosixLock: FileLock, @unchecked Sendable {
    private var fd: Int32
    private let mutex = PthreadMutex()

    init(fd: Int32) { self.fd = fd }

    func release() {
        mutex.locked {
            if fd >= 0 {
                _ = flock(fd, LOCK_UN)
                Glibc.close(fd)
                fd = -1
            }
        }
    }

    deinit { release() }
}

/// A file descriptor with positional I/O. Safe to share between threads (pread/pwrite). Once
/// closed, every operation fails with EBADF: the descriptor is closed only after the operations
/// in flight end, so a closed handle can never touch a descriptor the process reused.
public final class PosixFile: WritableFile, @unchecked Sendable {
    public let path: String
    private let fd: Int32
    /// 2 × operations in flight, plus 1 once closed.
    private let state = Atomic<Int>(0)

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    public func close() {
        let old = state.bitwiseOr(1, ordering: .acquiringAndReleasing).oldValue
        if old == 0 { Glibc.close(fd) }
    }

    /// Runs `body` with the descriptor, unless the file is closed.
    @inline(__always)
    private func using<R>(_ operation: String, _ body: (Int32) throws(SystemError) -> R) throws(SystemError) -> R {
        var current = state.load(ordering: .acquiring)
        while true {
            if current & 1 != 0 { throw SystemError(operation: operation, path: path, errno: EBADF) }
            let (exchanged, original) = state.compareExchange(expected: current, desired: current + 2, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        defer {
            if state.wrappingSubtract(2, ordering: .acquiringAndReleasing).newValue == 1 { Glibc.close(fd) }
        }
        return try body(fd)
    }

    public func size() throws(SystemError) -> UInt64 {
        try using("fstat") { fd throws(SystemError) in
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw SystemError(operation: "fstat", path: path, errno: errno) }
            return UInt64(st.st_size)
        }
    }

    public func appendMapping(reserve: Int) -> AppendMapping? {
        guard let size = try? size() else { return nil }
        return AppendMapping(fd: fd, path: path, size: size, reserve: reserve)
    }

    public func read(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: SystemError? = nil
        let out = [UInt8](unsafeUninitializedCapacity: count) { raw, initialized in
            do {
                initialized = try read(at: offset, into: UnsafeMutableRawBufferPointer(raw))
            } catch let error as SystemError {
                failure = error
                initialized = 0
            } catch {
                initialized = 0
            }
        }
        if let failure { throw failure }
        return out
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        guard offset <= UInt64(Int64.max) else { throw SystemError(operation: "pread", path: path, errno: EINVAL) }
        return try using("pread") { fd throws(SystemError) in
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError(operation: "pread", path: path, errno: errno)
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        guard offset <= UInt64(Int64.max) else { throw SystemError(operation: "pwrite", path: path, errno: EINVAL) }
        try using("pwrite") { fd throws(SystemError) in
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError(operation: "pwrite", path: path, errno: errno)
                }
                done += n
            }
        }
    }

    public func sync() throws(SystemError) {
        try using("fdatasync") { fd throws(SystemError) in
            if fdatasync(fd) != 0 { throw SystemError(operation: "fdatasync", path: path, errno: errno) }
        }
    }

    public func truncate(to size: UInt64) throws(SystemError) {
        guard size <= UInt64(Int64.max) else { throw SystemError(operation: "ftruncate", path: path, errno: EINVAL) }
        try using("ftruncate") { fd throws(SystemError) in
            if ftruncate(fd, off_t(size)) != 0 { throw SystemError(operation: "ftruncate", path: path, errno: errno) }
        }
    }
}

extension FileSystem {
    /// The size of the file at `path`, 0 when it cannot be opened or sized (for reports and
    /// bounds that treat an unreadable file as empty; opening it reports the real error).
    public func sizeOrZero(_ path: String) -> UInt64 {
        guard let f = try? openForReading(path) else { return 0 }
        defer { f.close() }
        return (try? f.size()) ?? 0
    }
}
