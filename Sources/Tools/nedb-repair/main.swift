import ArgumentParser
import NEDBCLI
import NEDBFormat
import NEDBState
import NEDBStore

/// nedb-repair: salvages a damaged store into a new directory (never in place by default).
struct Repair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-repair",
        abstract: "Salvage a damaged NEDB store into a new directory, or truncate a torn tail in place.",
        discussion: """
        The verified prefix of the log (everything before the first problem) is copied into --out; everything after it goes to --out/lost+found/ with a report of the seqs it held, because records after a hash mismatch or a gap cannot be trusted and are never silently re-chained. Derived files (manifest, REPLAY index, checkpoints) are rebuilt from the salvaged segments. With --in-place only a torn tail (an interrupted write) or stale derived files are fixed, after a backup copy; tampering is refused. --dry-run prints the plan and changes nothing.

        Exit codes: 0 nothing was lost; 1 records were lost or set aside (see the report); 2 usage error; 3 I/O or key error.

        Examples:
          nedb-repair ./data --dry-run
          nedb-repair ./data --out ./data-salvaged
          nedb-repair ./data --in-place
        """)

    @Argument(help: "The damaged store directory (never modified unless --in-place).") var directory: String
    @Option(help: "Salvage into this new directory.") var out: String?
    @Flag(help: "Fix a torn tail or stale derived files in place (a backup of the segment is written first).") var inPlace = false
    @Flag(help: "Print the plan; change nothing.") var dryRun = false
    @Flag(help: "Write a checkpoint of the salvaged store.") var checkpoint = false
    @Flag(help: "Machine output.") var json = false
    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if !dryRun && out == nil && !inPlace { throw ValidationError("give --out NEWDIR, --in-place or --dry-run") }
        if out != nil && inPlace { throw ValidationError("--out and --in-place exclude each other") }
    }

    struct Plan {
        var report: VerifyReport
        var keepThrough: UInt64?            // last seq salvaged
        var cutFile: String?                // segment where the cut falls
        var cutOffset: UInt64?
        var wholeSegments: [String] = []    // copied as they are
        var lostFiles: [String] = []        // set aside whole
        var lostSeqs: (UInt64, UInt64)?     // seqs set aside (as far as readable)
        var tornTailOnly: Bool
        var derivedOnly: Bool
        /// Sealed segments whose records are intact but whose footer is damaged: rebuilt.
        var reseal: [String] = []
    }

    func run() throws {
        let fs = PosixFileSystem()
        guard fs.isDirectory(directory) else { throw ToolFailure(.environment, "\(directory): no such directory") }
        var options = VerifyOptions(mode: .full)
        options.keyring = try keys.keyring(for: directory, fs: fs)
        options.maxIssues = 1000
        let report = StoreVerifier.verify(directory: directory, fs: fs, options: options)
        let plan = try makePlan(report, fs: fs)
        describe(plan)
        if dryRun { return }
        if inPlace {
            try repairInPlace(plan, fs: fs)
        } else if let out {
            try salvage(plan, into: out, fs: fs)
        }
        if plan.lostSeqs != nil || !plan.lostFiles.isEmpty { throw ExitCode(ToolExit.problem.rawValue) }
    }

    func makePlan(_ report: VerifyReport, fs: FileSystem) throws -> Plan {
        let serious = report.issues.filter { $0.verdict != .derived }
        let tornOnly = !serious.isEmpty && serious.allSatisfy { $0.id == "torn_tail" }
        var plan = Plan(report: report, keepThrough: report.head?.seq, tornTailOnly: tornOnly,
                        derivedOnly: serious.isEmpty && !report.issues.isEmpty)
        guard !serious.isEmpty else {
            plan.wholeSegments = report.segments.map(\.name)
            return plan
        }
        let keep = report.head?.seq
        // Every record verified (the head is the last readable record): only footers are
        // damaged, and footers are derived from the records.
        if let keep, keep == report.segments.compactMap(\.lastSeq).max(),
           serious.allSatisfy({ ["checksum_mismatch", "footer_mismatch", "malformed", "truncated"].contains($0.id) && ($0.location.offset ?? 0) > 0 }) {
            plan.wholeSegments = report.segments.map(\.name)
            plan.reseal = Array(Set(serious.compactMap { $0.location.file.map(PathUtil.lastComponent) })).sorted()
            plan.derivedOnly = true
            return plan
        }
        // Segments up to the one holding the first serious problem are copied whole; that one
        // is cut after the last verified record; everything after it is set aside.
        let firstProblemFile = serious.first?.location.file.map(PathUtil.lastComponent)
        var cutReached = false
        for s in report.segments {
            if cutReached {
                plan.lostFiles.append(s.name)
            } else if s.name == firstProblemFile || s.firstSeq == nil || keep == nil || (s.lastSeq ?? 0) > keep! {
                cutReached = true
                if let keep, let first = s.firstSeq, first <= keep { plan.cutFile = s.name } else { plan.lostFiles.append(s.name) }
            } else {
                plan.wholeSegments.append(s.name)
            }
        }
        // Offset of the cut: just past the last salvaged record.
        if let cut = plan.cutFile {
            let path = PathUtil.join(StoreLayout(root: directory).segments, cut)
            let segment = try SegmentFile.open(fs: fs, path: path)
            var scanner = segment.scanner()
            var end = UInt64(segment.header.headerLength)
            while let event = try scanner.next() {
                guard case let .record(frame) = event else { break }
                if let keep, frame.seq > keep { break }
                if keep == nil { break }
                end = frame.offset + UInt64(frame.view.frameLength)
            }
            plan.cutOffset = end
        }
        let lastReadable = report.segments.compactMap(\.lastSeq).max()
        let firstLost = (keep.map { $0 + 1 }) ?? 0
        if let lastReadable, lastReadable >= firstLost || !plan.lostFiles.isEmpty {
            plan.lostSeqs = (firstLost, max(lastReadable, firstLost))
        } else if !tornOnly {
            plan.lostSeqs = (firstLost, firstLost)
        }
        if tornOnly { plan.lostSeqs = nil }
        return plan
    }

    func describe(_ plan: Plan) {
        var lines: [String] = []
        for issue in plan.report.issues { lines.append("found " + ReportJSON.line(issue)) }
        if plan.report.issues.isEmpty { lines.append("the store verifies: nothing to repair") }
        if plan.derivedOnly { lines.append("only derived data is damaged or stale: it will be rebuilt from the records") }
        if !plan.reseal.isEmpty { lines.append("rebuild the footer of: \(plan.reseal.joined(separator: ", "))") }
        if let keep = plan.keepThrough { lines.append("salvage records 0…\(keep)") } else { lines.append("no record can be salvaged") }
        if !plan.wholeSegments.isEmpty { lines.append("copy whole: \(plan.wholeSegments.joined(separator: ", "))") }
        if let cut = plan.cutFile, let offset = plan.cutOffset { lines.append("copy \(cut) up to offset \(offset); the rest goes to lost+found") }
        if !plan.lostFiles.isEmpty { lines.append("set aside in lost+found: \(plan.lostFiles.joined(separator: ", "))") }
        if plan.tornTailOnly { lines.append("the only damage is a torn tail (an interrupted write): nothing acknowledged is lost") }
        if let (a, b) = plan.lostSeqs { lines.append("LOST (not salvaged, kept in lost+found): seqs \(a)…\(b) as far as readable") }
        if json {
            var o: [String: JSONValue] = [
                "issues": .array(plan.report.issues.map(ReportJSON.issue)),
                "salvage_through": plan.keepThrough.map { .number(Double($0)) } ?? .null,
                "copy_whole": .array(plan.wholeSegments.map { .string($0) }),
                "set_aside": .array(plan.lostFiles.map { .string($0) }),
                "torn_tail_only": .bool(plan.tornTailOnly), "dry_run": .bool(dryRun),
            ]
            if let cut = plan.cutFile { o["cut"] = .object(["file": .string(cut), "offset": .number(Double(plan.cutOffset ?? 0))]) }
            if let (a, b) = plan.lostSeqs { o["lost"] = .object(["first_seq": .number(Double(a)), "last_seq": .number(Double(b))]) }
            Output.json(.object(o))
        } else {
            lines.forEach(Output.line)
        }
    }

    func repairInPlace(_ plan: Plan, fs: FileSystem) throws {
        if plan.report.issues.isEmpty { return }
        guard plan.tornTailOnly || plan.derivedOnly else {
            throw ToolFailure(.problem, "refusing to repair in place: the damage is not only a torn tail (it may be tampering or missing data); salvage with --out instead")
        }
        let layout = StoreLayout(root: directory)
        if !plan.reseal.isEmpty {
            var frontier: CompactRange? = nil
            do throws(SystemError) {
                try fs.createDirectory(PathUtil.join(directory, "backup"))
                for name in plan.wholeSegments {
                    let path = PathUtil.join(layout.segments, name)
                    guard plan.reseal.contains(name) else { _ = try? Resealer.advance(path: path, fs: fs, frontier: &frontier); continue }
                    guard let rebuilt = try? Resealer.reseal(path: path, fs: fs, frontier: &frontier) else { continue }
                    try fs.writeAtomically(try fs.readAll(path), to: PathUtil.join(PathUtil.join(directory, "backup"), "\(name).\(Wallclock.now())"))
                    try fs.writeAtomically(rebuilt, to: path)
                }
            } catch { throw ToolFailure(.environment, error.description) }
        }
        if plan.tornTailOnly, let cut = plan.cutFile, let offset = plan.cutOffset {
            let path = PathUtil.join(layout.segments, cut)
            do throws(SystemError) {
                try fs.createDirectory(PathUtil.join(directory, "backup"))
                let backup = PathUtil.join(PathUtil.join(directory, "backup"), "\(cut).\(Wallclock.now())")
                try fs.writeAtomically(try fs.readAll(path), to: backup)
                Output.error("backup: \(backup)")
                let f = try fs.openForWriting(path, create: false)
                try f.truncate(to: offset)
                try f.sync()
                f.close()
            } catch { throw ToolFailure(.environment, "\(error)") }
        }
        // Opening read-write rebuilds the manifest and the REPLAY index.
        var options = StoreOptions()
        options.key = keys.source
        do { try LogStore.open(directory, options: options).close() } catch { throw ToolFailure(.environment, error.description) }
        let after = StoreVerifier.verify(directory: directory, fs: fs)
        Output.line(after.ok ? "repaired: the store verifies (head seq \(after.head?.seq ?? 0))" : "still damaged: \(after.issues.map(ReportJSON.line))")
        if !after.ok { throw ExitCode(ToolExit.problem.rawValue) }
    }

    /// Writes the salvaged segments, and everything set aside into lost+found with a report.
    func copySalvage(_ plan: Plan, source: StoreLayout, target: StoreLayout, fs: FileSystem) throws(SystemError) {
        try fs.createDirectory(target.root)
        try fs.createDirectory(target.segments)
        let lost = PathUtil.join(target.root, "lost+found")
        if fs.exists(source.keys) { try fs.writeAtomically(try fs.readAll(source.keys), to: target.keys) }
        var frontier: CompactRange? = nil
        for name in plan.wholeSegments {
            let path = PathUtil.join(source.segments, name)
            if plan.reseal.contains(name), let rebuilt = try? Resealer.reseal(path: path, fs: fs, frontier: &frontier) {
                try fs.writeAtomically(rebuilt, to: PathUtil.join(target.segments, name))
            } else {
                try fs.writeAtomically(try fs.readAll(path), to: PathUtil.join(target.segments, name))
                _ = try? Resealer.advance(path: path, fs: fs, frontier: &frontier)
            }
        }
        if let cut = plan.cutFile, let offset = plan.cutOffset {
            // A sealed segment cut short loses its footer and becomes the active segment.
            let bytes = try fs.readAll(PathUtil.join(source.segments, cut))
            try fs.writeAtomically(Array(bytes[0..<Int(offset)]), to: PathUtil.join(target.segments, cut))
            if bytes.count > Int(offset) {
                try fs.createDirectory(lost)
                try fs.writeAtomically(Array(bytes[Int(offset)...]), to: PathUtil.join(lost, "\(cut).from-\(offset)"))
            }
        }
        for name in plan.lostFiles {
            try fs.createDirectory(lost)
            try fs.writeAtomically(try fs.readAll(PathUtil.join(source.segments, name)), to: PathUtil.join(lost, name))
        }
        if fs.exists(lost) {
            var report = "nedb-repair set these bytes aside from \(directory):\n"
            for issue in plan.report.issues { report += "  " + ReportJSON.line(issue) + "\n" }
            if let (a, b) = plan.lostSeqs { report += "lost seqs (as far as readable): \(a)…\(b)\n" }
            try fs.writeAtomically(Array(report.utf8), to: PathUtil.join(lost, "REPORT.txt"))
        }
    }

    func salvage(_ plan: Plan, into out: String, fs: FileSystem) throws {
        let source = StoreLayout(root: directory), target = StoreLayout(root: out)
        guard !fs.exists(out) || ((try? fs.listDirectory(out)) ?? []).isEmpty else {
            throw ToolFailure(.environment, "\(out) exists and is not empty")
        }
        guard plan.keepThrough != nil else { throw ToolFailure(.problem, "no record can be salvaged: the first segment is unreadable") }
        do throws(SystemError) {
            try copySalvage(plan, source: source, target: target, fs: fs)
        } catch {
            throw ToolFailure(.environment, error.description)
        }
        // Open read-write: recovery turns the cut segment into the active one and rebuilds the
        // manifest and the REPLAY index from the salvaged segments.
        var options = StoreOptions()
        options.key = keys.source
        do {
            let store = try LogStore.open(out, options: options)
            if checkpoint {
                let (state, _) = try StateLoader.load(store: store, useCheckpoints: false)
                try StateLoader.writeCheckpoint(state, store: store)
            }
            try store.close()
        } catch {
            throw ToolFailure(.environment, "opening the salvaged store failed: \(error)")
        }
        var vo = VerifyOptions()
        vo.keyring = try keys.keyring(for: out, fs: fs)
        let after = StoreVerifier.verify(directory: out, fs: fs, options: vo)
        Output.line(after.ok ? "salvaged into \(out): it verifies, head seq \(after.head?.seq ?? 0)" :
                        "salvaged into \(out), but it does not verify: \(after.issues.map(ReportJSON.line))")
        if !after.ok { throw ExitCode(ToolExit.problem.rawValue) }
    }
}

/// Rebuilds a sealed segment's footer from its records.
enum Resealer {
    /// Reads every frame of a segment; returns the accumulator (started at `frontier`) and the
    /// frame bytes.
    static func scan(path: String, fs: FileSystem, frontier: inout CompactRange?) throws -> (SegmentAccumulator, [UInt8]) {
        let segment = try SegmentFile.open(fs: fs, path: path)
        var header = segment.header
        header.compressed = false
        let start = frontier ?? CompactRange(hasher: MerkleHasher(header.hashAlgorithm))
        var accumulator = SegmentAccumulator(header: header, frontier: start)
        var frames: [UInt8] = []
        var scanner = segment.scanner()
        while let event = try scanner.next() {
            guard case let .record(frame) = event else { throw FormatError.malformed(Location(file: path), detail: "damaged records") }
            frames.append(contentsOf: frame.frameBytes)
            accumulator.add(frameLength: frame.view.frameLength, seq: frame.seq, time: frame.time, chain: frame.view.storedChain)
        }
        frontier = accumulator.frontier()
        return (accumulator, frames)
    }

    static func reseal(path: String, fs: FileSystem, frontier: inout CompactRange?) throws -> [UInt8] {
        var (accumulator, frames) = try scan(path: path, fs: fs, frontier: &frontier)
        let body = accumulator.header.encode() + frames
        return body + accumulator.footer().encode(dataEnd: UInt64(body.count))
    }

    static func advance(path: String, fs: FileSystem, frontier: inout CompactRange?) throws {
        _ = try scan(path: path, fs: fs, frontier: &frontier)
    }
}

Repair.runAsTool()
