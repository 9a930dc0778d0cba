/// The MANIFEST file (spec/FORMAT.md §9): which segment files make up the log. Derived data —
/// it can always be rebuilt from the segments — replaced atomically (temp file, fsync, rename,
/// fsync directory).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic "\x89NEDBMAN" |
/// | 8 | 2 | read version | 10 | 2 | write version |
/// | 12 | 1 | hash algorithm id | 13 | 1 | flags: bit 0 encrypted |
/// | 14 | 2 | reserved |
/// | 16 | 16 | store id |
/// | 32 | 8 | generation (incremented on every rewrite) |
/// | 40 | 8 | time written, µs |
/// | 48 | 4 | segment count N |
/// | 52 | 4 | reserved |
/// | 56 | 72·N | entries: segment number u64, first seq u64, last seq u64, state u8, 7 reserved, file size u64, chain head 32 |
/// | … | 4 | CRC32C of everything before |
public struct Manifest: Sendable, Equatable {
    public static let fileName = "MANIFEST"

    public enum SegmentState: UInt8, Sendable {
        /// The segment being appended to; `lastSeq`, `fileSize` and `chainHead` are as of the
        /// manifest write and may be behind.
        case active = 0
        case sealed = 1
        case sealedCompressed = 2
    }

    public struct Entry: Sendable, Equatable {
        public var segmentNumber: UInt64
        public var firstSeq: UInt64
        public var lastSeq: UInt64
        public var state: SegmentState
        public var fileSize: UInt64
        public var chainHead: Hash32

        public init(segmentNumber: UInt64, firstSeq: UInt64, lastSeq: UInt64, state: SegmentState, fileSize: UInt64, chainHead: Hash32) {
            self.segmentNumber = segmentNumber; self.firstSeq = firstSeq; self.lastSeq = lastSeq
            self.state = state; self.fileSize = fileSize; self.chainHead = chainHead
        }

        public var fileName: String { SegmentName.make(firstSeq: firstSeq) }
    }

    public var hashAlgorithm: HashAlgorithm
    public var encrypted: Bool
    public var storeId: StoreID
    public var generation: UInt64
    public var written: Microseconds
    public var segments: [Entry]

    public init(hashAlgorithm: HashAlgorithm, encrypted: Bool, storeId: StoreID, generation: UInt64,
                written: Microseconds, segments: [Entry]) {
        self.hashAlgorithm = hashAlgorithm; self.encrypted = encrypted; self.storeId = storeId
        self.generation = generation; self.written = written; self.segments = segments
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 60 + segments.count * 72)
        w.append(Magic.manifest)
        w.u16(FormatVersion.read); w.u16(FormatVersion.write)
        w.u8(hashAlgorithm.rawValue); w.u8(encrypted ? 1 : 0); w.u16(0)
        w.append(storeId.bytes)
        w.u64(generation); w.i64(written)
        w.u32(UInt32(segments.count)); w.u32(0)
        for e in segments {
            w.u64(e.segmentNumber); w.u64(e.firstSeq); w.u64(e.lastSeq); w.u8(e.state.rawValue); w.zeros(7)
            w.u64(e.fileSize); w.hash(e.chainHead)
        }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], file: String? = nil) throws(FormatError) -> Manifest {
        let at = Location(file: file, offset: 0)
        guard bytes.count >= 60 else { throw .truncated(at, needed: 60, available: bytes.count) }
        guard Array(bytes[0..<8]) == Magic.manifest else {
            throw .badMagic(at, expected: Magic.describe(Magic.manifest), found: Magic.describe(Array(bytes[0..<8])))
        }
        let stored = try Peek.u32(bytes, bytes.count - 4)
        let computed = CRC32C.checksum(Array(bytes[0..<(bytes.count - 4)]))
        guard stored == computed else {
            throw .checksumMismatch(Location(file: file, offset: UInt64(bytes.count - 4)), what: "manifest", expected: computed, found: stored)
        }
        var r = ByteReader(bytes, end: bytes.count - 4)
        do {
            try r.skip(8)
            try checkVersions(read: try r.u16(), write: try r.u16(), what: "manifest", location: at, forWriting: false)
            let algRaw = try r.u8()
            guard let alg = HashAlgorithm(rawValue: algRaw) else {
                throw FormatError.malformed(Location(file: file, offset: 12), detail: "unknown hash algorithm id \(algRaw)")
            }
            let flags = try r.u8()
            try r.skip(2)
            guard let storeId = StoreID(bytes: try r.bytes(16)) else { throw FormatError.malformed(at, detail: "manifest store id") }
            let generation = try r.u64(), written = try r.i64()
            let count = Int(try r.u32())
            try r.skip(4)
            guard r.remaining == count * 72 else {
                throw FormatError.malformed(Location(file: file, offset: 48), detail: "manifest holds \(r.remaining) bytes for \(count) entries")
            }
            var entries: [Entry] = []
            for _ in 0..<count {
                let number = try r.u64(), first = try r.u64(), last = try r.u64()
                let stateRaw = try r.u8()
                guard let state = SegmentState(rawValue: stateRaw) else {
                    throw FormatError.malformed(Location(file: file, offset: UInt64(r.position - 1)), detail: "unknown segment state \(stateRaw)")
                }
                try r.skip(7)
                entries.append(Entry(segmentNumber: number, firstSeq: first, lastSeq: last, state: state,
                                     fileSize: try r.u64(), chainHead: try r.hash()))
            }
            return Manifest(hashAlgorithm: alg, encrypted: flags & 1 != 0, storeId: storeId, generation: generation,
                            written: written, segments: entries)
        } catch let e as FormatError {
            throw e
        } catch let e as ByteReader.Failure {
            throw FormatError.from(e, file: file, what: "manifest")
        } catch {
            throw .malformed(at, detail: "manifest: \(error)")
        }
    }
}
