import CZstd

/// zstd compression of independent blocks (one zstd frame per block).
public enum Zstd {
    public static let defaultLevel: Int32 = 3

    /// Compresses `input` into one zstd frame.
    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) throws(PrimitiveError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(written) != 0 { throw .compression(detail: errorName(written)) }
        out.removeSubrange(written...)
        return out
    }

    /// Decompresses one frame that must expand to exactly `expectedSize` bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(PrimitiveError) -> [UInt8] {
        guard expectedSize >= 0 else { throw .decompressedSizeMismatch(expected: expectedSize, found: 0) }
        var out = [UInt8](repeating: 0, count: expectedSize)
        let produced = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        if ZSTD_isError(produced) != 0 { throw .compression(detail: errorName(produced)) }
        guard produced == expectedSize else { throw .decompressedSizeMismatch(expected: expectedSize, found: produced) }
        return out
    }

    /// Convenience overload for arrays.
    public static func decompress(_ input: [UInt8], expectedSize: Int) throws(PrimitiveError) -> [UInt8] {
        let result = input.withUnsafeBytes { raw in
            Result { () throws(PrimitiveError) -> [UInt8] in try decompress(raw, expectedSize: expectedSize) }
        }
        return try result.get()
    }

    private static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
        return String(cString: name)
    }
}
