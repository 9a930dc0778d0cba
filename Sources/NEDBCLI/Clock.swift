#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time for progress and timings.
public enum Clock {
    /// Seconds on the monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Milliseconds since `start` (a `now()` value), rounded to 0.01 ms.
    public static func milliseconds(since start: Double) -> Double {
        ((now() - start) * 100_000).rounded() / 100
    }
}
