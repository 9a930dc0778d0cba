#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// The last, unsealed segment: appended to by a writer, read by everyone. A class, so its
/// growing arrays are never copied. A read-only store holds it without a writable handle, so
/// opening needs no write permission and nothing can be written through it.
final class ActiveSegment {
    let path: String
    let header: SegmentHeader
    /// The handle reads go through.
    let file: ReadableFile
    /// The handle writes go through; nil in a read-only store.
    private let writer: WritableFile?
    var accumulator: SegmentAccumulator
    /// Bytes of the file written so far (header included).
    var fileEnd: UInt64

    /// Appends go through this mapping when the store uses mapped appends.
    private var mapping: AppendMapping?

    init(path: String, header: SegmentHeader, file: ReadableFile, writer: WritableFile?, accumulator: SegmentAccumulator,
         fileEnd: UInt64, mapped: Bool, segmentSize: UInt64) {
        self.path = path
        self.header = header
        self.file = file
        self.writer = writer
        self.accumulator = accumulator
        self.fileEnd = fileEnd
        if mapped, let writer {
            // Address space for a full segment plus a large last flush; grown if ever exceeded.
            let reserve = Int(min(segmentSize, 1 << 40)) + (64 << 20)
            mapping = writer.appendMapping(reserve: reserve)
        }
    }

    /// A writable segment: reads and writes share one handle.
    convenience init(path: String, header: SegmentHeader, writer: WritableFile, accumulator: SegmentAccumulator,
                     fileEnd: UInt64, mapped: Bool, segmentSize: UInt64) {
        self.init(path: path, header: header, file: writer, writer: writer, accumulator: accumulator, fileEnd: fileEnd,
                  mapped: mapped, segmentSize: segmentSize)
    }

    private func writable() throws(SystemError) -> WritableFile {
        guard let writer else { throw SystemError(operation: "write", path: path, errno: EBADF) }
        return writer
    }

    /// Writes flushed frames at `offset` (the current end of the data).
    func write(_ bytes: [UInt8], at offset: UInt64) throws(SystemError) {
        guard let mapping else {
            try writable().write(bytes, at: offset)
            return
        }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SystemError) in try mapping.write(raw, at: offset) }
        }
        try result.get()
    }

    func sync() throws(SystemError) { try writable().sync() }

    /// Ends mapped appends and cuts off any reserved zero bytes after `fileEnd`. Called before
    /// the footer is written and on close; later writes use `pwrite`.
    func finishAppends() throws(SystemError) {
        if let mapping {
            self.mapping = nil
            try mapping.finish(truncatingTo: fileEnd)
        } else if let writer, try writer.size() > fileEnd {
            try writer.truncate(to: fileEnd)      // reserved space left by an earlier writer
        }
    }

    /// Writes the footer after the data (reserved space already cut off) and makes it durable.
    func writeFooter(_ footer: [UInt8]) throws(SystemError) {
        let w = try writable()
        try w.write(footer, at: fileEnd)
        try w.sync()
    }

    func close() {
        mapping = nil
        file.close()
        writer?.close()
    }
}
