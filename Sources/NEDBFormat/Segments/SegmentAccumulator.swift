/// Tracks what a segment's footer needs while records are appended: frame offsets, Merkle
/// levels, the global compact range, chain head, seqs and times. Shared by the store's writer
/// and the in-memory `LogBuilder`.
public struct SegmentAccumulator: Sendable {
    public let header: SegmentHeader
    public private(set) var offsets: [UInt64] = []
    /// Merkle levels of the segment; nodes above the leaves are computed lazily, so call
    /// `catchUp()` before reading them (the footer and the frontier do it themselves).
    public private(set) var levels: MerkleLevels
    /// Compact range of the whole log before the segment's first record.
    public let startFrontier: CompactRange
    /// Chain hash of the last record (the header's previous chain before any record).
    public private(set) var chain: Hash32
    public private(set) var nextSeq: UInt64
    /// Logical offset just past the last frame.
    public private(set) var dataEnd: UInt64
    public private(set) var firstTime: Microseconds = 0
    public private(set) var lastTime: Microseconds = 0

    /// Starts a segment. `frontier` is the compact range of the log before `header.firstSeq`.
    public init(header: SegmentHeader, frontier: CompactRange) {
        self.header = header
        let hasher = MerkleHasher(header.hashAlgorithm)
        levels = MerkleLevels(hasher: hasher, firstLeaf: header.firstSeq)
        self.startFrontier = frontier
        chain = header.previousChain
        nextSeq = header.firstSeq
        dataEnd = UInt64(header.headerLength)
    }

    public var recordCount: Int { offsets.count }
    public var isEmpty: Bool { offsets.isEmpty }
    public var lastSeq: UInt64? { isEmpty ? nil : nextSeq - 1 }

    /// Records one appended frame.
    public mutating func add(frameLength: Int, seq: UInt64, time: Microseconds, chain: Hash32) {
        precondition(seq == nextSeq, "frames must be added in seq order")
        if offsets.isEmpty { firstTime = time }
        lastTime = time
        offsets.append(dataEnd)
        dataEnd += UInt64(frameLength)
        levels.appendDeferred(chain)
        self.chain = chain
        nextSeq = seq + 1
    }

    /// Computes the Merkle nodes of every record added so far.
    public mutating func catchUp() { levels.catchUp() }

    /// Compact range of the whole log after the last record.
    public mutating func frontier() -> CompactRange {
        catchUp()
        var range = startFrontier
        for (level, h) in levels.decomposition(upTo: nextSeq) { range.append(subtree: h, level: level) }
        return range
    }

    /// The footer describing everything added so far (at least one record).
    public mutating func footer(blocks: [BlockEntry]? = nil) -> SegmentFooter {
        let frontier = frontier()
        let meta = FooterMeta(recordCount: UInt64(offsets.count), firstSeq: header.firstSeq, lastSeq: nextSeq - 1,
                              chainHead: chain, firstTime: firstTime, lastTime: lastTime,
                              logicalLength: dataEnd - UInt64(header.headerLength), root: frontier.root)
        return SegmentFooter(meta: meta, recordOffsets: offsets, levels: levels, frontier: frontier, blocks: blocks)
    }
}

/// Rewrites a sealed plain segment as a compressed one (spec/FORMAT.md §8).
public enum SegmentCompressor {
    /// `frames` are the bytes from the end of the header to the data end of the plain segment;
    /// `accumulator` describes them. Returns the complete compressed segment file.
    public static func compress(frames: [UInt8], accumulator input: SegmentAccumulator,
                                blockSize: Int = CompressedBlock.targetSize) throws(FormatError) -> [UInt8] {
        var accumulator = input
        var header = accumulator.header
        header.compressed = true
        var out = header.encode()
        let headerLength = UInt64(header.headerLength)
        var blocks: [BlockEntry] = []
        let offsets = accumulator.offsets
        var index = 0
        while index < offsets.count {
            let startLogical = offsets[index]
            var endIndex = index + 1
            while endIndex < offsets.count && offsets[endIndex] - startLogical < UInt64(blockSize) { endIndex += 1 }
            let endLogical = endIndex < offsets.count ? offsets[endIndex] : accumulator.dataEnd
            let slice = Array(frames[Int(startLogical - headerLength)..<Int(endLogical - headerLength)])
            let block: [UInt8]
            do { block = try CompressedBlock.encode(frames: slice, recordCount: endIndex - index) } catch {
                throw .library(Location(), detail: "compression failed: \(error)")
            }
            blocks.append(BlockEntry(fileOffset: UInt64(out.count), logicalOffset: startLogical,
                                     firstRecord: UInt32(index), recordCount: UInt32(endIndex - index)))
            out.append(contentsOf: block)
            index = endIndex
        }
        let footer = accumulator.footer(blocks: blocks)
        out.append(contentsOf: footer.encode(dataEnd: UInt64(out.count)))
        return out
    }
}
