import ArgumentParser
import NEDB
import NEDBCLI

/// The directory argument and key options every `nedb` subcommand takes.
struct Location: ParsableArguments {
    @Argument(help: "The database directory (write commands create it).")
    var directory: String

    @OptionGroup var keys: KeyOptions
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
                var options = DatabaseOptions()
                options.key = location.keys.source
                return Session(directory: directory, reader: try Database.open(directory, options: options))
            }
            guard fs.isDirectory(directory) else {
                throw ToolFailure(.environment, "\(directory): no such directory (write commands create it)")
            }
            return Session(directory: directory, reader: try Reader.open(directory, key: location.keys.source))
        }
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
        switch e {
        case .invalid, .query: return ToolFailure(.usage, e.description)
        case .preconditionFailed: return ToolFailure(.rejected, e.description)
        case .store(.staleNonce): return ToolFailure(.rejected, e.description + " (nothing was written)")
        case .store, .state, .readOnly: return ToolFailure(.environment, e.description)
        }
    }
}
