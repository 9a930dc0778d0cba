import CSodium

/// Passphrase to key derivation with Argon2id (RFC 9106) through libsodium.
public enum Argon2id {
    public static let saltLength = 16
    /// libsodium's "interactive" limits: 2 passes, 64 MiB.
    public static let defaultOpsLimit: UInt64 = 2
    public static let defaultMemLimit: UInt64 = 64 * 1024 * 1024

    /// Derives a 32-byte key from `passphrase` and a 16-byte `salt`.
    public static func deriveKey(passphrase: [UInt8], salt: [UInt8],
                                 opsLimit: UInt64 = defaultOpsLimit,
                                 memLimit: UInt64 = defaultMemLimit) throws(PrimitiveError) -> [UInt8] {
        try Sodium.ready()
        guard salt.count == saltLength else { throw .badLength(what: "Argon2id salt", expected: saltLength, found: salt.count) }
        guard opsLimit >= UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN),
              memLimit >= UInt64(crypto_pwhash_argon2id_MEMLIMIT_MIN),
              memLimit <= 1 << 32 else { throw .keyDerivationFailed }
        var key = [UInt8](repeating: 0, count: 32)
        let pass = passphrase.map { CChar(bitPattern: $0) } + [0]
        let rc = crypto_pwhash(&key, 32, pass, UInt64(passphrase.count),
                               salt, opsLimit, Int(memLimit), crypto_pwhash_ALG_ARGON2ID13)
        guard rc == 0 else { throw .keyDerivationFailed }
        return key
    }
}
