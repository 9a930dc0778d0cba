import Foundation
@testable import NEDBStore
import NEDBFormat

final class TempDir {
    let path: String
    init(_ label: String = "store") {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("nedb-\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { path + "/" + name }
}

func put(_ collection: String, _ id: String, _ doc: JSONValue) -> Record {
    var r = Record(type: .put, seq: 0, time: 0)
    r.collection = collection
    r.id = id
    r.document = JCS.serialize(doc)
    return r
}

func testOptions(_ fs: FileSystem = PosixFileSystem()) -> StoreOptions {
    var o = StoreOptions()
    o.fileSystem = fs
    o.durability = .batch
    return o
}

/// A file system that passes every call to another; conformers override what they change.
protocol ForwardingFileSystem: FileSystem {
    var forwarded: FileSystem { get }
}

extension ForwardingFileSystem {
    func openForReading(_ path: String) throws(SystemError) -> ReadableFile { try forwarded.openForReading(path) }
    func listDirectory(_ path: String) throws(SystemError) -> [String] { try forwarded.listDirectory(path) }
    func createDirectory(_ path: String) throws(SystemError) { try forwarded.createDirectory(path) }
    func rename(_ from: String, to: String) throws(SystemError) { try forwarded.rename(from, to: to) }
    func remove(_ path: String) throws(SystemError) { try forwarded.remove(path) }
    func syncDirectory(_ path: String) throws(SystemError) { try forwarded.syncDirectory(path) }
    func exists(_ path: String) -> Bool { forwarded.exists(path) }
    func isDirectory(_ path: String) -> Bool { forwarded.isDirectory(path) }
    func lock(_ path: String, owner: String) throws(SystemError) -> FileLock { try forwarded.lock(path, owner: owner) }
}

/// A file that passes every call to another; conformers override what they change.
protocol ForwardingFile: WritableFile {
    var inner: WritableFile { get }
}

extension ForwardingFile {
    var path: String { inner.path }
    func size() throws(SystemError) -> UInt64 { try inner.size() }
    func read(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8] { try inner.read(at: offset, count: count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try inner.read(at: offset, into: buffer)
    }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) { try inner.write(bytes, at: offset) }
    func sync() throws(SystemError) { try inner.sync() }
    func truncate(to size: UInt64) throws(SystemError) { try inner.truncate(to: size) }
    func close() { inner.close() }
}

/// A file system that fails on demand, and can forget unsynced writes (a simulated power loss).
final class FaultyFileSystem: ForwardingFileSystem, @unchecked Sendable {
    enum Fault: Equatable { case failSync, shortWrite, noSpace, failOpenForReading(suffix: String), failCreate(suffix: String) }

    let base: MemoryFileSystem
    let mutex = NSLock()
    var faults: [Fault] = []
    /// Contents of each file as of its last fsync.
    var durable: [String: [UInt8]] = [:]
    var writeCount = 0
    var failAfterWrites: Int? = nil
    /// Fail the fsync with this number (1 = the first one), then work again.
    var failSyncNumber: Int? = nil
    var syncCount = 0

    init(base: MemoryFileSystem = MemoryFileSystem()) { self.base = base }
    var forwarded: FileSystem { base }

    func inject(_ fault: Fault) { mutex.lock(); faults.append(fault); mutex.unlock() }

    func takeFault(_ kind: (Fault) -> Bool) -> Fault? {
        mutex.lock(); defer { mutex.unlock() }
        if let i = faults.firstIndex(where: kind) { return faults.remove(at: i) }
        return nil
    }

    /// Power loss: every file reverts to its last fsynced contents (files never synced vanish).
    func powerLoss() {
        mutex.lock(); defer { mutex.unlock() }
        for path in base.allFiles where !path.hasSuffix("/LOCK") {
            if let d = durable[path] { base.setContents(path, d) } else { try? base.remove(path) }
        }
    }

    func openForWriting(_ path: String, create: Bool) throws(SystemError) -> WritableFile {
        if create, takeFault({ if case let .failCreate(suffix) = $0 { return path.hasSuffix(suffix) }; return false }) != nil {
            throw SystemError(operation: "open", path: path, errno: EMFILE)
        }
        return FaultyFile(inner: try base.openForWriting(path, create: create), fs: self, path: path)
    }

    func openForReading(_ path: String) throws(SystemError) -> ReadableFile {
        if takeFault({ if case let .failOpenForReading(suffix) = $0 { return path.hasSuffix(suffix) }; return false }) != nil {
            throw SystemError(operation: "open", path: path, errno: EMFILE)
        }
        return try base.openForReading(path)
    }

    func rename(_ from: String, to: String) throws(SystemError) {
        try base.rename(from, to: to)
        mutex.lock()
        if base.isDirectory(to) {
            // A directory moves with the synced contents of the files inside it.
            for (path, bytes) in durable where path.hasPrefix(from + "/") {
                durable[path] = nil
                durable[to + path.dropFirst(from.count)] = bytes
            }
        } else {
            durable[to] = base.contents(to)
            durable[from] = nil
        }
        mutex.unlock()
    }
    func syncDirectory(_ path: String) throws(SystemError) {}
}

final class FaultyFile: ForwardingFile, @unchecked Sendable {
    let inner: WritableFile
    let fs: FaultyFileSystem
    let path: String
    init(inner: WritableFile, fs: FaultyFileSystem, path: String) { self.inner = inner; self.fs = fs; self.path = path }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        if fs.takeFault({ $0 == .noSpace }) != nil { throw SystemError(operation: "pwrite", path: path, errno: ENOSPC) }
        if fs.takeFault({ $0 == .shortWrite }) != nil {
            try inner.write(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]), at: offset)
            throw SystemError(operation: "pwrite", path: path, errno: EIO)
        }
        try inner.write(bytes, at: offset)
    }
    func sync() throws(SystemError) {
        if fs.takeFault({ $0 == .failSync }) != nil { throw SystemError(operation: "fdatasync", path: path, errno: EIO) }
        fs.mutex.lock()
        fs.syncCount += 1
        let fail = fs.syncCount == fs.failSyncNumber
        fs.mutex.unlock()
        if fail { throw SystemError(operation: "fdatasync", path: path, errno: EIO) }
        fs.mutex.lock(); fs.durable[path] = fs.base.contents(path); fs.mutex.unlock()
    }
}
