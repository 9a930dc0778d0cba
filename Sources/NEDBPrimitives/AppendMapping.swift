#if canImport(Glibc)
import Glibc
#endif

/// Appends to a file through a shared, writable memory mapping instead of one `pwrite` per
/// append. The file is extended ahead of the writes in allocated chunks of zero bytes
/// (`posix_fallocate`, so a full disk is reported here and never as a fault on a mapped page);
/// copying into the mapping puts the bytes in the page cache exactly as `pwrite` would, so they
/// survive the process being killed, and `fdatasync` on the file makes them durable.
///
/// The zero bytes after the data are "reserved space" (spec/FORMAT.md §13.1);
/// `finish(truncatingTo:)` removes them. Not thread-safe: the log writer serialises its use.
public final class AppendMapping: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private var base: UnsafeMutableRawPointer?
    private var mappedLength: Int
    /// The file's size: data plus reserved zero bytes.
    public private(set) var allocated: UInt64
    /// How far ahead of the data the file is extended at a time.
    public static let chunk: UInt64 = 1 << 20
    /// Fault injection for tests: extending the file past this size fails with ENOSPC, as on a
    /// full disk.
    public var allocationLimit: UInt64?

    /// Maps `fd` (open read-write, `size` bytes long) with room for `reserve` bytes of address
    /// space (grown when needed). Returns nil when the file system cannot map or allocate
    /// (the caller then writes with `pwrite`).
    init?(fd: Int32, path: String, size: UInt64, reserve: Int) {
        self.fd = fd
        self.path = path
        self.allocated = size
        let length = max(reserve, Int(size) + Int(AppendMapping.chunk))
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        base = p
        mappedLength = length
    }

    deinit { unmap() }

    private func unmap() {
        if let base { munmap(base, mappedLength) }
        base = nil
    }

    /// Copies `bytes` to file offset `offset`, extending the file first when they reach past it.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        guard base != nil else { throw SystemError(operation: "write", path: path, errno: EBADF) }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(bytes.count))
        guard !overflow, end <= UInt64(Int.max / 2) else { throw SystemError(operation: "write", path: path, errno: EFBIG) }
        if end > allocated { try allocate(upTo: end) }
        if end > UInt64(mappedLength) { try remap(atLeast: Int(end)) }
        guard let base, let source = bytes.baseAddress else { return }
        (base + Int(offset)).copyMemory(from: source, byteCount: bytes.count)
    }

    /// Extends the file with allocated zero blocks to cover `end` plus a chunk.
    private func allocate(upTo end: UInt64) throws(SystemError) {
        let target = (end / AppendMapping.chunk + 1) * AppendMapping.chunk
        if let limit = allocationLimit, target > limit { throw SystemError(operation: "fallocate", path: path, errno: ENOSPC) }
        let result = posix_fallocate(fd, off_t(allocated), off_t(target - allocated))
        guard result == 0 else { throw SystemError(operation: "fallocate", path: path, errno: result) }
        allocated = target
    }

    private func remap(atLeast length: Int) throws(SystemError) {
        let newLength = max(length, mappedLength * 2)
        unmap()
        guard let p = mmap(nil, newLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SystemError(operation: "mmap", path: path, errno: errno)
        }
        base = p
        mappedLength = newLength
    }

    /// Unmaps and cuts the file back to `size` (the end of the data), removing the reserved
    /// space. The caller syncs the file afterwards if the new size must be durable.
    public func finish(truncatingTo size: UInt64) throws(SystemError) {
        unmap()
        if allocated != size {
            guard ftruncate(fd, off_t(size)) == 0 else { throw SystemError(operation: "ftruncate", path: path, errno: errno) }
            allocated = size
        }
    }
}
