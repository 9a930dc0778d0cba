/// The fixed part of the REPLAY file (spec/FORMAT.md §9.1): which store it belongs to and how
/// far into the log its tables reach. Readers that only need REPLAY as a witness of the log's
/// length (spec/FORMAT.md §13.3) read this; the writer's replay tables decode the rest.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "\x89NEDBRPL" |
/// | 8 | 2 | read version | 10 | 2 | write version |
/// | 12 | 4 | reserved |
/// | 16 | 16 | store id |
/// | 32 | 8 | seq S: the tables cover records 0…S |
/// | 40 | 32 | chain(S) |
/// | 72 | 4 | client entries a | 76 | 4 | idempotency entries b |
/// | 80 | 24·(a+b) | entries |
/// | end−4 | 4 | CRC32C of everything before |
public struct ReplayFileHeader: Sendable, Equatable {
    public static let fileName = "REPLAY"
    public static let magic: [UInt8] = [0x89] + Array("NEDBRPL".utf8)
    /// Bytes before the entries.
    public static let length = 80

    public var storeId: StoreID
    public var seq: UInt64
    public var chain: Hash32
    public var clientEntries: Int
    public var idempotencyEntries: Int

    /// A complete REPLAY file: the header, then the entries already encoded (24 bytes each:
    /// 16-byte key ‖ u64), client entries first, each group ascending by key.
    public static func encode(storeId: StoreID, seq: UInt64, chain: Hash32, clientEntries: [[UInt8]],
                              idempotencyEntries: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter(capacity: length + 4 + (clientEntries.count + idempotencyEntries.count) * 24)
        w.append(magic)
        w.u16(FormatVersion.read); w.u16(FormatVersion.write); w.u32(0)
        w.append(storeId.bytes)
        w.u64(seq); w.hash(chain)
        w.u32(UInt32(clientEntries.count)); w.u32(UInt32(idempotencyEntries.count))
        for e in clientEntries { w.append(e) }
        for e in idempotencyEntries { w.append(e) }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes and checks the magic, CRC, read version and entry counts of a whole REPLAY file.
    public static func decode(_ bytes: [UInt8], file: String?) throws(FormatError) -> ReplayFileHeader {
        let at = Location(file: file, offset: 0)
        guard bytes.count >= length + 4 else { throw .truncated(at, needed: length + 4, available: bytes.count) }
        guard Array(bytes[0..<8]) == magic else {
            throw .badMagic(at, expected: Magic.describe(magic), found: Magic.describe(Array(bytes[0..<8])))
        }
        let stored = try Peek.u32(bytes, bytes.count - 4)
        let computed = CRC32C.checksum(Array(bytes[0..<(bytes.count - 4)]))
        guard stored == computed else {
            throw .checksumMismatch(Location(file: file, offset: UInt64(bytes.count - 4)), what: "REPLAY", expected: computed, found: stored)
        }
        var r = ByteReader(bytes, start: 8, end: bytes.count - 4)
        do {
            try checkVersions(read: try r.u16(), write: try r.u16(), what: "REPLAY", location: at, forWriting: false)
            try r.skip(4)
            guard let storeId = StoreID(bytes: try r.bytes(16)) else { throw FormatError.malformed(at, detail: "REPLAY store id") }
            let seq = try r.u64(), chain = try r.hash()
            let a = Int(try r.u32()), b = Int(try r.u32())
            guard r.remaining == (a + b) * 24 else {
                throw FormatError.malformed(Location(file: file, offset: 72), detail: "REPLAY holds \(r.remaining) bytes for \(a + b) entries")
            }
            return ReplayFileHeader(storeId: storeId, seq: seq, chain: chain, clientEntries: a, idempotencyEntries: b)
        } catch let e as FormatError {
            throw e
        } catch let e as ByteReader.Failure {
            throw FormatError.from(e, file: file, what: "REPLAY")
        } catch {
            throw .malformed(at, detail: "REPLAY: \(error)")
        }
    }
}
