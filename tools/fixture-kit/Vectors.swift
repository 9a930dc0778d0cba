import NEDBFormat

/// The spec test vectors (spec/vectors/).
public enum Vectors {
    /// Writes every vector file; returns how many.
    public static func generate(into directory: String) throws -> Int {
        try PosixFileSystem().createDirectory(directory)
        return 0
    }
}
