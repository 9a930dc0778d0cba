import CNEDBSupport

/// CRC32C (Castagnoli), hardware accelerated where the CPU has SSE4.2.
public enum CRC32C {
    /// CRC32C of a buffer, optionally continuing from a previous value.
    @inline(__always)
    public static func checksum(_ buffer: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        nedb_crc32c(crc, buffer.baseAddress, buffer.count)
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The table-driven implementation, for testing that both paths agree.
    public static func portableChecksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { nedb_crc32c_portable(crc, $0.baseAddress, $0.count) }
    }

    /// Whether the SSE4.2 instruction is in use.
    public static var isHardwareAccelerated: Bool { nedb_crc32c_is_hardware() != 0 }
}
