import ArgumentParser
import NEDB
import NEDBCLI

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive shell on one open database: NQL queries and nedb commands, with line editing and history.",
        discussion: """
        Type an NQL query (FROM …) to run it, or any nedb command without the directory:
          nedb> put users carol '{"age": 40}'
          nedb> get users carol --as-of 3
          nedb> FROM users WHERE age > 30 ORDER BY age DESC
        .help lists commands, .history shows past lines, .quit (or Ctrl-D) leaves.
        History is kept in $NEDB_HISTORY (default ~/.nedb_history). When another process holds the writer's lock the shell opens the database read-only.
        """)

    /// Commands usable inside the shell (the directory is implied).
    static let commands: [String: any DatabaseCommand.Type] = [
        "put": Put.self, "get": Get.self, "query": QueryCommand.self, "delete": Delete.self, "link": Link.self,
        "unlink": Unlink.self, "index": Index.self, "history": History.self, "head": Head.self, "import": Import.self,
        "export": Export.self, "checkpoint": Checkpoint.self, "status": Status.self,
    ]

    @OptionGroup var location: Location

    func run() throws {
        let session: Session
        do {
            session = try Session.open(location, writable: true)
        } catch let failure as ToolFailure where failure.id == "locked" {
            Output.error("note: \(failure.message); opening read-only")
            session = try Session.open(location, writable: false)
        }
        defer { session.close() }
        let home = Environment.get("HOME").map { $0 + "/.nedb_history" }
        let editor = LineEditor(historyFile: Environment.get("NEDB_HISTORY") ?? home)
        if Output.stdoutIsTerminal {
            Output.line("NEDB shell on \(location.directory) (seq \(session.reader.seq)). .help for help, .quit to leave.")
        }
        while let line = editor.readLine(prompt: "nedb> ") {
            editor.remember(line)
            let text = line.trimmedWhitespace
            if text.isEmpty || text.hasPrefix("#") { continue }
            if [".quit", ".exit", "quit", "exit"].contains(text) { break }
            do {
                try Shell.execute(text, session: session, editor: editor)
            } catch let failure as ToolFailure {
                Output.error("error: \(failure.message)")
            } catch {
                Output.error(Nedb.fullMessage(for: error))
            }
        }
    }

    /// Runs one shell line.
    static func execute(_ text: String, session: Session, editor: LineEditor) throws {
        switch text {
        case ".help", "help":
            Output.line("NQL: FROM <collection> [AS OF seq] [VALID AS OF \"date\"] [WHERE …] [SEARCH \"…\"] [TRAVERSE rel] [TRACE caused_by]")
            Output.line("     [GROUP BY f COUNT|SUM f|AVG f|MIN f|MAX f] [ORDER BY f [ASC|DESC], …] [LIMIT n] [OFFSET n]   (spec/NQL.md)")
            Output.line("commands: \(commands.keys.sorted().joined(separator: ", ")) — as `nedb <command> DIR …` without DIR; <command> --help for each")
            Output.line(".history, .quit")
            return
        case ".history":
            for (i, line) in editor.history.enumerated() { Output.line("\(i + 1)  \(line)") }
            return
        default: break
        }
        if text.uppercased().hasPrefix("FROM ") || text.uppercased() == "FROM" {
            return try run(["query", session.directory, text] + (Output.stderrIsTerminal ? ["--explain"] : []), session: session)
        }
        let words = try ShellWords.split(text)
        guard let name = words.first, commands[name] != nil else {
            throw ToolFailure(.usage, "unknown command \"\(words.first ?? text)\" (.help lists them; queries start with FROM)")
        }
        try run([name, session.directory] + words.dropFirst(), session: session)
    }

    static func run(_ arguments: [String], session: Session) throws {
        let parsed = try Nedb.parseAsRoot(arguments)
        guard let command = parsed as? any DatabaseCommand else { return }
        try Session.reporting { try command.execute(in: session) }
    }
}

/// Splits a shell line into words: whitespace separates, '…' and "…" quote, \ escapes.
enum ShellWords {
    static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character? = nil
        var escaped = false
        for c in text {
            if escaped { current.append(c); escaped = false; continue }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { current.append(c) }
                continue
            }
            if c == "\\" { escaped = true; inWord = true } else if c == "'" || c == "\"" { quote = c; inWord = true } else if c.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
            } else { current.append(c); inWord = true }
        }
        if quote != nil { throw ToolFailure(.usage, "unterminated quote") }
        if inWord { words.append(current) }
        return words
    }
}

extension String {
    var trimmedWhitespace: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
