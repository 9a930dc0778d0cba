/// Failures reported by the cryptographic and compression wrappers.
public enum PrimitiveError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `sodium_init()` returned a negative value; nothing in libsodium may be used.
    case sodiumUnavailable
    /// This CPU lacks the instructions libsodium needs for AES-256-GCM (AES-NI and PCLMUL).
    case aesGCMUnavailable
    /// An AEAD tag did not verify: wrong key, wrong associated data, or altered ciphertext.
    case authenticationFailed
    /// A key, nonce or signature had the wrong length.
    case badLength(what: String, expected: Int, found: Int)
    /// Argon2id could not run (usually: not enough memory for the requested limit).
    case keyDerivationFailed
    /// zstd reported an error; `detail` is its message.
    case compression(detail: String)
    /// Decompressed output did not have the size recorded beside the compressed block.
    case decompressedSizeMismatch(expected: Int, found: Int)

    public var description: String {
        switch self {
        case .sodiumUnavailable: return "libsodium failed to initialise (sodium_init() < 0)"
        case .aesGCMUnavailable: return "AES-256-GCM is unavailable on this CPU (needs AES-NI and PCLMUL)"
        case .authenticationFailed: return "authentication failed: wrong key or altered ciphertext"
        case let .badLength(what, expected, found): return "\(what) must be \(expected) bytes, found \(found)"
        case .keyDerivationFailed: return "Argon2id key derivation failed (out of memory?)"
        case let .compression(detail): return "zstd: \(detail)"
        case let .decompressedSizeMismatch(expected, found):
            return "decompressed size \(found) does not match the recorded size \(expected)"
        }
    }
}
