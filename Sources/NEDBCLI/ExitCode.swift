#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// The exit codes every NEDB tool uses (documented in README):
/// 0 ok, 1 a problem was found (for `nedb get`/`history`: not found), 2 usage error or bad
/// input, 3 I/O, key, lock or damaged-store error, 4 a write was refused (`nedb` only).
public enum ToolExit: Int32, Sendable {
    case ok = 0
    case problem = 1
    case usage = 2
    case environment = 3
    /// A failed precondition or a stale nonce: nothing was written.
    case rejected = 4
}

/// An error that ends a tool with a message and an exit code.
public struct ToolFailure: Error, CustomStringConvertible, Sendable {
    public let code: ToolExit
    public let message: String
    /// The stable id of the error behind it (`locked`, `hash_mismatch`, …), when there is one:
    /// what callers match on, never the message.
    public let id: String?
    public init(_ code: ToolExit, _ message: String, id: String? = nil) { self.code = code; self.message = message; self.id = id }
    public var description: String { message }
}

extension ParsableCommand {
    /// Runs the command with NEDB's exit codes: usage errors exit 2 (not ArgumentParser's 64),
    /// `ToolFailure`s exit with their code, anything else exits 3.
    public static func runAsTool() -> Never {
        // Arguments must be UTF-8: Swift would otherwise repair them with U+FFFD, and two
        // different byte strings (two ids, say) would become the same text.
        for i in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i], String(validatingCString: raw) != nil else {
                Output.error("argument \(i) is not valid UTF-8: names, ids and values are UTF-8 text")
                Glibc.exit(ToolExit.usage.rawValue)
            }
        }
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let failure as ToolFailure {
            Output.error(failure.message)
            Glibc.exit(failure.code.rawValue)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let exitCode = Self.exitCode(for: error)
            if exitCode == .success {
                print(Self.fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = Self.fullMessage(for: error)
            // ArgumentParser reports every usage error (parse or validation) as EX_USAGE (64).
            if exitCode.rawValue == 64 || error is ValidationError {
                Output.error(message)
                Glibc.exit(ToolExit.usage.rawValue)
            }
            Output.error(message)
            Glibc.exit(ToolExit.environment.rawValue)
        }
    }
}
