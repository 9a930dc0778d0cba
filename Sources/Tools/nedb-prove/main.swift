#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NEDBCLI
import NEDBFormat
import NEDBState
import NEDBStore

/// nedb-prove: proofs a third party checks with nothing but a public key (spec/PROOFS.md).
struct Prove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-prove",
        abstract: "Produce and verify offline proofs: a document's value at a seq, signed checkpoints, consistency.",
        discussion: "Exit codes: 0 ok (for verify: the proof verifies); 1 the proof does not verify or the document is absent; 2 usage error; 3 I/O or key error.",
        subcommands: [Document.self, Verify.self, Keygen.self, Checkpoint.self, Consistency.self],
        defaultSubcommand: Document.self)

    static func loadSigner(_ path: String) throws -> NoteSigner {
        do { return try NoteSigner(encoded: String(decoding: try PosixFileSystem().readAll(path), as: UTF8.self)) } catch let e as SystemError {
            throw ToolFailure(.environment, e.description)
        } catch {
            throw ToolFailure(.environment, "\(path): \(error)")
        }
    }

    static func loadVerifier(_ text: String) throws -> NoteVerifier {
        let fs = PosixFileSystem()
        let keyText = fs.exists(text) ? String(decoding: (try? fs.readAll(text)) ?? [], as: UTF8.self) : text
        do { return try NoteVerifier(encoded: keyText) } catch { throw ToolFailure(.usage, "--pubkey: \(error)") }
    }

    static func write(_ text: String, to path: String?) throws {
        guard let path else {
            print(text, terminator: "")
            return
        }
        do { try PosixFileSystem().writeAtomically(Array(text.utf8), to: path) } catch { throw ToolFailure(.environment, error.description) }
    }

    static func openStore(_ directory: String, keys: KeyOptions) throws -> LogStore {
        var options = StoreOptions()
        options.readOnly = true
        options.key = keys.source
        do { return try LogStore.open(directory, options: options) } catch {
            throw ToolFailure(error.id == "damaged" || error.id.hasSuffix("_mismatch") ? .problem : .environment, error.description)
        }
    }
}

extension Prove {
    struct Document: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "document",
            abstract: "Prove that document COLL:ID had a value at seq N.",
            discussion: """
            The proof holds the document's latest version at or before N, the records after it up to N (showing none changed it), an RFC 9162 inclusion proof and a checkpoint signed with --sign-key. For an encrypted store it discloses that one record with its per-record key.

            Examples:
              nedb-prove ./data --doc users:alice --seq 42 --sign-key prover.key --out alice-42.proof
              nedb-prove verify alice-42.proof --pubkey prover.key.pub
            """)

        @Argument(help: "The store directory.") var directory: String
        @Option(help: "The document, as COLLECTION:ID.") var doc: String
        @Option(help: "The seq the claim is about (default: the head).") var seq: UInt64?
        @Option(help: "The signing key written by `nedb-prove keygen`.") var signKey: String
        @Option(help: "Write the proof here (default: stdout).") var out: String?
        @Flag(help: "Prove only the version itself, not that it was still current at --seq.") var written = false
        @Option(help: "Refuse to include more than this many following records.") var maxFollowing = 10_000
        @OptionGroup var keys: KeyOptions

        func validate() throws {
            guard let colon = doc.firstIndex(of: ":"), colon != doc.startIndex, doc.index(after: colon) != doc.endIndex else {
                throw ValidationError("--doc must be COLLECTION:ID")
            }
        }

        func run() throws {
            let signer = try Prove.loadSigner(signKey)
            let store = try Prove.openStore(directory, keys: keys)
            let (state, _) = try StateLoader.load(store: store)
            guard let colon = doc.firstIndex(of: ":") else { throw ValidationError("--doc must be COLLECTION:ID") }
            let proof: ProofFile
            do {
                proof = try ProofBuilder.recordProof(store: store, state: state, collection: String(doc[..<colon]),
                                                     id: String(doc[doc.index(after: colon)...]), asOf: seq ?? store.lastSeq,
                                                     signers: [signer], writtenOnly: written, maxFollowing: maxFollowing)
            } catch let e as ProofBuilder.Failure {
                throw ToolFailure(.problem, e.description)
            }
            try Prove.write(proof.encoded, to: out)
            if let out { Output.error("wrote \(out): \(doc) at seq \(proof.seq), shown unchanged through seq \(proof.asOf), \(proof.path.count) path hashes") }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a proof file with nothing but the signer's public key.",
            discussion: "Example: nedb-prove verify alice-42.proof --pubkey prover.key.pub --json")

        @Argument(help: "The proof file.") var proof: String
        @Option(help: "The verifier key (name+hash+base64), or a file holding it.") var pubkey: String
        @Flag(help: "Machine output.") var json = false

        func run() throws {
            let verifier = try Prove.loadVerifier(pubkey)
            let text: String
            do { text = String(decoding: try PosixFileSystem().readAll(proof), as: UTF8.self) } catch {
                throw ToolFailure(.environment, error.description)
            }
            let parsed: ProofFile
            do { parsed = try ProofFile.parse(text) } catch {
                report(false, ["reason": .string(error.detail)], "INVALID: \(error.detail)")
                throw ExitCode(ToolExit.problem.rawValue)
            }
            do {
                switch parsed.kind {
                case .record:
                    let proven = try parsed.verifyRecord(verifier: verifier)
                    let r = proven.record
                    var fields: [String: JSONValue] = [
                        "kind": "record", "document": .string(parsed.document ?? ""), "seq": .number(Double(r.seq)),
                        "unchanged_through": .number(Double(proven.unchangedThrough)),
                        "deleted": .bool(r.type == .delete), "time": .string(Timestamp.format(r.time)),
                        "tree_size": .number(Double(proven.checkpoint.size)), "root": .string(proven.checkpoint.root.hex),
                        "origin": .string(proven.checkpoint.origin),
                    ]
                    if let d = r.document, let v = try? JSONParser.parse(d) { fields["value"] = v }
                    let what = r.type == .delete ? "was deleted" : "= \(r.document.map { String(decoding: $0, as: UTF8.self) } ?? "")"
                    report(true, fields, "VALID: \(parsed.document ?? "") \(what) at seq \(r.seq), unchanged through seq \(proven.unchangedThrough); signed by \(verifier.name) for tree size \(proven.checkpoint.size)")
                case .consistency:
                    let (old, new) = try parsed.verifyConsistency(verifier: verifier)
                    report(true, ["kind": "consistency", "old_size": .number(Double(old.size)), "new_size": .number(Double(new.size))],
                           "VALID: tree size \(new.size) extends tree size \(old.size) (\(parsed.path.count) hashes), signed by \(verifier.name)")
                }
            } catch {
                report(false, ["reason": .string(error.reason)], "INVALID: \(error.reason)")
                throw ExitCode(ToolExit.problem.rawValue)
            }
        }

        func report(_ ok: Bool, _ fields: [String: JSONValue], _ line: String) {
            if json {
                var o = fields
                o["valid"] = .bool(ok)
                Output.json(.object(o))
            } else {
                Output.line(line)
            }
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an Ed25519 signing key to FILE and its verifier key to FILE.pub.",
            discussion: "Example: nedb-prove keygen --out prover.key --name example.org/nedb")

        @Option(help: "Where to write the signing key (FILE.pub gets the public key).") var out: String
        @Option(help: "The key name that appears in signatures.") var name = "nedb-prover"

        func run() throws {
            guard NoteKeys.isValidName(name) else { throw ValidationError("--name must not contain spaces or '+'") }
            let signer = try NoteSigner.generate(name: name)
            let fs = PosixFileSystem()
            guard !fs.exists(out) else { throw ToolFailure(.environment, "\(out) exists: refusing to overwrite a key") }
            do {
                let f = try fs.openForWriting(out, create: true)
                fchmodFile(out)
                try f.write(Array((signer.encoded + "\n").utf8), at: 0)
                try f.sync()
                f.close()
                try fs.writeAtomically(Array((signer.verifier.encoded + "\n").utf8), to: out + ".pub")
            } catch { throw ToolFailure(.environment, error.description) }
            Output.line(signer.verifier.encoded)
        }

        func fchmodFile(_ path: String) { _ = chmod(path, 0o600) }
    }

    struct Checkpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign and print the store's current head as a C2SP checkpoint (to publish, or for nedb-verify --since).",
            discussion: "Example: nedb-prove checkpoint ./data --sign-key prover.key --out head.checkpoint")

        @Argument(help: "The store directory.") var directory: String
        @Option(help: "The signing key.") var signKey: String
        @Option(help: "Write the checkpoint here (default: stdout).") var out: String?
        @OptionGroup var keys: KeyOptions

        func run() throws {
            let signer = try Prove.loadSigner(signKey)
            let store = try Prove.openStore(directory, keys: keys)
            try Prove.write(try ProofBuilder.signedCheckpoint(store: store, signers: [signer]), to: out)
        }
    }

    struct Consistency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove that the store's current tree extends an earlier signed checkpoint.",
            discussion: "Example: nedb-prove consistency ./data --from head-monday.checkpoint --sign-key prover.key --out extends.proof")

        @Argument(help: "The store directory.") var directory: String
        @Option(help: "The earlier signed checkpoint.") var from: String
        @Option(help: "The signing key.") var signKey: String
        @Option(help: "Write the proof here (default: stdout).") var out: String?
        @OptionGroup var keys: KeyOptions

        func run() throws {
            let signer = try Prove.loadSigner(signKey)
            let store = try Prove.openStore(directory, keys: keys)
            let old: String
            do { old = String(decoding: try PosixFileSystem().readAll(from), as: UTF8.self) } catch { throw ToolFailure(.environment, error.description) }
            do {
                try Prove.write(try ProofBuilder.consistencyProof(store: store, oldNote: old, signers: [signer]).encoded, to: out)
            } catch let e as ProofBuilder.Failure {
                throw ToolFailure(.problem, e.description)
            } catch let e as FormatError {
                throw ToolFailure(.usage, "\(from): \(e.detail)")
            }
        }
    }
}

Prove.runAsTool()
