import ArgumentParser
import NEDBCLI

/// nedb: the command-line face of the embedded engine. Its commands, output and exit codes
/// are a stable contract (README, "The nedb command").
struct Nedb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb",
        abstract: "A verifiable, bi-temporal document database from the command line.",
        discussion: """
        Write commands create DIR when it does not exist; read commands open it read-only and work beside a running writer.
        Encrypted stores: --key-file, --key-env or --passphrase-env (or NEDB_KEY / NEDB_PASSPHRASE); a new store given a key is encrypted.

        Exit codes: 0 ok; 1 not found (get, history, delete); 2 usage error, bad JSON or bad NQL; 3 I/O, key, lock or damaged store; 4 write refused (failed precondition, stale nonce) — nothing was written.

        Examples:
          nedb demo
          nedb put ./data users alice '{"name": "Alice", "age": 31}'
          nedb get ./data users alice
          nedb query ./data 'FROM users WHERE age > 30 ORDER BY age DESC LIMIT 10'
          nedb shell ./data
        """,
        version: "1.0.0",
        subcommands: [Put.self, Get.self, QueryCommand.self, Delete.self, Link.self, Unlink.self, Index.self, History.self,
                      Head.self, Import.self, Export.self, Checkpoint.self, Status.self, Demo.self, Shell.self])
}

Nedb.runAsTool()
