/// Where each file of a store lives (spec/FORMAT.md §1).
///
/// ```
/// DIR/LOCK                    single-writer lock (advisory flock), holder's pid and host inside
/// DIR/MANIFEST                derived: list of segments
/// DIR/KEYS                    encrypted stores only: wrapped data keys (authoritative)
/// DIR/segments/<seq>.nseg     authoritative: the log, named by first seq (20 digits)
/// DIR/checkpoints/<seq>.nckp  derived: state snapshots, named by seq
/// DIR/segments.next/          transient: compaction output before the switch
/// DIR/segments.old/           transient: compaction input after the switch
/// ```
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var lock: String { PathUtil.join(root, "LOCK") }
    public var manifest: String { PathUtil.join(root, Manifest.fileName) }
    public var keys: String { PathUtil.join(root, KeyFile.fileName) }
    public var segments: String { PathUtil.join(root, "segments") }
    public var checkpoints: String { PathUtil.join(root, CheckpointContainer.directory) }
    public var segmentsNext: String { PathUtil.join(root, "segments.next") }
    public var segmentsOld: String { PathUtil.join(root, "segments.old") }
    /// Marker written (and fsynced) into segments.next when its contents are complete.
    public static let completeMarker = "COMPLETE"

    public func segment(firstSeq: UInt64) -> String { PathUtil.join(segments, SegmentName.make(firstSeq: firstSeq)) }
    public func checkpoint(seq: UInt64) -> String { PathUtil.join(checkpoints, CheckpointContainer.fileName(seq: seq)) }

    /// Segment file names in the segments directory, sorted (so by first seq).
    public func segmentNames(fs: FileSystem) throws(FormatError) -> [String] {
        do { return try fs.listDirectory(segments).filter { SegmentName.parse($0) != nil } } catch {
            throw .io(Location(file: segments), errno: error.errno, detail: error.description)
        }
    }

    /// Checkpoint file names, sorted by seq.
    public func checkpointNames(fs: FileSystem) -> [String] {
        guard fs.isDirectory(checkpoints), let names = try? fs.listDirectory(checkpoints) else { return [] }
        return names.filter { CheckpointContainer.parseName($0) != nil }
    }
}

extension FormatError {
    /// Wraps an operating-system error.
    public static func system(_ error: SystemError) -> FormatError {
        .io(Location(file: error.path), errno: error.errno, detail: "\(error.operation): \(error.message)")
    }
}
