/// Version numbers this implementation reads and writes (spec/FORMAT.md §2.2).
///
/// Every file header carries a *read version* (the lowest reader version that can read the file)
/// and a *write version* (the lowest writer version that may modify it). A reader whose
/// version is below the file's read version must refuse the file (`unsupported_version`); a
/// writer below the write version may still read it but must not append to or rewrite it.
public enum FormatVersion {
    public static let read: UInt16 = 1
    public static let write: UInt16 = 1
}

/// The 8-byte magic values that start each kind of file.
public enum Magic {
    public static let segment: [UInt8] = [0x89] + Array("NEDBSEG".utf8)
    public static let footerEnd: [UInt8] = [0x89] + Array("NEDBEND".utf8)
    public static let manifest: [UInt8] = [0x89] + Array("NEDBMAN".utf8)
    public static let checkpoint: [UInt8] = [0x89] + Array("NEDBCKP".utf8)
    public static let keys: [UInt8] = [0x89] + Array("NEDBKEY".utf8)

    static func describe(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
}

/// Checks a file's version pair; `forWriting` also enforces the write version.
func checkVersions(read: UInt16, write: UInt16, what: String, location: Location, forWriting: Bool) throws(FormatError) {
    // Version 0 is never written (§2.2): it is not an old version but damage.
    if read == 0 || write == 0 {
        throw .malformed(location, detail: "\(what) header has version \(read == 0 ? "read" : "write") 0, which is never written")
    }
    if read > FormatVersion.read {
        throw .unsupportedVersion(location, what: "\(what) read", found: read, supported: FormatVersion.read)
    }
    if forWriting && write > FormatVersion.write {
        throw .unsupportedVersion(location, what: "\(what) write", found: write, supported: FormatVersion.write)
    }
}
