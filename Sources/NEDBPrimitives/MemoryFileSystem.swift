#if canImport(Glibc)
import Glibc
#endif

/// A file system held in memory: the backing of in-memory stores and of tests that mutate
/// bytes thousands of times. Thread-safe. Directories are implicit in paths, but must be
/// created before files are placed in them, as on disk.
public final class MemoryFileSystem: FileSystem, @unchecked Sendable {
    final class Node: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    private let mutex = PthreadMutex()
    private var files: [String: Node] = [:]
    private var directories: Set<String> = ["/", "."]
    private var locks: [String: String] = [:]

    public init() {}

    static func normalize(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    /// A snapshot of a file's bytes (nil if absent).
    public func contents(_ path: String) -> [UInt8]? { mutex.locked { files[Self.normalize(path)]?.bytes } }

    /// Replaces a file's bytes (creating it).
    public func setContents(_ path: String, _ bytes: [UInt8]) {
        mutex.locked {
            let node = files[Self.normalize(path)] ?? Node()
            node.bytes = bytes
            files[Self.normalize(path)] = node
        }
    }

    /// Every file path, sorted.
    public var allFiles: [String] { mutex.locked { files.keys.sorted() } }

    public func openForReading(_ path: String) throws(SystemError) -> ReadableFile {
        let p = Self.normalize(path)
        guard let node = mutex.locked({ files[p] }) else { throw SystemError(operation: "open", path: path, errno: ENOENT) }
        return MemoryFile(node: node, path: path, mutex: mutex)
    }

    public func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile {
        let p = Self.normalize(path)
        let result: Result<Node, SystemError> = mutex.locked {
            if let node = files[p] { return .success(node) }
            guard create else { return .failure(SystemError(operation: "open", path: path, errno: ENOENT)) }
            guard directories.contains(PathUtil.directory(of: p)) else {
                return .failure(SystemError(operation: "open", path: path, errno: ENOENT))
            }
            let node = Node()
            files[p] = node
            return .success(node)
        }
        return MemoryFile(node: try result.get(), path: path, mutex: mutex)
    }

    public func listDirectory(_ path: String) throws(SystemError) -> [String] {
        let p = Self.normalize(path)
        return try mutex.locked { () throws(SystemError) -> [String] in
            guard directories.contains(p) else { throw SystemError(operation: "opendir", path: path, errno: ENOENT) }
            let prefix = p == "/" ? "/" : p + "/"
            var names = Set<String>()
            for key in files.keys where key.hasPrefix(prefix) {
                let rest = key.dropFirst(prefix.count)
                if !rest.contains("/") { names.insert(String(rest)) }
            }
            for dir in directories where dir.hasPrefix(prefix) && dir != p {
                let rest = dir.dropFirst(prefix.count)
                if !rest.contains("/") && !rest.isEmpty { names.insert(String(rest)) }
            }
            return names.sorted()
        }
    }

    public func createDirectory(_ path: String) throws(SystemError) {
        let p = Self.normalize(path)
        try mutex.locked { () throws(SystemError) in
            guard directories.contains(PathUtil.directory(of: p)) || !p.contains("/") else {
                throw SystemError(operation: "mkdir", path: path, errno: ENOENT)
            }
            directories.insert(p)
        }
    }

    public func rename(_ from: String, to: String) throws(SystemError) {
        let a = Self.normalize(from), b = Self.normalize(to)
        try mutex.locked { () throws(SystemError) in
            if let node = files[a] {
                files[b] = node
                files[a] = nil
            } else if directories.contains(a) {
                guard !directories.contains(b) else { throw SystemError(operation: "rename", path: "\(from) -> \(to)", errno: ENOTEMPTY) }
                directories.remove(a)
                directories.insert(b)
                for dir in directories where dir.hasPrefix(a + "/") {
                    directories.remove(dir)
                    directories.insert(b + dir.dropFirst(a.count))
                }
                for (key, node) in files where key.hasPrefix(a + "/") {
                    files[key] = nil
                    files[b + key.dropFirst(a.count)] = node
                }
            } else {
                throw SystemError(operation: "rename", path: "\(from) -> \(to)", errno: ENOENT)
            }
        }
    }

    public func remove(_ path: String) throws(SystemError) {
        let p = Self.normalize(path)
        mutex.locked {
            files[p] = nil
            for key in files.keys where key.hasPrefix(p + "/") { files[key] = nil }
            directories.remove(p)
            for dir in directories where dir.hasPrefix(p + "/") { directories.remove(dir) }
        }
    }

    public func syncDirectory(_ path: String) throws(SystemError) {}

    public func exists(_ path: String) -> Bool {
        let p = Self.normalize(path)
        return mutex.locked { files[p] != nil || directories.contains(p) }
    }

    public func isDirectory(_ path: String) -> Bool {
        let p = Self.normalize(path)
        return mutex.locked { directories.contains(p) }
    }

    public func lock(_ path: String, owner: String) throws(SystemError) -> FileLock {
        let p = Self.normalize(path)
        try mutex.locked { () throws(SystemError) in
            if let holder = locks[p] { throw SystemError(operation: "lock", path: "\(path) held by \(holder)", errno: EWOULDBLOCK) }
            locks[p] = owner
            let node = files[p] ?? Node()
            node.bytes = Array((owner + "\n").utf8)
            files[p] = node
        }
        return MemoryLock(release: { [weak self] in self?.mutex.locked { _ = self?.locks.removeValue(forKey: p) } })
    }

    /// Copies a directory tree from disk into this file system (for tests).
    public func load(from fs: FileSystem, source: String, into target: String) throws(SystemError) {
        try createDirectory(target)
        for name in try fs.listDirectory(source) {
            let from = PathUtil.join(source, name), to = PathUtil.join(target, name)
            if fs.isDirectory(from) {
                try load(from: fs, source: from, into: to)
            } else {
                setContents(to, try fs.readAll(from))
            }
        }
    }
}

final class MemoryLock: FileLock, @unchecked Sendable {
    private var releaser: (() -> Void)?
    private let mutex = PthreadMutex()
    init(release: @escaping () -> Void) { releaser = release }
    func release() {
        let r = mutex.locked { () -> (() -> Void)? in defer { releaser = nil }; return releaser }
        r?()
    }
    deinit { release() }
}

final class MemoryFile: WritableFile, @unchecked Sendable {
    let node: MemoryFileSystem.Node
    let path: String
    let mutex: PthreadMutex

    init(node: MemoryFileSystem.Node, path: String, mutex: PthreadMutex) {
        self.node = node
        self.path = path
        self.mutex = mutex
    }

    func size() throws(SystemError) -> UInt64 { mutex.locked { UInt64(node.bytes.count) } }

    func read(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8] {
        mutex.locked {
            guard offset < UInt64(node.bytes.count), count > 0 else { return [] }
            let start = Int(offset)
            return Array(node.bytes[start..<min(node.bytes.count, start + count)])
        }
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        let bytes = try read(at: offset, count: buffer.count)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return bytes.count
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        mutex.locked {
            let start = Int(offset)
            if node.bytes.count < start + bytes.count {
                node.bytes.append(contentsOf: repeatElement(0, count: start + bytes.count - node.bytes.count))
            }
            for (i, b) in bytes.enumerated() { node.bytes[start + i] = b }
        }
    }

    func sync() throws(SystemError) {}

    func truncate(to size: UInt64) throws(SystemError) {
        mutex.locked {
            let n = Int(size)
            if node.bytes.count > n { node.bytes.removeSubrange(n...) } else {
                node.bytes.append(contentsOf: repeatElement(0, count: n - node.bytes.count))
            }
        }
    }

    func close() {}
}
