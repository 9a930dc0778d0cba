import NEDBFormat

/// Byte-level edits used to build damaged fixtures.
public enum FileEdits {
    public static func read(_ path: String) throws -> [UInt8] { try PosixFileSystem().readAll(path) }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fs = PosixFileSystem()
        let f = try fs.openForWriting(path, create: true)
        try f.truncate(to: 0)
        try f.write(bytes, at: 0)
        f.close()
    }

    /// Offsets of every frame in a segment file, with their seqs.
    public static func frames(in path: String) throws -> [(offset: Int, seq: UInt64, length: Int)] {
        let segment = try SegmentFile.open(fs: PosixFileSystem(), path: path)
        var scanner = segment.scanner()
        var out: [(Int, UInt64, Int)] = []
        while let event = try scanner.next() {
            if case let .record(frame) = event { out.append((Int(frame.offset), frame.seq, frame.view.frameLength)) }
        }
        return out
    }

    /// Recomputes the CRC of the frame at `offset` after an edit.
    public static func fixCRC(_ bytes: inout [UInt8], frameAt offset: Int) {
        let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        let total = length + Frame.overhead
        let crc = bytes.withUnsafeBytes { Frame.crc32(frame: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + total)])) }
        for i in 0..<4 { bytes[offset + 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    /// Recomputes the stored chain hash of the frame at `offset` from `previous`, then its CRC.
    public static func fixChain(_ bytes: inout [UInt8], frameAt offset: Int, previous: Hash32, algorithm: HashAlgorithm) {
        let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        let chain = bytes.withUnsafeBytes {
            ChainHasher(algorithm).chain(previous: previous, typeAndBody: UnsafeRawBufferPointer(rebasing: $0[(offset + 8)..<(offset + 8 + length)]))
        }
        for (i, b) in chain.bytes.enumerated() { bytes[offset + 8 + length + i] = b }
        fixCRC(&bytes, frameAt: offset)
    }

    /// The stored chain hash of the frame at `offset`.
    public static func storedChain(_ bytes: [UInt8], frameAt offset: Int) -> Hash32 {
        let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        return Hash32(bytes: Array(bytes[(offset + 8 + length)..<(offset + 8 + length + 32)]))!
    }

    /// Offset of the first occurrence of `needle` at or after `from`.
    public static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int = 0) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
