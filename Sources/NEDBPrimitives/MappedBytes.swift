#if canImport(Glibc)
import Glibc
#endif

/// Read-only bytes of a whole file: memory-mapped for files on disk (so opening costs nothing
/// until pages are touched), or held in an array. Thread-safe; unmapped on deinit.
public final class MappedBytes: @unchecked Sendable {
    public let count: Int
    private let base: UnsafeRawPointer?
    private let mapped: Bool
    private let storage: [UInt8]

    /// Holds an array.
    public init(bytes: [UInt8]) {
        storage = bytes
        count = bytes.count
        mapped = false
        base = nil
    }

    /// Maps a file read-only.
    public init(mapping path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(operation: "fstat", path: path, errno: errno) }
        count = Int(st.st_size)
        storage = []
        if count == 0 {
            base = nil
            mapped = false
            return
        }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SystemError(operation: "mmap", path: path, errno: errno)
        }
        base = UnsafeRawPointer(p)
        mapped = true
    }

    deinit {
        if mapped, let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Calls `body` with all the bytes.
    @inline(__always)
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if mapped { return try body(UnsafeRawBufferPointer(start: base, count: count)) }
        return try storage.withUnsafeBytes(body)
    }

    /// A copy of a range (clamped to the end).
    public func slice(_ offset: Int, _ length: Int) -> [UInt8] {
        guard offset >= 0, offset <= count else { return [] }
        let end = min(count, offset + max(0, length))
        return withBytes { Array($0[offset..<end]) }
    }
}

extension FileSystem {
    /// The file's bytes, memory-mapped when it is a real file.
    public func map(_ path: String) throws(SystemError) -> MappedBytes {
        if self is PosixFileSystem { return try MappedBytes(mapping: path) }
        return MappedBytes(bytes: try readAll(path))
    }
}
