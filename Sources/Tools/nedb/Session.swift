import ArgumentParser
import NEDB
import NEDBCLI

/// The directory argument and key options every `nedb` subcommand takes.
struct Location: ParsableArguments {
    @Argument(help: "The database directory (write commands create it).")
    var directory: String

    @OptionGroup var keys: KeyOptions

    @Flag(name: .customLong("allow-damaged"),
          help: "Read commands: answer from the verified prefix of a damaged store (each answer then says so on stderr) instead of exiting 3.")
    var allowDamaged = false
}

/// A subcommand that works on an open database. `run()` opens it (for writing when `writes`,
/// else read-only beside any writer), executes, and closes; the shell executes many commands
/// on one session.
protocol DatabaseCommand: ParsableCommand {
    var location: Location { get }
    /// Whether the command needs the writer (and may create the directory).
    static var writes: Bool { get }
    func execute(in session: Session) throws
}

extension DatabaseCommand {
    func run() throws {
        let session = try Session.open(location, writable: Self.writes)
        defer { session.close() }
        try Session.reporting { try execute(in: session) }
    }
}

/// An open database: a `Database` when opened for writing, else a read-only `Reader`.
final class Session {
    let directory: String
    let reader: Reader

    init(directory: String, reader: Reader) {
        self.directory = directory
        self.reader = reader
    }

    /// Opens `location`. Writers create a missing directory (encrypted when a key is given);
    /// readers require an existing store.
    static func open(_ location: Location, writable: Bool) throws -> Session {
        let fs = PosixFileSystem()
        let directory = location.directory
        return try reporting {
            if writable {
                if location.allowDamaged {
                    throw ToolFailure(.usage, "--allow-damaged is for read commands: nothing is ever written to a damaged store (nedb-repair salvages it)")
                }
                var options = DatabaseOptions()
                options.key = location.keys.source
                let session = Session(directory: directory, reader: try Database.open(directory, options: options))
                session.reportCondition()
                return session
            }
            guard fs.isDirectory(directory) else {
                throw ToolFailure(.environment, "\(directory): no such directory (write commands create it)")
            }
            let session = Session(directory: directory,
                                  reader: try Reader.open(directory, key: location.keys.source, allowDamaged: location.allowDamaged))
            session.reportCondition()
            return session
        }
    }

    /// Says on stderr what the answers rest on: a damaged store's verified prefix (always), and
    /// what was tolerated (an interrupted write, derived files that were skipped).
    func reportCondition() {
        let damage = reader.damage
        if !damage.isEmpty {
            Output.error("nedb: DAMAGED store: answering from the verified prefix of the log (\(reader.store.count == 0 ? "no record" : "records 0…\(reader.seq)")); "
                         + "nedb-verify reports, nedb-repair salvages:")
            for issue in damage.prefix(10) { Output.error("  " + ReportJSON.line(issue)) }
            if damage.count > 10 { Output.error("  … and \(damage.count - 10) more") }
        }
        for note in reader.notes { Output.error("nedb: note: " + ReportJSON.line(note)) }
    }

    /// The writer; fails when the session is read-only.
    var database: Database {
        get throws {
            guard let db = reader as? Database else {
                throw ToolFailure(.environment, "\(directory) is open read-only; this command writes")
            }
            return db
        }
    }

    func close() {
        if let db = reader as? Database { try? db.close() }
    }

    /// Runs `body`, turning engine errors into tool failures with `nedb`'s exit codes.
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as DatabaseError {
            throw failure(e)
        }
    }

    static func failure(_ e: DatabaseError) -> ToolFailure {
        let base: ToolFailure
        switch e {
        case .invalid, .query: base = ToolFailure(.usage, e.description)
        case .preconditionFailed: base = ToolFailure(.rejected, e.description)
        case .store(.staleNonce): base = ToolFailure(.rejected, e.description + " (nothing was written)")
        case let .store(.damaged(issue)) where issue.verdict != .environment:
            base = ToolFailure(.environment, ReportJSON.line(issue) + "\n(the store is damaged: nedb-verify reports, nedb-repair salvages; read commands take --allow-damaged to answer from the verified prefix)")
        case .store, .state, .readOnly: base = ToolFailure(.environment, e.description)
        }
        return ToolFailure(base.code, base.message, id: e.id)
    }

}
