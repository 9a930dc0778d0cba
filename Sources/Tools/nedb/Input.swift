#if canImport(Glibc)
import Glibc
#endif
import NEDB
import NEDBCLI

/// Reading command input: JSON arguments, files and stdin ("-").
enum Input {
    /// The bytes of `path`, or of stdin for "-".
    static func bytes(_ path: String) throws -> [UInt8] {
        if path == "-" { return readStandardInput() }
        do { return try PosixFileSystem().readAll(path) } catch {
            throw ToolFailure(.environment, "\(path): \(error)")
        }
    }

    /// Standard input, read once (a command checks its input before it opens the store, then
    /// uses it).
    nonisolated(unsafe) static var standardInput: [UInt8]? = nil

    static func readStandardInput() -> [UInt8] {
        if let standardInput { return standardInput }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        standardInput = out
        return out
    }

    /// Parses a JSON object given as text (or "-" for stdin); bad JSON is a usage error.
    static func json(_ text: String, what: String) throws -> JSONValue {
        let value: JSONValue
        do {
            value = text == "-" ? try JSONParser.parse(readStandardInput()) : try JSONParser.parse(text)
        } catch {
            throw ToolFailure(.usage, "\(what): \(error)")
        }
        guard case .object = value else { throw ToolFailure(.usage, "\(what) must be a JSON object") }
        return value
    }
}
