#if canImport(Glibc)
import Glibc
#endif
import NEDB

/// A small line editor for the shell: on a terminal it edits in raw mode (←/→, Home/End,
/// Ctrl-A/E/U/K/W, backspace, ↑/↓ through history, Ctrl-C clears, Ctrl-D on an empty line ends);
/// otherwise it reads plain lines. History persists in a file, newest last.
final class LineEditor {
    private(set) var history: [String] = []
    private let historyFile: String?
    private let interactive = isatty(0) != 0 && isatty(1) != 0
    static let historyLimit = 1000

    init(historyFile: String?) {
        self.historyFile = historyFile
        if let historyFile, let text = try? String(decoding: PosixFileSystem().readAll(historyFile), as: UTF8.self) {
            history = text.split(separator: "\n").map(String.init).suffix(LineEditor.historyLimit).map { $0 }
        }
    }

    /// The next line, or nil at end of input.
    func readLine(prompt: String) -> String? {
        guard interactive else { return Swift.readLine(strippingNewline: true) }
        var saved = termios()
        tcgetattr(0, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        tcsetattr(0, TCSAFLUSH, &raw)
        defer { tcsetattr(0, TCSAFLUSH, &saved) }
        return edit(prompt: prompt)
    }

    /// Adds a line to the history (and its file), skipping blanks and repeats.
    func remember(_ line: String) {
        guard !line.allSatisfy(\.isWhitespace), history.last != line else { return }
        history.append(line)
        if history.count > LineEditor.historyLimit { history.removeFirst(history.count - LineEditor.historyLimit) }
        guard let historyFile else { return }
        let fd = open(historyFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func edit(prompt: String) -> String? {
        var line: [Character] = []
        var cursor = 0
        var browsing = history.count
        var pending: [UInt8] = []
        func redraw() {
            let tail = line.count - cursor
            emit("\r" + prompt + String(line) + "\u{1B}[K" + (tail > 0 ? "\u{1B}[\(tail)D" : ""))
        }
        emit(prompt)
        while true {
            guard let byte = readByte() else { return line.isEmpty ? nil : String(line) }
            switch byte {
            case 0x0D, 0x0A:
                emit("\r\n")
                return String(line)
            case 0x04:
                if line.isEmpty { emit("\r\n"); return nil }
                if cursor < line.count { line.remove(at: cursor) }
            case 0x03:
                emit("^C\r\n")
                line = []; cursor = 0; browsing = history.count
                emit(prompt)
                continue
            case 0x7F, 0x08:
                if cursor > 0 { line.remove(at: cursor - 1); cursor -= 1 }
            case 0x01: cursor = 0
            case 0x05: cursor = line.count
            case 0x0B: line.removeSubrange(cursor...)
            case 0x15: line.removeSubrange(..<cursor); cursor = 0
            case 0x17:
                var start = cursor
                while start > 0 && line[start - 1] == " " { start -= 1 }
                while start > 0 && line[start - 1] != " " { start -= 1 }
                line.removeSubrange(start..<cursor); cursor = start
            case 0x1B:
                guard let b1 = readByte(), b1 == UInt8(ascii: "[") || b1 == UInt8(ascii: "O"), let b2 = readByte() else { continue }
                switch b2 {
                case UInt8(ascii: "A"), UInt8(ascii: "B"):
                    let next = b2 == UInt8(ascii: "A") ? browsing - 1 : browsing + 1
                    guard next >= 0 && next <= history.count else { continue }
                    browsing = next
                    line = next == history.count ? [] : Array(history[next])
                    cursor = line.count
                case UInt8(ascii: "C"): cursor = min(line.count, cursor + 1)
                case UInt8(ascii: "D"): cursor = max(0, cursor - 1)
                case UInt8(ascii: "H"): cursor = 0
                case UInt8(ascii: "F"): cursor = line.count
                case UInt8(ascii: "3"):
                    if readByte() == UInt8(ascii: "~"), cursor < line.count { line.remove(at: cursor) }
                default: continue
                }
            default:
                guard byte >= 0x20 else { continue }
                pending.append(byte)
                // Collect a whole UTF-8 sequence before inserting it.
                let need = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                while pending.count < need, let more = readByte() { pending.append(more) }
                for c in String(decoding: pending, as: UTF8.self) { line.insert(c, at: cursor); cursor += 1 }
                pending = []
            }
            redraw()
        }
    }

    private func readByte() -> UInt8? {
        var b: UInt8 = 0
        while true {
            let n = read(0, &b, 1)
            if n == 1 { return b }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    private func emit(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}
