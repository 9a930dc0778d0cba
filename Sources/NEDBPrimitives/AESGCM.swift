import CSodium

/// AES-256-GCM through libsodium: 32-byte keys, 12-byte nonces, 16-byte tags appended.
public enum AESGCM {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    /// True when the CPU supports libsodium's AES-256-GCM.
    public static var isAvailable: Bool {
        (try? Sodium.ready()) != nil && crypto_aead_aes256gcm_is_available() == 1
    }

    /// Encrypts `plaintext`; returns ciphertext followed by the 16-byte tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws(PrimitiveError) -> [UInt8] {
        try checkInputs(key: key, nonce: nonce)
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var outLength: UInt64 = 0
        let rc = crypto_aead_aes256gcm_encrypt(&out, &outLength, plaintext, UInt64(plaintext.count),
                                               aad, UInt64(aad.count), nil, nonce, key)
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }

    /// Decrypts ciphertext-with-tag; throws `.authenticationFailed` if anything does not match.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws(PrimitiveError) -> [UInt8] {
        try checkInputs(key: key, nonce: nonce)
        guard sealed.count >= tagLength else { throw .authenticationFailed }
        var out = [UInt8](repeating: 0, count: sealed.count - tagLength)
        var outLength: UInt64 = 0
        let rc = crypto_aead_aes256gcm_decrypt(&out, &outLength, nil, sealed, UInt64(sealed.count),
                                               aad, UInt64(aad.count), nonce, key)
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }

    private static func checkInputs(key: [UInt8], nonce: [UInt8]) throws(PrimitiveError) {
        try Sodium.ready()
        guard crypto_aead_aes256gcm_is_available() == 1 else { throw .aesGCMUnavailable }
        guard key.count == keyLength else { throw .badLength(what: "AES-256-GCM key", expected: keyLength, found: key.count) }
        guard nonce.count == nonceLength else { throw .badLength(what: "AES-256-GCM nonce", expected: nonceLength, found: nonce.count) }
    }
}
