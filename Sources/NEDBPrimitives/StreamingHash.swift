import CSodium

/// An incremental hash with its state allocated once and reused (64-byte aligned, as
/// libsodium's BLAKE2b state requires). Not thread-safe: one per thread.
public final class StreamingHash {
    public let algorithm: HashAlgorithm
    private let state: UnsafeMutableRawPointer

    public init(_ algorithm: HashAlgorithm) {
        Sodium.assumeReady()
        self.algorithm = algorithm
        let size = max(crypto_generichash_blake2b_statebytes(), MemoryLayout<crypto_hash_sha256_state>.size)
        state = .allocate(byteCount: size, alignment: 64)
    }

    deinit { state.deallocate() }

    /// Starts a new message.
    @inline(__always)
    public func reset() {
        switch algorithm {
        case .blake2b256:
            _ = crypto_generichash_blake2b_init(OpaquePointer(state), nil, 0, 32)
        case .sha256:
            _ = crypto_hash_sha256_init(state.assumingMemoryBound(to: crypto_hash_sha256_state.self))
        }
    }

    @inline(__always)
    public func update(_ pointer: UnsafeRawPointer, _ length: Int) {
        let bytes = pointer.assumingMemoryBound(to: UInt8.self)
        switch algorithm {
        case .blake2b256:
            _ = crypto_generichash_blake2b_update(OpaquePointer(state), bytes, UInt64(length))
        case .sha256:
            _ = crypto_hash_sha256_update(state.assumingMemoryBound(to: crypto_hash_sha256_state.self), bytes, UInt64(length))
        }
    }

    @inline(__always)
    public func finish() -> Hash32 {
        var out = Hash32.zero
        withUnsafeMutableBytes(of: &out) { raw in
            let dst = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            switch algorithm {
            case .blake2b256:
                _ = crypto_generichash_blake2b_final(OpaquePointer(state), dst, 32)
            case .sha256:
                _ = crypto_hash_sha256_final(state.assumingMemoryBound(to: crypto_hash_sha256_state.self), dst)
            }
        }
        return out
    }
}
