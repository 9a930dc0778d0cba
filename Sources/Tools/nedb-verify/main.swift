import ArgumentParser
import Dispatch
import NEDBCLI
import NEDBFormat
import NEDBState
import NEDBStore

/// nedb-verify: checks a store directory offline (spec/FORMAT.md §14).
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-verify",
        abstract: "Verify a NEDB store: framing, checksums, hash chain, Merkle tree, footers, manifest, checkpoints.",
        discussion: """
        Full mode (the default) re-hashes every record, recomputes every Merkle root and compares every
        checkpoint with a replay of the log. --quick checks framing, CRCs, chain links and footers only.
        Without a key an encrypted store is verified structurally (chain and Merkle tree over the
        ciphertext); with a key every record is also decrypted and checked.

        Exit codes: 0 the store verifies; 1 problems were found; 2 usage error; 3 I/O or key error.

        Examples:
          nedb-verify ./data
          nedb-verify ./data --quick --json
          nedb-verify ./data --key-file master.key
          nedb-verify ./data --since published.checkpoint --pubkey prover.pub
        """)

    @Argument(help: "The store directory.")
    var directory: String

    @Flag(help: "Quick mode: framing, CRCs, chain links between records and segments, footers, manifest.")
    var quick = false

    @Flag(help: "Also decode every record and check documents are canonical JSON objects.")
    var documents = false

    @Flag(help: "Machine output: one JSON object (schema in README).")
    var json = false

    @Option(help: "Report at most this many problems.")
    var maxIssues: Int = 100

    @Option(help: "Segments verified in parallel (default: all cores).")
    var jobs: Int?

    @Flag(help: "Do not check checkpoints.")
    var noCheckpoints = false

    @Option(help: "A signed checkpoint published earlier: prove the store is an append-only extension of it.")
    var since: String?

    @Option(help: "The verifier key (name+hash+base64) that signed the --since checkpoint.")
    var pubkey: String?

    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if since != nil && pubkey == nil { throw ValidationError("--since needs --pubkey") }
        if maxIssues < 1 { throw ValidationError("--max-issues must be at least 1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let fs = PosixFileSystem()
        guard fs.isDirectory(directory) else { throw ToolFailure(.environment, "\(directory): no such directory") }
        let keyring = try keys.keyring(for: directory, fs: fs)
        var options = VerifyOptions(mode: quick ? .quick : .full)
        options.keyring = keyring
        options.checkDocuments = documents || keyring != nil
        options.maxIssues = maxIssues
        options.parallelism = jobs ?? max(1, Int(System.coreCount))
        options.checkCheckpoints = !noCheckpoints
        let progress = Progress("verifying")
        options.progress = { done, total in progress.update(done: done, total: total) }
        let comparer = CheckpointComparer(directory: directory, keys: keys)
        if !quick { options.checkpointState = { header, payload, path in comparer.compare(header, payload, path) } }
        let report = StoreVerifier.verify(directory: directory, fs: fs, options: options)
        progress.finish()
        var sinceResult: SinceResult? = nil
        if let since, let pubkey {
            sinceResult = try SinceCheck.run(noteFile: since, pubkeyText: pubkey, directory: directory, report: report)
        }
        let environmentOnly = !report.issues.isEmpty && report.issues.allSatisfy { $0.verdict == .environment }
        let ok = report.ok && (sinceResult?.ok ?? true)
        if json {
            var o: [String: JSONValue] = [
                "ok": .bool(ok),
                "mode": .string(report.mode.rawValue),
                "verdict": .string(ok ? "ok" : (report.verdicts.first?.rawValue ?? "extension_mismatch")),
                "verdicts": .array((report.verdicts.map(\.rawValue) + (sinceResult?.ok == false ? ["extension_mismatch"] : [])).map { .string($0) }),
                "records": .number(Double(report.records)),
                "bytes": .number(Double(report.bytes)),
                "pruned_records": .number(Double(report.prunedRecords)),
                "decrypted": .bool(report.decrypted),
                "encrypted": .bool(report.encrypted),
                "issues": .array(report.issues.map(ReportJSON.issue)),
                "notes": .array(report.notes.map(ReportJSON.issue)),
                "omitted_issues": .number(Double(report.omittedIssues)),
                "segments": .array(report.segments.map { s in
                    .object(["name": .string(s.name), "first_seq": s.firstSeq.map { .number(Double($0)) } ?? .null,
                             "last_seq": s.lastSeq.map { .number(Double($0)) } ?? .null, "records": .number(Double(s.records)),
                             "sealed": .bool(s.sealed), "compressed": .bool(s.compressed), "bytes": .number(Double(s.fileSize))])
                }),
                "checkpoints": .array(report.checkpoints.map { c in
                    .object(["name": .string(c.name), "seq": c.seq.map { .number(Double($0)) } ?? .null, "valid": .bool(c.valid)])
                }),
            ]
            if let head = report.head { o["head"] = ReportJSON.head(head) }
            if let storeId = report.storeId { o["store_id"] = .string(storeId.hex) }
            if let s = sinceResult { o["since"] = s.json }
            Output.json(.object(o))
        } else {
            for issue in report.issues { Output.line(ReportJSON.line(issue)) }
            for note in report.notes { Output.line("note: " + ReportJSON.line(note)) }
            if report.omittedIssues > 0 { Output.line("… and \(report.omittedIssues) more problems (raise --max-issues)") }
            if let s = sinceResult { Output.line(s.message) }
            let what = "\(report.records) records in \(report.segments.count) segments, \(report.bytes) bytes"
                + (report.encrypted ? (report.decrypted ? ", decrypted" : ", encrypted (structure only: give a key to decrypt)") : "")
            if ok {
                Output.line("ok: \(what) (\(report.mode.rawValue) verification)")
            } else {
                let verdicts = report.verdicts.map(\.rawValue) + (sinceResult?.ok == false ? ["extension_mismatch"] : [])
                Output.line("FAILED: \(verdicts.joined(separator: ", ")) — \(what)")
            }
            if let head = report.head {
                Output.line("\(ok ? "head" : "verified prefix ends at"): seq \(head.seq), chain \(head.chain.hex), root \(head.root.hex)")
            }
        }
        if !ok { throw ExitCode(environmentOnly ? ToolExit.environment.rawValue : ToolExit.problem.rawValue) }
    }
}

/// Compares checkpoints with a replay of the log (in seq order, replaying incrementally).
final class CheckpointComparer: @unchecked Sendable {
    let directory: String
    let keys: KeyOptions
    var store: LogStore?
    var state: DatabaseState?
    var failure: String?

    init(directory: String, keys: KeyOptions) {
        self.directory = directory
        self.keys = keys
    }

    func compare(_ header: CheckpointHeader, _ payload: [UInt8], _ path: String) -> FormatError? {
        let at = Location(file: path, seq: header.seq)
        do {
            if store == nil {
                var options = StoreOptions()
                options.readOnly = true
                options.key = keys.source
                store = try LogStore.open(directory, options: options)
                state = try DatabaseState()
            }
            guard let store, let state else { return nil }
            let decoded = try CheckpointContainer.openPayload(payload, header: header, keyring: store.dataKeys, file: path)
            let fromCheckpoint = try StateLoader.digest(try DatabaseState(base: try StateSnapshot(payload: decoded)))
            var report = LoadReport()
            let from = state.lastSeq.map { $0 + 1 } ?? 0
            if header.seq + 1 > from { try StateLoader.replay(store: store, into: state, from: from, through: header.seq, report: &report) }
            guard state.lastSeq == header.seq else { return nil }
            let replayed = try StateLoader.digest(state)
            if replayed != fromCheckpoint {
                return .checkpointMismatch(at, detail: "the checkpoint's state differs from a replay of the log to seq \(header.seq)")
            }
            return nil
        } catch let e as FormatError where e.id == "wrong_key" {
            return nil      // without a key an encrypted checkpoint's state cannot be compared
        } catch let e as StoreError where e.id == "key_required" {
            return nil
        } catch {
            // The log itself is damaged: its own problems are reported by the segment checks.
            return nil
        }
    }
}

struct SinceResult {
    var ok: Bool
    var message: String
    var json: JSONValue
}

/// --since: the published checkpoint must be signed by the key, and the store's tree at that
/// size must have the published root (checked directly and by an RFC 9162 consistency proof).
enum SinceCheck {
    static func run(noteFile: String, pubkeyText: String, directory: String, report: VerifyReport) throws -> SinceResult {
        let fs = PosixFileSystem()
        let text: String
        let keyText: String
        do {
            text = String(decoding: try fs.readAll(noteFile), as: UTF8.self)
            keyText = fs.exists(pubkeyText) ? String(decoding: try fs.readAll(pubkeyText), as: UTF8.self) : pubkeyText
        } catch { throw ToolFailure(.environment, "\(error)") }
        func fail(_ why: String) -> SinceResult {
            SinceResult(ok: false, message: "NOT an extension of \(noteFile): \(why)",
                        json: .object(["ok": false, "reason": .string(why)]))
        }
        let verifier: NoteVerifier
        let note: SignedNote
        let checkpoint: TreeCheckpoint
        do {
            verifier = try NoteVerifier(encoded: keyText)
            note = try SignedNote.parse(text)
            checkpoint = try TreeCheckpoint.parse(note.text)
        } catch { throw ToolFailure(.usage, "\(noteFile): \(error)") }
        guard note.isSigned(by: verifier) else { return fail("the checkpoint is not signed by \(verifier.name)") }
        guard let head = report.head else { return fail("the store has no verified head") }
        guard checkpoint.size <= head.treeSize else {
            return fail("the published tree has \(checkpoint.size) records, the store only \(head.treeSize)")
        }
        var options = StoreOptions()
        options.readOnly = true
        let store: LogStore
        do { store = try LogStore.open(directory, options: options) } catch { return fail("cannot open the store: \(error)") }
        do {
            let root = try store.rootHash(size: checkpoint.size)
            guard root == checkpoint.root else { return fail("the store's root at size \(checkpoint.size) is \(root.hex), the checkpoint says \(checkpoint.root.hex)") }
            let proof = try store.consistencyProof(oldSize: checkpoint.size, newSize: head.treeSize)
            guard MerkleVerifier.verifyConsistency(hasher: MerkleHasher(store.hashAlgorithm), oldSize: checkpoint.size,
                                                   newSize: head.treeSize, oldRoot: checkpoint.root, newRoot: head.root, proof: proof) else {
                return fail("the consistency proof does not verify")
            }
            return SinceResult(ok: true, message: "extends the published checkpoint (size \(checkpoint.size)) to size \(head.treeSize): consistency proof of \(proof.count) hashes verified",
                               json: .object(["ok": true, "old_size": .number(Double(checkpoint.size)), "new_size": .number(Double(head.treeSize)),
                                              "proof": .array(proof.map { .string(Base64.encode($0.bytes)) })]))
        } catch {
            return fail("\(error)")
        }
    }
}

enum System {
    static var coreCount: Int32 { Int32(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

#if canImport(Glibc)
import Glibc
#endif

Verify.runAsTool()
