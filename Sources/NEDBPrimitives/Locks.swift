#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A pthread mutex with a scoped `locked` helper (usable where `Mutex` cannot be stored, and
/// paired with `PthreadCondition`).
public final class PthreadMutex: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        pointer = .allocate(capacity: 1)
        // Adaptive: spin briefly before sleeping, which suits the short critical sections here
        // under contention (group commit wakes many appenders at once).
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(pointer, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(pointer)
        pointer.deallocate()
    }

    public func lock() { pthread_mutex_lock(pointer) }
    public func unlock() { pthread_mutex_unlock(pointer) }

    @inline(__always)
    public func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(pointer)
        defer { pthread_mutex_unlock(pointer) }
        return try body()
    }
}

/// A condition variable used with `PthreadMutex` (group commit waits on it).
public final class PthreadCondition: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        pointer = .allocate(capacity: 1)
        pthread_cond_init(pointer, nil)
    }

    deinit {
        pthread_cond_destroy(pointer)
        pointer.deallocate()
    }

    /// Waits; the caller must hold `mutex`.
    public func wait(_ mutex: PthreadMutex) { pthread_cond_wait(pointer, mutex.pointer) }

    /// Waits at most `nanoseconds`; the caller must hold `mutex`.
    public func wait(_ mutex: PthreadMutex, nanoseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var deadline = timespec()
        let total = Int(now.tv_nsec) + nanoseconds
        deadline.tv_sec = now.tv_sec + total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        pthread_cond_timedwait(pointer, mutex.pointer, &deadline)
    }
    public func broadcast() { pthread_cond_broadcast(pointer) }
    public func signal() { pthread_cond_signal(pointer) }
}

/// A readers-writer lock (many concurrent readers, one writer).
public final class ReadWriteLock: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<pthread_rwlock_t>

    public init() {
        pointer = .allocate(capacity: 1)
        pthread_rwlock_init(pointer, nil)
    }

    deinit {
        pthread_rwlock_destroy(pointer)
        pointer.deallocate()
    }

    @inline(__always)
    public func reading<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(pointer)
        defer { pthread_rwlock_unlock(pointer) }
        return try body()
    }

    @inline(__always)
    public func writing<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(pointer)
        defer { pthread_rwlock_unlock(pointer) }
        return try body()
    }
}

/// A flag that can be set once, atomically.
public final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}

    /// Sets the flag; returns true only for the caller that set it.
    public func setOnce() -> Bool {
        value.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    public var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A value guarded by a mutex: every access goes through `locked`.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex = PthreadMutex()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func locked<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        mutex.lock()
        defer { mutex.unlock() }
        return try body(&value)
    }
}
