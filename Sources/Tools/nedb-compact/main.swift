import ArgumentParser
import NEDBCLI
import NEDBMaintenance

/// nedb-compact: rewrites sealed segments to bound disk use without breaking verifiability.
struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-compact",
        abstract: "Merge small sealed segments, recompress, and (only if asked) prune superseded versions.",
        discussion: """
        Record bytes are never changed, so the chain, the Merkle tree, old signed checkpoints and existing proofs stay valid. With --retain-from SEQ, document versions superseded before SEQ are replaced by pruned records that keep their hash (their content is gone; AS OF reads at or after SEQ answer as before), versions named in a caused_by are kept, and a compaction record stating SEQ is appended. The store must be stopped (compaction takes its lock). New segments are written to segments.next/ and switched in atomically: a crash leaves either the old or the new segments.

        Exit codes: 0 done (or nothing to do); 1 the store does not verify, so nothing was done; 2 usage error; 3 I/O or key error.

        Examples:
          nedb-compact ./data --dry-run
          nedb-compact ./data --target-size 64MiB --compress
          nedb-compact ./data --retain-from 1000000 --key-file master.key
        """)

    @Argument(help: "The store directory (stopped).") var directory: String
    @Option(help: "Merge consecutive sealed segments up to this size (bytes, or with KiB/MiB/GiB).") var targetSize: String = "64MiB"
    @Flag(help: "Write every sealed segment zstd-compressed.") var compress = false
    @Option(help: "Prune versions superseded before this seq (destroys their content; hashes are kept).") var retainFrom: UInt64?
    @Flag(help: "Print the plan; change nothing.") var dryRun = false
    @Flag(help: "Machine output.") var json = false
    @OptionGroup var keys: KeyOptions

    var targetBytes: UInt64 {
        let t = targetSize.uppercased()
        for (suffix, shift) in [("KIB", 10), ("MIB", 20), ("GIB", 30), ("K", 10), ("M", 20), ("G", 30)] where t.hasSuffix(suffix) {
            if let n = UInt64(t.dropLast(suffix.count)) { return n << UInt64(shift) }
        }
        return UInt64(t) ?? 0
    }

    func validate() throws {
        if targetBytes == 0 { throw ValidationError("--target-size must be a size such as 64MiB") }
    }

    func run() throws {
        var options = Compaction.Options()
        options.targetSegmentBytes = targetBytes
        options.compress = compress
        options.retainFrom = retainFrom
        options.key = keys.source
        do {
            if dryRun {
                let plan = try Compaction.plan(directory, options: options)
                describe(groups: plan.groups, pruned: plan.pruned)
                return
            }
            let result = try Compaction.run(directory, options: options)
            let report = result.verification
            if json {
                Output.json(.object(["ok": .bool(report.ok), "segments_before": .number(Double(result.segmentsBefore)),
                                     "segments_after": .number(Double(result.segmentsAfter)), "bytes_before": .number(Double(result.bytesBefore)),
                                     "bytes_after": .number(Double(result.bytesAfter)), "pruned": .number(Double(result.pruned)),
                                     "issues": .array(report.issues.map(ReportJSON.issue))]))
            } else {
                Output.line("compacted: \(result.segmentsBefore) → \(result.segmentsAfter) segments, \(result.bytesBefore) → \(result.bytesAfter) bytes, \(result.pruned) versions pruned; \(report.ok ? "the store verifies" : "VERIFY FAILED")")
            }
            if !report.ok { throw ExitCode(ToolExit.problem.rawValue) }
        } catch let e as MaintenanceError {
            switch e {
            case .doesNotVerify: throw ToolFailure(.problem, e.description)
            case let .store(s) where s.isDamage: throw ToolFailure(.problem, e.description)
            default: throw ToolFailure(.environment, e.description)
            }
        }
    }

    func describe(groups: [(names: [String], bytes: UInt64)], pruned: Int) {
        if json && dryRun {
            Output.json(.object(["dry_run": true, "groups": .array(groups.map { .array($0.names.map { .string($0) }) }),
                                 "prune": .number(Double(pruned))]))
            return
        }
        guard !json else { return }
        for g in groups where g.names.count > 1 {
            Output.line("merge \(g.names.count) segments (\(g.bytes) bytes): \(g.names.first ?? "") … \(g.names.last ?? "")")
        }
        if compress { Output.line("write every sealed segment compressed") }
        if pruned > 0 { Output.line("prune \(pruned) superseded versions (their hashes stay; their content is removed)") }
        if dryRun { Output.line("dry run: nothing changed") }
    }
}

Compact.runAsTool()
