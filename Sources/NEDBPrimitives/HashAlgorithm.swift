import CSodium

/// The digest functions a store may use. The raw value is the on-disk hash-algorithm id.
public enum HashAlgorithm: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// BLAKE2b with a 32-byte output (RFC 7693), unkeyed. The default.
    case blake2b256 = 1
    /// SHA-256 (FIPS 180-4), offered so proofs interoperate with RFC 6962 tooling.
    case sha256 = 2

    /// The name used in text formats (`blake2b-256`, `sha-256`).
    public var description: String {
        switch self {
        case .blake2b256: return "blake2b-256"
        case .sha256: return "sha-256"
        }
    }

    /// Parses a text name as printed by `description`.
    public init?(name: String) {
        switch name.lowercased() {
        case "blake2b-256", "blake2b256", "blake2b": self = .blake2b256
        case "sha-256", "sha256": self = .sha256
        default: return nil
        }
    }

    /// Hashes `length` bytes at `pointer`.
    @inline(__always)
    public func hash(_ pointer: UnsafeRawPointer?, _ length: Int) -> Hash32 {
        Sodium.assumeReady()
        var out = Hash32.zero
        withUnsafeMutableBytes(of: &out) { raw in
            let dst = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let src = pointer?.assumingMemoryBound(to: UInt8.self)
            switch self {
            case .blake2b256:
                _ = crypto_generichash_blake2b(dst, 32, src, UInt64(length), nil, 0)
            case .sha256:
                _ = crypto_hash_sha256(dst, src, UInt64(length))
            }
        }
        return out
    }

    /// Hashes a buffer.
    @inline(__always)
    public func hash(_ buffer: UnsafeRawBufferPointer) -> Hash32 {
        hash(buffer.baseAddress, buffer.count)
    }

    /// Hashes an array of bytes.
    public func hash(_ bytes: [UInt8]) -> Hash32 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Hashes the concatenation of several byte arrays.
    public func hash(concatenating parts: [[UInt8]]) -> Hash32 {
        hash(parts.flatMap { $0 })
    }
}

/// Keyed BLAKE2b-256, used to derive per-record keys, key checks and commitments.
public enum KeyedBlake2b {
    /// BLAKE2b-256(key: `key`, message: `message`). `key` must be 16...64 bytes.
    public static func hash(key: [UInt8], message: [UInt8]) -> Hash32 {
        Sodium.assumeReady()
        precondition(key.count >= 16 && key.count <= 64, "BLAKE2b key must be 16...64 bytes")
        var out = Hash32.zero
        withUnsafeMutableBytes(of: &out) { raw in
            let dst = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            _ = crypto_generichash_blake2b(dst, 32, message, UInt64(message.count), key, key.count)
        }
        return out
    }
}
