import CSodium

/// One-time libsodium initialisation. Every entry point in this module calls `Sodium.ready()`
/// before touching libsodium; `sodium_init()` is idempotent and thread-safe.
enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Throws unless libsodium initialised successfully.
    static func ready() throws(PrimitiveError) {
        if initResult < 0 { throw .sodiumUnavailable }
    }

    /// Like `ready()`, for call sites that cannot fail in practice; traps only if libsodium
    /// itself is broken, which no input can cause.
    static func assumeReady() {
        precondition(initResult >= 0, "sodium_init() failed")
    }
}
