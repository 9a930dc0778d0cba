#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// Writing to stdout and stderr, JSON rendering, and TTY-only progress.
public enum Output {
    public static func line(_ text: String) {
        print(text)
    }

    /// A message on stderr (a newline is added unless `newline` is false).
    public static func error(_ text: String, newline: Bool = true) {
        let bytes = Array((newline && !text.hasSuffix("\n") ? text + "\n" : text).utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// One JSON value on stdout: canonical (one line) or indented.
    public static func json(_ value: JSONValue, pretty: Bool = true) {
        print(pretty ? PrettyPrinter.render(value) : value.canonicalText)
    }

    public static var stderrIsTerminal: Bool { isatty(2) != 0 }
    public static var stdoutIsTerminal: Bool { isatty(1) != 0 }
}

/// Progress on stderr, only when stderr is a terminal, at most ten times a second.
public final class Progress: @unchecked Sendable {
    /// What `done` and `total` count.
    public enum Unit: Sendable { case bytes, records }

    private let label: String
    private let unit: Unit
    private let enabled: Bool
    private let lock = PthreadMutex()
    private var lastDraw = 0.0
    private var drew = false

    public init(_ label: String, unit: Unit = .bytes, enabled: Bool = Output.stderrIsTerminal) {
        self.label = label
        self.unit = unit
        self.enabled = enabled
    }

    public func update(done: UInt64, total: UInt64) {
        guard enabled else { return }
        lock.locked {
            let now = Clock.now()
            guard now - lastDraw >= 0.1 || done >= total else { return }
            lastDraw = now
            drew = true
            let pct = total == 0 ? 100 : Int(Double(done) / Double(total) * 100)
            let amount = unit == .bytes ? "\(done >> 20) of \(total >> 20) MiB" : "\(done) of \(total) records"
            Output.error("\r\(label) \(pct)% (\(amount))\u{1B}[K", newline: false)
        }
    }

    public func finish() {
        guard enabled else { return }
        lock.locked { if drew { Output.error("\r\u{1B}[K", newline: false) } }
    }
}

/// Indented, key-sorted JSON for humans.
public enum PrettyPrinter {
    public static func render(_ value: JSONValue, indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1), close = String(repeating: "  ", count: indent)
        switch value {
        case let .array(items) where !items.isEmpty:
            return "[\n" + items.map { pad + render($0, indent: indent + 1) }.joined(separator: ",\n") + "\n" + close + "]"
        case let .object(members) where !members.isEmpty:
            let keys = members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            return "{\n" + keys.map { pad + JSONValue.string($0).canonicalText + ": " + render(members[$0]!, indent: indent + 1) }
                .joined(separator: ",\n") + "\n" + close + "}"
        default:
            return value.canonicalText
        }
    }
}
