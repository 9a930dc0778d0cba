/// Summary of a sealed segment (footer chunk `META`, spec/FORMAT.md §7.3).
public struct FooterMeta: Sendable, Equatable {
    public var recordCount: UInt64
    public var firstSeq: UInt64
    public var lastSeq: UInt64
    /// Chain hash of the last record.
    public var chainHead: Hash32
    public var firstTime: Microseconds
    public var lastTime: Microseconds
    /// Total bytes of record frames (uncompressed).
    public var logicalLength: UInt64
    /// Merkle root of the whole log up to and including `lastSeq` (tree size lastSeq+1).
    public var root: Hash32

    public static let encodedLength = 112

    public init(recordCount: UInt64, firstSeq: UInt64, lastSeq: UInt64, chainHead: Hash32, firstTime: Microseconds,
                lastTime: Microseconds, logicalLength: UInt64, root: Hash32) {
        self.recordCount = recordCount; self.firstSeq = firstSeq; self.lastSeq = lastSeq; self.chainHead = chainHead
        self.firstTime = firstTime; self.lastTime = lastTime; self.logicalLength = logicalLength; self.root = root
    }

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: FooterMeta.encodedLength)
        w.u64(recordCount); w.u64(firstSeq); w.u64(lastSeq); w.hash(chainHead)
        w.i64(firstTime); w.i64(lastTime); w.u64(logicalLength); w.hash(root)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], location: Location) throws(FormatError) -> FooterMeta {
        guard bytes.count == encodedLength else {
            throw .malformed(location, detail: "META chunk must be \(encodedLength) bytes, found \(bytes.count)")
        }
        var r = ByteReader(bytes)
        do {
            let meta = FooterMeta(recordCount: try r.u64(), firstSeq: try r.u64(), lastSeq: try r.u64(), chainHead: try r.hash(),
                                  firstTime: try r.i64(), lastTime: try r.i64(), logicalLength: try r.u64(), root: try r.hash())
            guard meta.recordCount >= 1, meta.lastSeq >= meta.firstSeq, meta.lastSeq - meta.firstSeq == meta.recordCount - 1 else {
                throw FormatError.malformed(location, detail: "META seq range \(meta.firstSeq)…\(meta.lastSeq) does not hold \(meta.recordCount) records")
            }
            return meta
        } catch let e as FormatError {
            throw e
        } catch {
            throw .malformed(location, detail: "META chunk: \(error)")
        }
    }
}

/// Where one compressed block lives (footer chunk `BLKS`).
public struct BlockEntry: Sendable, Equatable {
    /// File offset of the block header.
    public var fileOffset: UInt64
    /// Offset the block's first frame would have in the uncompressed segment.
    public var logicalOffset: UInt64
    /// Index (within the segment) of the block's first record.
    public var firstRecord: UInt32
    public var recordCount: UInt32

    public init(fileOffset: UInt64, logicalOffset: UInt64, firstRecord: UInt32, recordCount: UInt32) {
        self.fileOffset = fileOffset; self.logicalOffset = logicalOffset
        self.firstRecord = firstRecord; self.recordCount = recordCount
    }

    static let encodedLength = 24
}

/// One entry of the footer's table of contents.
public struct FooterChunk: Sendable, Equatable {
    public var id: String
    /// A reader that does not know a required chunk must not use the footer.
    public var required: Bool
    public var offset: UInt64
    public var length: UInt64
    public var crc: UInt32

    static let encodedLength = 32
}

/// The footer of a sealed segment: chunks, a table of contents, and a fixed 40-byte trailer at
/// the end of the file (spec/FORMAT.md §7).
///
/// Trailer:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | data end: offset of the first byte after the last record (or block) |
/// | 8 | 8 | TOC offset |
/// | 16 | 4 | TOC length |
/// | 20 | 4 | CRC32C of the TOC |
/// | 24 | 2 | footer version (1) |
/// | 26 | 2 | reserved, zero |
/// | 28 | 4 | CRC32C of trailer bytes [0,28) |
/// | 32 | 8 | magic "\x89NEDBEND" |
public struct SegmentFooter: Sendable, Equatable {
    public static let trailerLength = 40
    public static let footerVersion: UInt16 = 1
    public static let knownChunks: Set<String> = ["META", "RIDX", "MRKL", "FRNT", "BLKS"]

    public var meta: FooterMeta
    /// Logical offset of every record's frame, in seq order.
    public var recordOffsets: [UInt64]
    /// Every perfect aligned subtree wholly inside the segment's leaves.
    public var levels: MerkleLevels
    /// Compact range of the whole log after the last record.
    public var frontier: CompactRange
    /// Present for compressed segments.
    public var blocks: [BlockEntry]?

    public init(meta: FooterMeta, recordOffsets: [UInt64], levels: MerkleLevels, frontier: CompactRange, blocks: [BlockEntry]?) {
        self.meta = meta; self.recordOffsets = recordOffsets; self.levels = levels
        self.frontier = frontier; self.blocks = blocks
    }

    /// The footer bytes, to be written at file offset `dataEnd` (immediately after the data).
    public func encode(dataEnd: UInt64) -> [UInt8] {
        var chunks: [(String, [UInt8])] = [("META", meta.encode())]
        var ridx = ByteWriter(capacity: recordOffsets.count * 8)
        for o in recordOffsets { ridx.u64(o) }
        chunks.append(("RIDX", ridx.bytes))
        var mrkl = ByteWriter(capacity: Int(meta.recordCount) * 64)
        // A Hash32 is its 32 bytes in order, so each level is copied in one piece.
        for level in levels.levels { level.withUnsafeBytes { mrkl.append($0) } }
        chunks.append(("MRKL", mrkl.bytes))
        var frnt = ByteWriter()
        for h in frontier.hashes { frnt.hash(h) }
        chunks.append(("FRNT", frnt.bytes))
        if let blocks {
            var b = ByteWriter(capacity: blocks.count * BlockEntry.encodedLength)
            for e in blocks {
                b.u64(e.fileOffset); b.u64(e.logicalOffset); b.u32(e.firstRecord); b.u32(e.recordCount)
            }
            chunks.append(("BLKS", b.bytes))
        }
        var out = ByteWriter(capacity: chunks.reduce(0) { $0 + $1.1.count } + 256)
        var toc = ByteWriter()
        toc.u32(UInt32(chunks.count))
        for (id, data) in chunks {
            let offset = dataEnd + UInt64(out.count)
            out.append(data)
            toc.ascii(id)
            toc.u32(1)              // flags: bit 0 = required
            toc.u64(offset)
            toc.u64(UInt64(data.count))
            toc.u32(CRC32C.checksum(data))
            toc.u32(0)
        }
        let tocOffset = dataEnd + UInt64(out.count)
        out.append(toc.bytes)
        var trailer = ByteWriter(capacity: SegmentFooter.trailerLength)
        trailer.u64(dataEnd)
        trailer.u64(tocOffset)
        trailer.u32(UInt32(toc.count))
        trailer.u32(CRC32C.checksum(toc.bytes))
        trailer.u16(SegmentFooter.footerVersion)
        trailer.u16(0)
        trailer.u32(CRC32C.checksum(trailer.bytes))
        trailer.append(Magic.footerEnd)
        out.append(trailer.bytes)
        return out.bytes
    }
}

/// A parsed trailer and table of contents, with lazy, CRC-checked access to each chunk.
public struct FooterIndex: Sendable, Equatable {
    public var dataEnd: UInt64
    public var tocOffset: UInt64
    public var chunks: [FooterChunk]
    public var meta: FooterMeta
    /// False when a required chunk is unknown to this reader: use the records, not the footer.
    public var usable: Bool

    /// Random access reads: (offset, count) → bytes (fewer only at end of file).
    public typealias Reader = (UInt64, Int) throws(FormatError) -> [UInt8]

    /// Reads the trailer at the end of a file of `fileSize` bytes. Returns nil when the file
    /// does not end with the trailer magic (an unsealed segment). Throws when a trailer is
    /// present but damaged.
    public static func read(fileSize: UInt64, headerLength: Int, file: String?, reader: Reader) throws(FormatError) -> FooterIndex? {
        let trailerLength = UInt64(SegmentFooter.trailerLength)
        guard fileSize >= UInt64(headerLength) + trailerLength else { return nil }
        let trailerOffset = fileSize - trailerLength
        let trailer = try reader(trailerOffset, SegmentFooter.trailerLength)
        guard trailer.count == SegmentFooter.trailerLength, Array(trailer[32..<40]) == Magic.footerEnd else { return nil }
        let at = Location(file: file, offset: trailerOffset)
        let storedCRC = try Peek.u32(trailer, 28)
        let computedCRC = CRC32C.checksum(Array(trailer[0..<28]))
        guard storedCRC == computedCRC else {
            throw .checksumMismatch(at, what: "footer trailer", expected: computedCRC, found: storedCRC)
        }
        let dataEnd = try Peek.u64(trailer, 0)
        let tocOffset = try Peek.u64(trailer, 8)
        let tocLength = UInt64(try Peek.u32(trailer, 16))
        let tocCRC = try Peek.u32(trailer, 20)
        let version = UInt16(truncatingIfNeeded: try Peek.u32(trailer, 24))
        guard version <= SegmentFooter.footerVersion else {
            throw .unsupportedVersion(at, what: "footer", found: version, supported: SegmentFooter.footerVersion)
        }
        guard dataEnd >= UInt64(headerLength), dataEnd <= tocOffset, tocLength >= 4,
              tocOffset <= trailerOffset, trailerOffset - tocOffset == tocLength else {
            throw .malformed(at, detail: "footer trailer offsets are inconsistent (data end \(dataEnd), TOC \(tocOffset)+\(tocLength), trailer \(trailerOffset))")
        }
        let toc = try reader(tocOffset, Int(tocLength))
        let computedTOC = CRC32C.checksum(toc)
        guard computedTOC == tocCRC else {
            throw .checksumMismatch(Location(file: file, offset: tocOffset), what: "footer TOC", expected: computedTOC, found: tocCRC)
        }
        let count = Int(try Peek.u32(toc, 0))
        guard toc.count == 4 + count * FooterChunk.encodedLength else {
            throw .malformed(Location(file: file, offset: tocOffset), detail: "TOC length \(toc.count) does not fit \(count) entries")
        }
        var chunks: [FooterChunk] = []
        var usable = true
        for i in 0..<count {
            let o = 4 + i * FooterChunk.encodedLength
            let idBytes = Array(toc[o..<(o + 4)])
            let id = String(decoding: idBytes, as: UTF8.self)
            let flags = try Peek.u32(toc, o + 4)
            let chunk = FooterChunk(id: id, required: flags & 1 != 0, offset: try Peek.u64(toc, o + 8),
                                    length: try Peek.u64(toc, o + 16), crc: try Peek.u32(toc, o + 24))
            guard chunk.offset >= dataEnd, chunk.length <= tocOffset, chunk.offset <= tocOffset - chunk.length else {
                throw .malformed(Location(file: file, offset: tocOffset + UInt64(o)), detail: "footer chunk \(id) lies outside the footer")
            }
            if chunk.required && !SegmentFooter.knownChunks.contains(id) { usable = false }
            guard !chunks.contains(where: { $0.id == id }) else {
                throw .malformed(Location(file: file, offset: tocOffset + UInt64(o)), detail: "footer chunk \(id) appears twice in the TOC")
            }
            chunks.append(chunk)
        }
        guard let metaChunk = chunks.first(where: { $0.id == "META" }) else {
            throw .malformed(Location(file: file, offset: tocOffset), detail: "footer has no META chunk")
        }
        var index = FooterIndex(dataEnd: dataEnd, tocOffset: tocOffset, chunks: chunks,
                                meta: FooterMeta(recordCount: 0, firstSeq: 0, lastSeq: 0, chainHead: .zero, firstTime: 0,
                                                 lastTime: 0, logicalLength: 0, root: .zero), usable: usable)
        let metaBytes = try index.load(metaChunk, file: file, reader: reader)
        index.meta = try FooterMeta.decode(metaBytes, location: Location(file: file, offset: metaChunk.offset))
        return index
    }

    /// The data end of an intact trailer (magic and CRC valid, offsets plausible), whatever the
    /// state of the rest of the footer; nil otherwise.
    public static func trailerDataEnd(fileSize: UInt64, headerLength: Int, reader: Reader) -> UInt64? {
        let trailerLength = UInt64(SegmentFooter.trailerLength)
        guard fileSize >= UInt64(headerLength) + trailerLength,
              let trailer = try? reader(fileSize - trailerLength, SegmentFooter.trailerLength),
              trailer.count == SegmentFooter.trailerLength, Array(trailer[32..<40]) == Magic.footerEnd,
              let stored = try? Peek.u32(trailer, 28), stored == CRC32C.checksum(Array(trailer[0..<28])),
              let dataEnd = try? Peek.u64(trailer, 0), dataEnd >= UInt64(headerLength), dataEnd <= fileSize - trailerLength
        else { return nil }
        return dataEnd
    }

    public func chunk(_ id: String) -> FooterChunk? { chunks.first { $0.id == id } }

    /// Reads a chunk and checks its CRC.
    public func load(_ chunk: FooterChunk, file: String?, reader: Reader) throws(FormatError) -> [UInt8] {
        guard chunk.length <= UInt64(Int32.max) else {
            throw .malformed(Location(file: file, offset: chunk.offset), detail: "footer chunk \(chunk.id) is too large")
        }
        let bytes = try reader(chunk.offset, Int(chunk.length))
        guard bytes.count == Int(chunk.length) else {
            throw .truncated(Location(file: file, offset: chunk.offset), needed: Int(chunk.length), available: bytes.count)
        }
        let crc = CRC32C.checksum(bytes)
        guard crc == chunk.crc else {
            throw .checksumMismatch(Location(file: file, offset: chunk.offset), what: "footer chunk \(chunk.id)", expected: crc, found: chunk.crc)
        }
        return bytes
    }

    func required(_ id: String, file: String?) throws(FormatError) -> FooterChunk {
        guard let c = chunk(id) else { throw .malformed(Location(file: file, offset: tocOffset), detail: "footer has no \(id) chunk") }
        return c
    }

    public func recordOffsets(file: String?, reader: Reader) throws(FormatError) -> [UInt64] {
        let c = try required("RIDX", file: file)
        let bytes = try load(c, file: file, reader: reader)
        guard UInt64(bytes.count) == meta.recordCount * 8 else {
            throw .malformed(Location(file: file, offset: c.offset), detail: "RIDX holds \(bytes.count / 8) offsets for \(meta.recordCount) records")
        }
        var offsets: [UInt64] = []
        offsets.reserveCapacity(bytes.count / 8)
        for o in stride(from: 0, to: bytes.count, by: 8) { offsets.append(try Peek.u64(bytes, o, file: file)) }
        return offsets
    }

    /// Byte offset within the MRKL chunk of node (level, index), or nil if not stored.
    public func merkleOffset(level: Int, index: UInt64) -> UInt64? {
        var offset: UInt64 = 0
        for j in 0..<level {
            offset += MerkleLevels.nodeCount(firstLeaf: meta.firstSeq, leafCount: meta.recordCount, level: j) * 32
        }
        let count = MerkleLevels.nodeCount(firstLeaf: meta.firstSeq, leafCount: meta.recordCount, level: level)
        let first = (meta.firstSeq + (UInt64(1) << level) - 1) >> level
        guard index >= first, index - first < count else { return nil }
        return offset + (index - first) * 32
    }

    public func levels(hasher: MerkleHasher, file: String?, reader: Reader) throws(FormatError) -> MerkleLevels {
        let c = try required("MRKL", file: file)
        let bytes = try load(c, file: file, reader: reader)
        var arrays: [[Hash32]] = []
        var offset = 0
        var level = 0
        while true {
            let n = MerkleLevels.nodeCount(firstLeaf: meta.firstSeq, leafCount: meta.recordCount, level: level)
            if n == 0 { break }
            guard offset + Int(n) * 32 <= bytes.count else {
                throw .malformed(Location(file: file, offset: c.offset), detail: "MRKL chunk is shorter than its levels require")
            }
            arrays.append(bytes.withUnsafeBytes { raw in
                (0..<Int(n)).map { Hash32(loadingFrom: raw.baseAddress! + offset + $0 * 32) }
            })
            offset += Int(n) * 32
            level += 1
        }
        guard offset == bytes.count, let levels = MerkleLevels(hasher: hasher, firstLeaf: meta.firstSeq, levels: arrays) else {
            throw .malformed(Location(file: file, offset: c.offset), detail: "MRKL chunk length \(bytes.count) does not match its levels")
        }
        return levels
    }

    public func frontier(hasher: MerkleHasher, file: String?, reader: Reader) throws(FormatError) -> CompactRange {
        let c = try required("FRNT", file: file)
        let bytes = try load(c, file: file, reader: reader)
        let hashes = bytes.withUnsafeBytes { raw in
            stride(from: 0, to: bytes.count - bytes.count % 32, by: 32).map { Hash32(loadingFrom: raw.baseAddress! + $0) }
        }
        guard bytes.count % 32 == 0, let range = CompactRange(hasher: hasher, size: meta.lastSeq + 1, hashes: hashes) else {
            throw .malformed(Location(file: file, offset: c.offset), detail: "FRNT chunk does not hold one hash per set bit of \(meta.lastSeq + 1)")
        }
        return range
    }

    public func blocks(file: String?, reader: Reader) throws(FormatError) -> [BlockEntry] {
        let c = try required("BLKS", file: file)
        let bytes = try load(c, file: file, reader: reader)
        guard bytes.count % BlockEntry.encodedLength == 0 else {
            throw .malformed(Location(file: file, offset: c.offset), detail: "BLKS chunk length is not a multiple of \(BlockEntry.encodedLength)")
        }
        var entries: [BlockEntry] = []
        for o in stride(from: 0, to: bytes.count, by: BlockEntry.encodedLength) {
            entries.append(BlockEntry(fileOffset: try Peek.u64(bytes, o, file: file), logicalOffset: try Peek.u64(bytes, o + 8, file: file),
                                      firstRecord: try Peek.u32(bytes, o + 16, file: file), recordCount: try Peek.u32(bytes, o + 20, file: file)))
        }
        return entries
    }
}
