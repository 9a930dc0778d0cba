import ArgumentParser
import NEDBCLI
import NEDBMaintenance

/// nedb-repair: salvages a damaged store into a new directory (never in place by default).
struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-repair",
        abstract: "Salvage a damaged NEDB store into a new directory, or fix an interrupted write or stale derived files in place.",
        discussion: """
        --out copies exactly the verified prefix of the log (every record before the first problem, checked again record by record as it is copied, with the same bytes, so chain hashes, Merkle roots and proofs stay valid) into a new directory, and sets everything after it aside in --out/lost+found/ with a REPORT.txt of the seqs it held: records after a hash mismatch or a gap cannot be trusted and are never re-chained. The salvaged store verifies. The damaged original is only read.

        --in-place fixes only an interrupted write (a torn tail), stale or damaged derived files (manifest, REPLAY index, checkpoints, footers of sealed segments whose records verify), holding the store's lock and after a backup; tampering is refused. A rollback — the log lost records its MANIFEST, REPLAY or a checkpoint show it had — is accepted in place only with --accept-rollback: those files go to lost+found with a report of the seqs lost. --dry-run prints the plan and changes nothing.

        Exit codes: 0 nothing was lost; 1 records were lost or set aside, or the repair was refused (see the report); 2 usage error; 3 I/O, key or lock error.

        Examples:
          nedb-repair ./data --dry-run
          nedb-repair ./data --out ./data-salvaged
          nedb-repair ./data --in-place
          nedb-repair ./data --in-place --accept-rollback
        """)

    @Argument(help: "The damaged store directory (never modified unless --in-place).") var directory: String
    @Option(help: "Salvage into this new directory.") var out: String?
    @Flag(help: "Fix a torn tail or stale derived files in place (a backup is written first).") var inPlace = false
    @Flag(help: "With --in-place: accept that the log lost records its witnesses show it had.") var acceptRollback = false
    @Flag(help: "Print the plan; change nothing.") var dryRun = false
    @Flag(help: "Write a checkpoint of the salvaged store.") var checkpoint = false
    @Flag(help: "Machine output.") var json = false
    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if !dryRun && out == nil && !inPlace { throw ValidationError("give --out NEWDIR, --in-place or --dry-run") }
        if out != nil && inPlace { throw ValidationError("--out and --in-place exclude each other") }
        if acceptRollback && !inPlace { throw ValidationError("--accept-rollback goes with --in-place (--out never keeps what was lost)") }
    }

    func run() throws {
        var options = Repair.Options()
        options.key = keys.source
        options.acceptRollback = acceptRollback
        options.checkpoint = checkpoint
        do {
            let plan = try Repair.plan(directory, options: options)
            var lines = describe(plan)
            var o = planJSON(plan)
            if dryRun {
                finish(lines, o)
                return
            }
            var ok = true
            if inPlace {
                let r = try Repair.inPlace(directory, plan: plan, options: options)
                ok = r.verification.ok
                for b in r.backups { Output.error("backup: \(b)") }
                for s in r.setAside { lines.append("set aside: \(s)") }
                lines.append(ok ? "repaired: the store verifies (head seq \(r.verification.head?.seq ?? 0))"
                                : "still damaged: \(r.verification.issues.map(ReportJSON.line).joined(separator: "; "))")
                o["repaired"] = .bool(ok)
                o["set_aside_files"] = .array(r.setAside.map { .string($0) })
                o["verification"] = .array(r.verification.issues.map(ReportJSON.issue))
            } else if let out {
                let r = try Repair.salvage(directory, into: out, plan: plan, options: options)
                ok = r.verification.ok
                lines.append(ok ? "salvaged into \(out): \(r.records) records, it verifies, head seq \(r.verification.head?.seq ?? 0)"
                                : "salvaged into \(out), but it does not verify: \(r.verification.issues.map(ReportJSON.line).joined(separator: "; "))")
                o["salvaged"] = .object(["out": .string(out), "records": .number(Double(r.records)), "verifies": .bool(ok)])
                o["set_aside_files"] = .array(r.setAside.map { .string($0) })
            }
            finish(lines, o)
            if !ok || plan.lost != nil || (!plan.rollback.isEmpty && inPlace) { throw ExitCode(ToolExit.problem.rawValue) }
        } catch let e as MaintenanceError {
            switch e {
            case .refusedInPlace, .nothingToSalvage: throw ToolFailure(.problem, e.description)
            case let .store(s) where s.isDamage: throw ToolFailure(.problem, e.description)
            default: throw ToolFailure(.environment, e.description)
            }
        }
    }

    func finish(_ lines: [String], _ o: [String: JSONValue]) {
        if json { Output.json(.object(o)) } else { lines.forEach(Output.line) }
    }

    func describe(_ plan: Repair.Plan) -> [String] {
        var lines: [String] = []
        for issue in plan.report.issues { lines.append("found " + ReportJSON.line(issue)) }
        for note in plan.report.notes { lines.append("note " + ReportJSON.line(note)) }
        if plan.clean { lines.append("the store verifies: nothing to repair") }
        if plan.derivedOnly { lines.append("only derived data is damaged or stale: it will be rebuilt from the records") }
        if !plan.reseal.isEmpty { lines.append("rebuild the footer of: \(plan.reseal.joined(separator: ", "))") }
        if let keep = plan.keepThrough { lines.append("salvage records 0…\(keep)") } else { lines.append("no record can be salvaged") }
        if plan.tornTailOnly { lines.append("the only damage is a torn tail (an interrupted write): nothing acknowledged is lost") }
        if !plan.rollback.isEmpty { lines.append("ROLLBACK: the log lost records its MANIFEST, REPLAY or checkpoints show it had") }
        if let lost = plan.lost { lines.append("LOST (not salvaged, kept in lost+found): seqs \(lost.lowerBound)…\(lost.upperBound) as far as known") }
        return lines
    }

    func planJSON(_ plan: Repair.Plan) -> [String: JSONValue] {
        var o: [String: JSONValue] = [
            "issues": .array(plan.report.issues.map(ReportJSON.issue)),
            "notes": .array(plan.report.notes.map(ReportJSON.issue)),
            "salvage_through": plan.keepThrough.map { .number(Double($0)) } ?? .null,
            "torn_tail_only": .bool(plan.tornTailOnly), "derived_only": .bool(plan.derivedOnly),
            "reseal": .array(plan.reseal.map { .string($0) }),
            "rollback": .bool(!plan.rollback.isEmpty), "dry_run": .bool(dryRun),
        ]
        if let lost = plan.lost { o["lost"] = .object(["first_seq": .number(Double(lost.lowerBound)), "last_seq": .number(Double(lost.upperBound))]) }
        return o
    }
}

RepairCommand.runAsTool()
