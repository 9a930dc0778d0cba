/// C2SP signed-note keys and signatures (Ed25519, signature type 0x01), spec/FORMAT.md §11.
///
/// Key id = first 4 bytes (big-endian) of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
/// Verifier key text: `name+hhhhhhhh+base64(0x01 ‖ public key)`.
/// Signer key text: `PRIVATE+KEY+name+hhhhhhhh+base64(0x01 ‖ seed)`.
public enum NoteKeys {
    public static let ed25519Type: UInt8 = 0x01

    public static func keyId(name: String, publicKey: [UInt8]) -> UInt32 {
        let h = HashAlgorithm.sha256.hash(Array(name.utf8) + [0x0A, ed25519Type] + publicKey).bytes
        return UInt32(h[0]) << 24 | UInt32(h[1]) << 16 | UInt32(h[2]) << 8 | UInt32(h[3])
    }

    /// A key id as it is written in key texts and vectors: 8 lowercase hex digits.
    public static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// Names are non-empty and contain no whitespace and no '+'.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("+") && !name.unicodeScalars.contains { $0.properties.isWhitespace }
    }
}

/// A signing key with its name.
public struct NoteSigner: Sendable {
    public let name: String
    public let key: Ed25519.SigningKey
    public var keyId: UInt32 { NoteKeys.keyId(name: name, publicKey: key.publicKey) }

    public init(name: String, key: Ed25519.SigningKey) throws(FormatError) {
        guard NoteKeys.isValidName(name) else { throw .malformed(Location(), detail: "invalid key name \"\(name)\"") }
        self.name = name
        self.key = key
    }

    public static func generate(name: String) throws(FormatError) -> NoteSigner {
        do { return try NoteSigner(name: name, key: try Ed25519.SigningKey.generate()) } catch let e as FormatError { throw e } catch {
            throw .library(Location(), detail: "key generation failed: \(error)")
        }
    }

    /// Parses `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    public init(encoded: String) throws(FormatError) {
        let text = encoded.trimmingCharacters(in: " \n\r\t")
        // The base64 key may itself contain '+': split off the four fixed fields only.
        let parts = text.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
              let raw = Base64.decode(parts[4]), raw.count == 33, raw[0] == NoteKeys.ed25519Type else {
            throw .malformed(Location(), detail: "not a signer key (expected PRIVATE+KEY+name+hash+base64)")
        }
        let key: Ed25519.SigningKey
        do { key = try Ed25519.SigningKey(seed: Array(raw[1...])) } catch {
            throw .malformed(Location(), detail: "signer key: \(error)")
        }
        try self.init(name: parts[2], key: key)
        guard NoteKeys.hex8(keyId) == parts[3].lowercased() else {
            throw .malformed(Location(), detail: "signer key hash \(parts[3]) does not match its name and key")
        }
    }

    public var encoded: String {
        "PRIVATE+KEY+\(name)+\(NoteKeys.hex8(keyId))+\(Base64.encode([NoteKeys.ed25519Type] + key.seed))"
    }

    public var verifier: NoteVerifier { NoteVerifier(name: name, publicKey: key.publicKey) }

    public func sign(_ text: String) -> NoteSignature {
        NoteSignature(name: name, keyId: keyId, signature: key.sign(Array(text.utf8)))
    }
}

/// A public verification key with its name.
public struct NoteVerifier: Sendable, Equatable {
    public let name: String
    public let publicKey: [UInt8]
    public var keyId: UInt32 { NoteKeys.keyId(name: name, publicKey: publicKey) }

    public init(name: String, publicKey: [UInt8]) {
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses `name+hash+base64(0x01 ‖ public key)`.
    public init(encoded: String) throws(FormatError) {
        let text = encoded.trimmingCharacters(in: " \n\r\t")
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, NoteKeys.isValidName(parts[0]),
              let raw = Base64.decode(parts[2]), raw.count == 33, raw[0] == NoteKeys.ed25519Type else {
            throw .malformed(Location(), detail: "not a verifier key (expected name+hash+base64)")
        }
        self.init(name: parts[0], publicKey: Array(raw[1...]))
        guard NoteKeys.hex8(keyId) == parts[1].lowercased() else {
            throw .malformed(Location(), detail: "verifier key hash \(parts[1]) does not match its name and key")
        }
    }

    public var encoded: String { "\(name)+\(NoteKeys.hex8(keyId))+\(Base64.encode([NoteKeys.ed25519Type] + publicKey))" }
}

/// One signature line of a note.
public struct NoteSignature: Sendable, Equatable {
    public var name: String
    public var keyId: UInt32
    public var signature: [UInt8]

    /// `— name base64(key id ‖ signature)`
    public var line: String {
        var idBytes: [UInt8] = []
        withUnsafeBytes(of: keyId.bigEndian) { idBytes.append(contentsOf: $0) }
        return "\u{2014} \(name) \(Base64.encode(idBytes + signature))"
    }
}

/// A signed note: text (ending in a newline), a blank line, and signature lines.
public struct SignedNote: Sendable, Equatable {
    public var text: String
    public var signatures: [NoteSignature]

    public init(text: String, signatures: [NoteSignature]) {
        self.text = text
        self.signatures = signatures
    }

    public static func sign(text: String, with signers: [NoteSigner]) -> SignedNote {
        SignedNote(text: text, signatures: signers.map { $0.sign(text) })
    }

    public var encoded: String { text + "\n" + signatures.map { $0.line + "\n" }.joined() }

    /// Parses a signed note. The text is everything up to the last blank line.
    public static func parse(_ note: String) throws(FormatError) -> SignedNote {
        guard let split = note.range(of: "\n\n", options: .backwards) else {
            throw .malformed(Location(), detail: "signed note has no blank line before its signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let sigBlock = String(note[split.upperBound...])
        guard sigBlock.hasSuffix("\n") else { throw .malformed(Location(), detail: "signed note must end with a newline") }
        var signatures: [NoteSignature] = []
        for line in sigBlock.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\u{2014} ") else { throw .malformed(Location(), detail: "signature line must start with an em dash and a space") }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, NoteKeys.isValidName(String(parts[0])), let raw = Base64.decode(String(parts[1])), raw.count >= 5 else {
                throw .malformed(Location(), detail: "malformed signature line")
            }
            let keyId = UInt32(raw[0]) << 24 | UInt32(raw[1]) << 16 | UInt32(raw[2]) << 8 | UInt32(raw[3])
            guard !signatures.contains(where: { $0.name == String(parts[0]) && $0.keyId == keyId }) else {
                throw .malformed(Location(), detail: "two signatures by key \(parts[0]) (\(NoteKeys.hex8(keyId))): a note carries one per key")
            }
            signatures.append(NoteSignature(name: String(parts[0]), keyId: keyId, signature: Array(raw[4...])))
        }
        guard !signatures.isEmpty else { throw .malformed(Location(), detail: "signed note has no signatures") }
        return SignedNote(text: text, signatures: signatures)
    }

    /// True when a signature by `verifier` (matching name and key id) is present and valid.
    /// Signatures by unknown keys are ignored.
    public func isSigned(by verifier: NoteVerifier) -> Bool {
        signatures.contains { sig in
            sig.name == verifier.name && sig.keyId == verifier.keyId &&
                Ed25519.verify(signature: sig.signature, message: Array(text.utf8), publicKey: verifier.publicKey)
        }
    }
}

/// The body of a C2SP tlog-checkpoint: origin, tree size, base64 root hash, extension lines.
/// NEDB writes three extension lines: `nedb-hash <algorithm>`, `nedb-chain <base64 chain hash>`
/// (the chain hash of the last record, seq size−1) and `nedb-store <store id hex>`.
public struct TreeCheckpoint: Sendable, Equatable {
    public var origin: String
    public var size: UInt64
    public var root: Hash32
    public var extensions: [String]

    public init(origin: String, size: UInt64, root: Hash32, extensions: [String] = []) {
        self.origin = origin; self.size = size; self.root = root; self.extensions = extensions
    }

    /// A NEDB checkpoint for a log whose last record is `seq` (of store `storeId`, when given).
    public init(origin: String, lastSeq: UInt64, root: Hash32, chainHead: Hash32, algorithm: HashAlgorithm, storeId: StoreID? = nil) {
        self.init(origin: origin, size: lastSeq + 1, root: root,
                  extensions: ["nedb-hash \(algorithm)", "nedb-chain \(Base64.encode(chainHead.bytes))"]
                      + (storeId.map { ["nedb-store \($0.hex)"] } ?? []))
    }

    /// The store the checkpoint is of: its `nedb-store` line, or the id in an origin of the
    /// default form `nedb/<store id hex>`; nil when neither names one.
    public var storeId: StoreID? {
        if let line = extensions.first(where: { $0.hasPrefix("nedb-store ") }) {
            return StoreID(hex: String(line.dropFirst("nedb-store ".count)))
        }
        if origin.hasPrefix("nedb/") { return StoreID(hex: String(origin.dropFirst(5))) }
        return nil
    }

    public var text: String {
        ([origin, String(size), Base64.encode(root.bytes)] + extensions).map { $0 + "\n" }.joined()
    }

    public static func parse(_ text: String) throws(FormatError) -> TreeCheckpoint {
        guard text.hasSuffix("\n") else { throw .malformed(Location(), detail: "checkpoint text must end with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3, !lines[0].isEmpty, let size = UInt64(lines[1]), String(size) == lines[1],
              let rootBytes = Base64.decode(lines[2]), let root = Hash32(bytes: rootBytes) else {
            throw .malformed(Location(), detail: "checkpoint must have an origin, a decimal tree size and a base64 32-byte root")
        }
        let extensions = Array(lines[3...])
        guard !extensions.contains(where: { $0.isEmpty }) else { throw .malformed(Location(), detail: "empty checkpoint extension line") }
        return TreeCheckpoint(origin: lines[0], size: size, root: root, extensions: extensions)
    }

    /// The hash algorithm named by a `nedb-hash` line (BLAKE2b-256 if none: the NEDB default).
    public var hashAlgorithm: HashAlgorithm? {
        guard let line = extensions.first(where: { $0.hasPrefix("nedb-hash ") }) else { return .blake2b256 }
        return HashAlgorithm(name: String(line.dropFirst("nedb-hash ".count)))
    }

    /// The chain hash named by a `nedb-chain` line.
    public var chainHead: Hash32? {
        guard let line = extensions.first(where: { $0.hasPrefix("nedb-chain ") }),
              let bytes = Base64.decode(String(line.dropFirst("nedb-chain ".count))) else { return nil }
        return Hash32(bytes: bytes)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }

    /// Finds `needle` (searching backwards when asked); a tiny stand-in for Foundation's range(of:).
    func range(of needle: String, options: StringSearch) -> Range<String.Index>? {
        let hay = Array(utf8), pat = Array(needle.utf8)
        guard pat.count <= hay.count, !pat.isEmpty else { return nil }
        let positions = 0...(hay.count - pat.count)
        let matches: (Int) -> Bool = { start in hay[start..<(start + pat.count)].elementsEqual(pat) }
        let found = options == .backwards ? positions.reversed().first(where: matches) : positions.first(where: matches)
        guard let start = found else { return nil }
        let lower = utf8.index(utf8.startIndex, offsetBy: start)
        return lower..<utf8.index(lower, offsetBy: pat.count)
    }
}

enum StringSearch { case forwards, backwards }
