/// A zstd-compressed block of whole record frames inside a compressed sealed segment
/// (spec/FORMAT.md §8).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | compressed length C |
/// | 4 | 4 | uncompressed length U |
/// | 8 | 4 | number of records in the block |
/// | 12 | 4 | CRC32C of bytes [0,12) ‖ compressed data |
/// | 16 | C | one zstd frame that expands to exactly U bytes of record frames |
public enum CompressedBlock {
    public static let headerLength = 16
    /// The writer's target for U; a block may exceed it only to hold one large record.
    public static let targetSize = 64 * 1024
    public static let maxUncompressed = 2 * RecordCodec.maxRecordLength

    /// Encodes a block from concatenated frames.
    public static func encode(frames: [UInt8], recordCount: Int) throws(PrimitiveError) -> [UInt8] {
        let compressed = try Zstd.compress(frames)
        var w = ByteWriter(capacity: headerLength + compressed.count)
        w.u32(UInt32(compressed.count))
        w.u32(UInt32(frames.count))
        w.u32(UInt32(recordCount))
        let crc = CRC32C.checksum(compressed, continuing: CRC32C.checksum(w.bytes))
        w.u32(crc)
        w.append(compressed)
        return w.bytes
    }

    public struct Header: Sendable, Equatable {
        public var compressedLength: Int
        public var uncompressedLength: Int
        public var recordCount: Int
        public var crc: UInt32
    }

    /// Parses the 16-byte block header; checks only the lengths.
    public static func parseHeader(_ bytes: [UInt8], location: Location) throws(FormatError) -> Header {
        guard bytes.count >= headerLength else { throw .truncated(location, needed: headerLength, available: bytes.count) }
        let c = Int(try Peek.u32(bytes, 0)), u = Int(try Peek.u32(bytes, 4))
        guard u <= maxUncompressed, u >= Frame.minimumLength + Frame.overhead else {
            throw .malformed(location, detail: "compressed block claims \(u) uncompressed bytes")
        }
        return Header(compressedLength: c, uncompressedLength: u, recordCount: Int(try Peek.u32(bytes, 8)),
                      crc: try Peek.u32(bytes, 12))
    }

    /// Checks the CRC and decompresses; `block` holds the header and the compressed bytes.
    public static func decode(_ block: [UInt8], location: Location) throws(FormatError) -> (header: Header, frames: [UInt8]) {
        let header = try parseHeader(block, location: location)
        guard block.count == headerLength + header.compressedLength else {
            throw .truncated(location, needed: headerLength + header.compressedLength, available: block.count)
        }
        let computed = CRC32C.checksum(Array(block[headerLength...]), continuing: CRC32C.checksum(Array(block[0..<12])))
        guard computed == header.crc else {
            throw .checksumMismatch(location, what: "compressed block", expected: computed, found: header.crc)
        }
        let result = block.withUnsafeBytes { raw in
            Result { () throws(PrimitiveError) -> [UInt8] in
                try Zstd.decompress(UnsafeRawBufferPointer(rebasing: raw[headerLength...]), expectedSize: header.uncompressedLength)
            }
        }
        switch result {
        case let .success(frames): return (header, frames)
        case let .failure(error): throw .malformed(location, detail: "compressed block: \(error)")
        }
    }
}
