import ArgumentParser
import NEDBFormat
import NEDBStore

/// How tools get the master key of an encrypted store (shared by every tool).
public struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: "File holding the master key (64 hex digits or base64 of 32 bytes).")
    public var keyFile: String?

    @Option(name: .customLong("key-env"), help: "Environment variable holding the master key (default: NEDB_KEY when set).")
    public var keyEnv: String?

    @Option(name: .customLong("passphrase-env"), help: "Environment variable holding a passphrase (Argon2id-derived master key).")
    public var passphraseEnv: String?

    public init() {}

    /// The key source, if any was given (NEDB_KEY and NEDB_PASSPHRASE are used when set).
    public var source: KeySource? {
        if let keyFile { return .keyFile(keyFile) }
        if let keyEnv { return .environment(keyEnv) }
        if let passphraseEnv, let value = Environment.get(passphraseEnv) { return .passphrase(value) }
        if Environment.get("NEDB_KEY") != nil { return .environment("NEDB_KEY") }
        if let value = Environment.get("NEDB_PASSPHRASE") { return .passphrase(value) }
        return nil
    }

    /// The unwrapped data keys of the store in `directory`, or nil for an unencrypted store or
    /// when no key was given. A wrong key is an error (exit 3).
    public func keyring(for directory: String, fs: FileSystem = PosixFileSystem()) throws -> Keyring? {
        let layout = StoreLayout(root: directory)
        guard fs.exists(layout.keys), let source else { return nil }
        do {
            let file = try KeyFile.decode(try fs.readAll(layout.keys), file: layout.keys)
            let master = try KeyResolver.masterKey(source, keyFile: file, fs: fs)
            return try file.unwrapAll(tmk: master.key, file: layout.keys)
        } catch let e as StoreError {
            throw ToolFailure(.environment, e.description)
        } catch let e as FormatError {
            throw ToolFailure(.environment, e.description)
        } catch let e as SystemError {
            throw ToolFailure(.environment, e.description)
        }
    }
}

/// Environment variables.
public enum Environment {
    public static func get(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

#if canImport(Glibc)
import Glibc
#endif
