/// The fixed header at offset 0 of every segment file (spec/FORMAT.md §2.3).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `89 4E 45 44 42 53 45 47` ("\x89NEDBSEG") |
/// | 8 | 2 | read version (u16 LE) |
/// | 10 | 2 | write version |
/// | 12 | 2 | header length (128 in v1) |
/// | 14 | 1 | hash algorithm id |
/// | 15 | 1 | flags: bit 0 encrypted, bit 1 compressed |
/// | 16 | 16 | store id |
/// | 32 | 8 | segment number (0, 1, 2, …) |
/// | 40 | 8 | first seq |
/// | 48 | 32 | previous chain hash (of the last record of the previous segment; zero for segment 0) |
/// | 80 | 8 | creation time, µs |
/// | 88 | 36 | reserved, zero |
/// | 124 | 4 | CRC32C of bytes [0,124) |
public struct SegmentHeader: Sendable, Equatable {
    public static let length = 128

    public var readVersion: UInt16 = FormatVersion.read
    public var writeVersion: UInt16 = FormatVersion.write
    public var headerLength: UInt16 = UInt16(SegmentHeader.length)
    public var hashAlgorithm: HashAlgorithm
    public var encrypted: Bool
    public var compressed: Bool
    public var storeId: StoreID
    public var segmentNumber: UInt64
    public var firstSeq: UInt64
    public var previousChain: Hash32
    public var created: Microseconds

    public init(hashAlgorithm: HashAlgorithm, encrypted: Bool, compressed: Bool, storeId: StoreID,
                segmentNumber: UInt64, firstSeq: UInt64, previousChain: Hash32, created: Microseconds) {
        self.hashAlgorithm = hashAlgorithm
        self.encrypted = encrypted
        self.compressed = compressed
        self.storeId = storeId
        self.segmentNumber = segmentNumber
        self.firstSeq = firstSeq
        self.previousChain = previousChain
        self.created = created
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: SegmentHeader.length)
        w.append(Magic.segment)
        w.u16(readVersion)
        w.u16(writeVersion)
        w.u16(UInt16(SegmentHeader.length))
        w.u8(hashAlgorithm.rawValue)
        w.u8((encrypted ? 1 : 0) | (compressed ? 2 : 0))
        w.append(storeId.bytes)
        w.u64(segmentNumber)
        w.u64(firstSeq)
        w.hash(previousChain)
        w.i64(created)
        w.zeros(36)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes the header from the first bytes of a segment file.
    public static func decode(_ bytes: [UInt8], file: String? = nil, forWriting: Bool = false) throws(FormatError) -> SegmentHeader {
        let at = Location(file: file, offset: 0)
        guard bytes.count >= 8 else { throw .truncated(at, needed: length, available: bytes.count) }
        guard Array(bytes[0..<8]) == Magic.segment else {
            throw .badMagic(at, expected: Magic.describe(Magic.segment), found: Magic.describe(Array(bytes[0..<8])))
        }
        guard bytes.count >= 16 else { throw .truncated(at, needed: length, available: bytes.count) }
        var r = ByteReader(bytes, start: 8)
        do {
            let readVersion = try r.u16()
            let writeVersion = try r.u16()
            try checkVersions(read: readVersion, write: writeVersion, what: "segment", location: at, forWriting: forWriting)
            let headerLength = try r.u16()
            guard headerLength >= UInt16(length) else {
                throw FormatError.malformed(at, detail: "segment header length \(headerLength) is below \(length)")
            }
            guard bytes.count >= Int(headerLength) else {
                throw FormatError.truncated(at, needed: Int(headerLength), available: bytes.count)
            }
            let crcOffset = Int(headerLength) - 4
            let stored = try Peek.u32(bytes, crcOffset)
            let computed = CRC32C.checksum(Array(bytes[0..<crcOffset]))
            guard stored == computed else {
                throw FormatError.checksumMismatch(Location(file: file, offset: UInt64(crcOffset)), what: "segment header",
                                                   expected: computed, found: stored)
            }
            let algRaw = try r.u8()
            guard let alg = HashAlgorithm(rawValue: algRaw) else {
                throw FormatError.malformed(Location(file: file, offset: 14), detail: "unknown hash algorithm id \(algRaw)")
            }
            let flags = try r.u8()
            guard flags & ~0x03 == 0 else {
                throw FormatError.malformed(Location(file: file, offset: 15), detail: "unknown segment flags 0x\(String(flags, radix: 16))")
            }
            guard let storeId = StoreID(bytes: try r.bytes(16)) else { throw FormatError.malformed(at, detail: "segment header store id") }
            var header = SegmentHeader(hashAlgorithm: alg, encrypted: flags & 1 != 0, compressed: flags & 2 != 0,
                                       storeId: storeId, segmentNumber: try r.u64(), firstSeq: try r.u64(),
                                       previousChain: try r.hash(), created: try r.i64())
            header.readVersion = readVersion
            header.writeVersion = writeVersion
            header.headerLength = headerLength
            return header
        } catch let e as FormatError {
            throw e
        } catch let e as ByteReader.Failure {
            throw FormatError.from(e, file: file, what: "segment header")
        } catch {
            throw FormatError.malformed(at, detail: "segment header: \(error)")
        }
    }
}

/// Segment file names: the first seq, zero-padded to 20 digits, plus `.nseg`.
public enum SegmentName {
    public static let suffix = ".nseg"

    public static func make(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return String(repeating: "0", count: 20 - digits.count) + digits + suffix
    }

    /// The first seq encoded in a name, or nil if the name is not a segment name.
    public static func parse(_ name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }
}
