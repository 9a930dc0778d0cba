#if canImport(Glibc)
import Glibc
#endif
import NEDBFormat

/// Turns a `KeySource` into the master key of a store (for the store, and for tools that read
/// store files directly).
public enum KeyResolver {
    /// The master key for an existing key file.
    public static func masterKey(_ source: KeySource, keyFile: KeyFile, fs: FileSystem) throws(StoreError) -> MasterKey {
        do {
            switch source {
            case let .passphrase(text):
                return try MasterKey.forKeyFile(keyFile, passphrase: text)
            default:
                return try MasterKey(raw: try rawKey(source, fs: fs))
            }
        } catch let e as FormatError {
            throw .damaged(e)
        } catch let e as StoreError {
            throw e
        } catch {
            throw .damaged(.wrongKey(Location(), detail: "\(error)"))
        }
    }

    /// A master key for a new store.
    static func newMasterKey(_ source: KeySource, options: StoreOptions) throws(StoreError) -> MasterKey {
        do {
            switch source {
            case let .passphrase(text):
                return try MasterKey(passphrase: text, opsLimit: options.argon2OpsLimit, memLimit: options.argon2MemLimit)
            default:
                return try MasterKey(raw: try rawKey(source, fs: options.fileSystem))
            }
        } catch let e as FormatError {
            throw .damaged(e)
        } catch let e as StoreError {
            throw e
        } catch {
            throw .damaged(.wrongKey(Location(), detail: "\(error)"))
        }
    }

    static func rawKey(_ source: KeySource, fs: FileSystem) throws(StoreError) -> [UInt8] {
        do {
            switch source {
            case let .raw(bytes): return bytes
            case let .keyFile(path):
                let text: [UInt8]
                do { text = try fs.readAll(path) } catch {
                    throw StoreError.damaged(.wrongKey(Location(file: path), detail: "cannot read the key file: \(error.message)"))
                }
                // Key files are text (§12.1); 32 raw bytes are refused rather than guessed at.
                guard let string = String(validating: text, as: UTF8.self) else {
                    throw StoreError.damaged(.wrongKey(Location(file: path), detail:
                        "the key file is not text: write the 32-byte key as 64 hex digits or base64 (e.g. `xxd -p -c 32 FILE`)"))
                }
                do { return try MasterKey.parseKeyText(string) } catch {
                    throw StoreError.damaged(.wrongKey(Location(file: path), detail: error.detail))
                }
            case let .environment(name):
                guard let value = getenv(name) else {
                    throw StoreError.damaged(.wrongKey(Location(), detail: "environment variable \(name) is not set"))
                }
                return try MasterKey.parseKeyText(String(cString: value))
            case .passphrase:
                throw StoreError.damaged(.wrongKey(Location(), detail: "a passphrase has no raw key"))
            }
        } catch let e as StoreError {
            throw e
        } catch let e as FormatError {
            throw .damaged(e)
        } catch {
            throw .damaged(.wrongKey(Location(), detail: "\(error)"))
        }
    }
}
