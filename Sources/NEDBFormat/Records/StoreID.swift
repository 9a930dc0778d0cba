/// The 16-byte random identifier of a store, in every file header and in the genesis record.
public struct StoreID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let b = Hex.decode(hex), b.count == 16 else { return nil }
        bytes = b
    }

    /// A fresh random id.
    public static func random() -> StoreID { StoreID(bytes: SecureRandom.bytes(16))! }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// How a store's records are protected at rest.
public enum EncryptionMode: UInt8, Sendable, CustomStringConvertible {
    case none = 0
    /// TMK/DEK envelope, AES-256-GCM per record (spec/FORMAT.md §12).
    case aes256gcm = 1

    public var description: String { self == .none ? "none" : "aes-256-gcm" }
}

/// Microseconds since 1970-01-01T00:00:00Z, the unit of every timestamp in the format.
public typealias Microseconds = Int64
