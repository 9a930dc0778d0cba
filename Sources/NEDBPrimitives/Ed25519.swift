import CSodium

/// Ed25519 signatures (RFC 8032) through libsodium.
public enum Ed25519 {
    public static let seedLength = 32
    public static let publicKeyLength = 32
    public static let signatureLength = 64

    /// A signing key, kept as its 32-byte seed.
    public struct SigningKey: Sendable, Equatable {
        public let seed: [UInt8]
        public let publicKey: [UInt8]
        fileprivate let secretKey: [UInt8]

        /// Derives the key pair from a 32-byte seed.
        public init(seed: [UInt8]) throws(PrimitiveError) {
            try Sodium.ready()
            guard seed.count == seedLength else { throw .badLength(what: "Ed25519 seed", expected: seedLength, found: seed.count) }
            var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
            var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
            _ = crypto_sign_seed_keypair(&pk, &sk, seed)
            self.seed = seed
            self.publicKey = pk
            self.secretKey = sk
        }

        /// A fresh random key.
        public static func generate() throws(PrimitiveError) -> SigningKey {
            try SigningKey(seed: SecureRandom.bytes(seedLength))
        }

        /// Signs `message`, returning the 64-byte detached signature.
        public func sign(_ message: [UInt8]) -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: signatureLength)
            var sigLength: UInt64 = 0
            _ = crypto_sign_detached(&sig, &sigLength, message, UInt64(message.count), secretKey)
            return sig
        }
    }

    /// True when `signature` is a valid signature of `message` under `publicKey`.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard (try? Sodium.ready()) != nil,
              signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
