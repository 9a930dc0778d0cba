/// A segment file opened for reading: its header, its footer (when sealed), and scanners over
/// its records. Reading never modifies the file.
public final class SegmentFile: @unchecked Sendable {
    public let path: String
    public let name: String
    public let file: ReadableFile
    /// File size when opened; bytes appended later are not seen.
    public let size: UInt64
    public let header: SegmentHeader
    /// The parsed footer of a sealed segment.
    public let footer: FooterIndex?
    /// Set when the file ends with a trailer magic but the footer is damaged or unusable.
    public let footerError: FormatError?

    /// Where the records end according to an intact trailer whose footer is otherwise unusable.
    public let trailerDataEnd: UInt64?

    public var isSealed: Bool { footer != nil || footerError != nil }
    /// Where the record data ends (the footer starts), or the file size for an unsealed segment.
    /// A damaged footer whose trailer is intact still says where the records end (§7).
    public var dataEnd: UInt64 { footer?.dataEnd ?? trailerDataEnd ?? size }

    /// Opens and checks the header; the footer is parsed when present. Header damage throws.
    public static func open(fs: FileSystem, path: String, limitSize: UInt64? = nil) throws(FormatError) -> SegmentFile {
        let file: ReadableFile
        do { file = try fs.openForReading(path) } catch { throw .system(error) }
        let result = load(file: file, path: path, limitSize: limitSize)
        switch result {
        case let .success(segment): return segment
        case let .failure(error):
            file.close()
            throw error
        }
    }

    private static func load(file: ReadableFile, path: String, limitSize: UInt64?) -> Result<SegmentFile, FormatError> {
        let size: UInt64
        do { size = min(try file.size(), limitSize ?? .max) } catch { return .failure(.system(error)) }
        let header: SegmentHeader
        do {
            let headBytes = try readConverting(file, 0, min(Int(size), SegmentHeader.length))
            header = try SegmentHeader.decode(headBytes, file: path)
        } catch {
            return .failure(error)
        }
        let (footer, footerError) = loadFooter(file: file, path: path, size: size, header: header)
        var trailerEnd: UInt64? = nil
        if footer == nil && footerError != nil {
            trailerEnd = FooterIndex.trailerDataEnd(fileSize: size, headerLength: Int(header.headerLength),
                                                    reader: { (offset, count) throws(FormatError) -> [UInt8] in try readConverting(file, offset, count) })
        }
        return .success(SegmentFile(path: path, file: file, size: size, header: header, footer: footer, footerError: footerError,
                                    trailerDataEnd: trailerEnd))
    }

    private static func loadFooter(file: ReadableFile, path: String, size: UInt64,
                                   header: SegmentHeader) -> (FooterIndex?, FormatError?) {
        let read: FooterIndex.Reader = { (offset, count) throws(FormatError) -> [UInt8] in try readConverting(file, offset, count) }
        let footer: FooterIndex?
        do {
            footer = try FooterIndex.read(fileSize: size, headerLength: Int(header.headerLength), file: path, reader: read)
        } catch {
            return (nil, error)
        }
        if let f = footer, !f.usable {
            return (nil, .unsupportedVersion(Location(file: path, offset: f.tocOffset), what: "footer chunk",
                                             found: 2, supported: SegmentFooter.footerVersion))
        }
        if header.compressed && footer == nil {
            return (nil, .malformed(Location(file: path), detail: "a compressed segment must be sealed (no footer found)"))
        }
        return (footer, nil)
    }

    init(path: String, file: ReadableFile, size: UInt64, header: SegmentHeader, footer: FooterIndex?, footerError: FormatError?,
         trailerDataEnd: UInt64? = nil) {
        self.trailerDataEnd = trailerDataEnd
        self.path = path
        self.name = PathUtil.lastComponent(path)
        self.file = file
        self.size = size
        self.header = header
        self.footer = footer
        self.footerError = footerError
    }

    deinit { file.close() }

    /// Reads bytes, converting OS errors.
    public func read(at offset: UInt64, count: Int) throws(FormatError) -> [UInt8] {
        try readConverting(file, offset, count)
    }

    /// A reader closure for footer chunk access.
    public var reader: FooterIndex.Reader {
        { [file] (offset, count) throws(FormatError) -> [UInt8] in try readConverting(file, offset, count) }
    }

    /// A streaming scanner over the records (bounded memory, tolerant of damage).
    /// Scanning stops after a record whose seq is `limitSeq`, when given.
    public func scanner(limitSeq: UInt64? = nil, knownOffsets: [UInt64]? = nil) -> SegmentScanner {
        SegmentScanner(segment: self, limitSeq: limitSeq, knownOffsets: knownOffsets)
    }

    /// A scanner that starts at `offset` (a frame boundary of a plain segment) expecting `seq`.
    public func scanner(from offset: UInt64, expectedSeq seq: UInt64) -> SegmentScanner {
        var s = SegmentScanner(segment: self, limitSeq: nil, knownOffsets: nil)
        s.bufferStart = offset
        s.expectedSeq = seq
        return s
    }
}

/// `file.read` with the OS error converted to a `FormatError`.
func readConverting(_ file: ReadableFile, _ offset: UInt64, _ count: Int) throws(FormatError) -> [UInt8] {
    do { return try file.read(at: offset, count: count) } catch { throw .system(error) }
}
