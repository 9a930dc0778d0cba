#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` on `count` real threads at once and waits for all of them (Dispatch would
/// cap concurrency at the number of cores, hiding group commit).
enum Threads {
    final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        var threads: [pthread_t] = []
        for i in 0..<count {
            let box = Unmanaged.passRetained(Box { body(i) })
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
                box.body()
                return nil
            }, box.toOpaque())
            precondition(rc == 0, "pthread_create failed")
            threads.append(thread)
        }
        for t in threads { pthread_join(t, nil) }
    }
}
