import Testing
import Foundation
@testable import NEDBFormat

@Suite struct PrimitiveTests {
    @Test func crc32cKnownValuesAndBothPathsAgree() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        var random = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(CRC32C.checksum(bytes) == CRC32C.portableChecksum(bytes))
            let split = length / 3
            #expect(CRC32C.checksum(Array(bytes[split...]), continuing: CRC32C.checksum(Array(bytes[..<split]))) == CRC32C.checksum(bytes))
        }
    }

    @Test func hashFunctionsMatchPublishedValues() {
        // RFC 7693 appendix A gives BLAKE2b-512("abc"); BLAKE2b-256("abc") and SHA-256("abc") are well known.
        #expect(HashAlgorithm.blake2b256.hash(Array("abc".utf8)).hex == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        #expect(HashAlgorithm.sha256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hashBatchEqualsOneByOneHashing() {
        // Every length around the 128-byte block boundaries, in batches of every size up to 9
        // (lanes finish at different times and idle lanes must not leak into results).
        #if arch(x86_64) && os(Linux)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        #expect(HashBatch.isVectorized == cpuinfo.contains(" avx2"), "AVX2 machines must take the vectorized path")
        #endif
        var random = SystemRandomNumberGenerator()
        for algorithm in HashAlgorithm.allCases {
            var messages: [[UInt8]] = []
            for length in Array(0...300) + [383, 384, 385, 511, 512, 513, 1000, 4096] {
                messages.append((0..<length).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            messages.shuffle(using: &random)
            var batch = HashBatch(algorithm)
            var digests: [Hash32] = []
            var start = 0
            var size = 1
            while start < messages.count {
                let group = messages[start..<min(messages.count, start + size)]
                batch.removeAll()
                for m in group {
                    let half = m.count / 2
                    m.withUnsafeBytes { raw in
                        batch.append(UnsafeRawBufferPointer(rebasing: raw[..<half]))
                        batch.append(UnsafeRawBufferPointer(rebasing: raw[half...]))
                    }
                    batch.finishMessage()
                }
                batch.digests(into: &digests)
                #expect(digests == group.map { algorithm.hash($0) })
                start += group.count
                size = size % 9 + 1
            }
        }
        var batch = HashBatch(.blake2b256)
        batch.append(Array("abc".utf8).withUnsafeBytes { $0.first! })
        batch.append(Array("bc".utf8).withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[...]) })
        batch.finishMessage()
        var out: [Hash32] = []
        batch.digests(into: &out)
        #expect(out.map(\.hex) == ["bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"])
    }

    @Test func aesGCMRoundTripAndTamperDetection() throws {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(12)
        let sealed = try AESGCM.seal(Array("secret".utf8), key: key, nonce: nonce, aad: [1, 2])
        #expect(try AESGCM.open(sealed, key: key, nonce: nonce, aad: [1, 2]) == Array("secret".utf8))
        #expect(throws: PrimitiveError.authenticationFailed) { try AESGCM.open(sealed, key: key, nonce: nonce, aad: [1, 3]) }
        var bad = sealed
        bad[0] ^= 1
        #expect(throws: PrimitiveError.authenticationFailed) { try AESGCM.open(bad, key: key, nonce: nonce, aad: [1, 2]) }
        #expect(throws: PrimitiveError.self) { try AESGCM.seal([], key: [1], nonce: nonce, aad: []) }
    }

    @Test func ed25519SignsAndVerifies() throws {
        let key = try Ed25519.SigningKey(seed: [UInt8](repeating: 7, count: 32))
        let sig = key.sign(Array("hello".utf8))
        #expect(Ed25519.verify(signature: sig, message: Array("hello".utf8), publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: sig, message: Array("hellp".utf8), publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: Array(sig.dropLast()), message: Array("hello".utf8), publicKey: key.publicKey))
    }

    @Test func argon2idIsDeterministicForASalt() throws {
        let salt = [UInt8](repeating: 1, count: 16)
        let a = try Argon2id.deriveKey(passphrase: Array("pw".utf8), salt: salt, opsLimit: 1, memLimit: 8192)
        let b = try Argon2id.deriveKey(passphrase: Array("pw".utf8), salt: salt, opsLimit: 1, memLimit: 8192)
        let c = try Argon2id.deriveKey(passphrase: Array("pX".utf8), salt: salt, opsLimit: 1, memLimit: 8192)
        #expect(a == b && a != c && a.count == 32)
    }

    @Test func zstdRoundTripAndSizeCheck() throws {
        let data = Array(String(repeating: "nedb ", count: 1000).utf8)
        let packed = try Zstd.compress(data)
        #expect(packed.count < data.count / 10)
        #expect(try Zstd.decompress(packed, expectedSize: data.count) == data)
        #expect(throws: PrimitiveError.self) { try Zstd.decompress(packed, expectedSize: data.count - 1) }
        #expect(throws: PrimitiveError.self) { try Zstd.decompress(Array(packed.dropLast(3)), expectedSize: data.count) }
    }

    @Test func base64AndHexAreStrict() {
        #expect(Base64.encode(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw==")
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhcw==") == Array("any carnal pleas".utf8))
        #expect(Base64.decode("YW55IGNhcm5hbCBwbGVhcw=") == nil)
        #expect(Base64.decode("YW5=IGNh") == nil)
        #expect(Base64.decode("YR==") == nil)   // non-zero trailing bits
        #expect(Hex.decode("0aFf") == [0x0A, 0xFF])
        #expect(Hex.decode("0g") == nil)
    }
}
