import ArgumentParser
import NEDBCLI
import NEDBFormat
import NEDBStore

/// nedb-dump: forensic inspection of a store directory, damaged or not. Reads files directly
/// with the format library; never modifies anything.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nedb-dump",
        abstract: "Inspect a NEDB store: headers, segments, footers, manifest, checkpoints, keys, records, raw bytes.",
        discussion: """
        Without --records or --hex, prints an overview of every file and where damage starts. Works on damaged stores: it reads files directly and never writes.

        Exit codes: 0 nothing damaged; 1 damage was found (it is described); 2 usage error; 3 I/O or key error.

        Examples:
          nedb-dump ./data
          nedb-dump ./data --records --collection users --from 100 --to 200
          nedb-dump ./data --records --ndjson --key-file master.key
          nedb-dump ./data --hex segments/00000000000000000000.nseg --offset 4096 --length 256
        """)

    @Argument(help: "The store directory.") var directory: String
    @Flag(help: "List records (a table, or NDJSON with --ndjson).") var records = false
    @Flag(help: "Records as NDJSON: one JSON object per line.") var ndjson = false
    @Flag(help: "The overview as one JSON object.") var json = false
    @Option(help: "First seq to list.") var from: UInt64?
    @Option(help: "Last seq to list.") var to: UInt64?
    @Option(help: "Only records of this collection.") var collection: String?
    @Option(help: "Only records of this document id.") var id: String?
    @Option(help: "Only records written by this client.") var client: String?
    @Option(help: "Only records of this type (put, delete, link, …).") var type: String?
    @Option(help: "Hex view of this file (relative to the store directory).") var hex: String?
    @Option(help: "Hex view: start offset.") var offset: UInt64 = 0
    @Option(help: "Hex view: bytes to show.") var length: Int = 256
    @OptionGroup var keys: KeyOptions

    func validate() throws {
        if let type, RecordType(name: type) == nil { throw ValidationError("unknown record type \(type)") }
        if length < 1 || length > 1 << 20 { throw ValidationError("--length must be 1…1048576") }
    }

    func run() throws {
        let fs = PosixFileSystem()
        guard fs.isDirectory(directory) else { throw ToolFailure(.environment, "\(directory): no such directory") }
        if let hex { return try hexView(fs: fs, path: PathUtil.join(directory, hex)) }
        let keyring = try keys.keyring(for: directory, fs: fs)
        if records { return try listRecords(fs: fs, keyring: keyring) }
        try overview(fs: fs, keyring: keyring)
    }

    // MARK: Hex

    func hexView(fs: FileSystem, path: String) throws {
        let bytes: [UInt8]
        do {
            let f = try fs.openForReading(path)
            defer { f.close() }
            bytes = try f.read(at: offset, count: length)
        } catch { throw ToolFailure(.environment, error.description) }
        var line = 0
        while line * 16 < bytes.count {
            let chunk = bytes[(line * 16)..<min(bytes.count, line * 16 + 16)]
            let address = String(offset + UInt64(line * 16), radix: 16)
            var text = String(repeating: "0", count: max(0, 8 - address.count)) + address + "  "
            for (i, b) in chunk.enumerated() {
                text += (b < 16 ? "0" : "") + String(b, radix: 16) + (i == 7 ? "  " : " ")
            }
            text += String(repeating: " ", count: (16 - chunk.count) * 3 + (chunk.count <= 8 ? 1 : 0))
            text += " |" + String(chunk.map { $0 >= 0x20 && $0 < 0x7F ? Character(Unicode.Scalar($0)) : "." }) + "|"
            Output.line(text)
            line += 1
        }
    }

    // MARK: Records

    func listRecords(fs: FileSystem, keyring: Keyring?) throws {
        let layout = StoreLayout(root: directory)
        let names: [String]
        do { names = try layout.segmentNames(fs: fs) } catch { throw ToolFailure(.environment, error.description) }
        let wanted = type.flatMap { RecordType(name: $0) }
        var damaged = false
        if !ndjson { Output.line(pad("SEQ", 8) + pad("TIME", 28) + pad("TYPE", 13) + pad("KEY", 32) + "DETAIL") }
        for name in names {
            let path = PathUtil.join(layout.segments, name)
            let segment: SegmentFile
            do { segment = try SegmentFile.open(fs: fs, path: path) } catch {
                damaged = true
                emitDamage(path: path, start: 0, end: nil, reason: error)
                continue
            }
            var scanner = segment.scanner()
            while true {
                let event: ScanEvent?
                do { event = try scanner.next() } catch {
                    damaged = true
                    emitDamage(path: path, start: 0, end: nil, reason: error)
                    break
                }
                guard let event else { break }
                switch event {
                case let .damage(d):
                    damaged = true
                    emitDamage(path: path, start: d.start, end: d.end, reason: d.reason)
                case let .record(frame):
                    if let from, frame.seq < from { continue }
                    if let to, frame.seq > to { continue }
                    var record: Record
                    do { record = try frame.decode(file: path, options: RecordCodec.Options(checkCanonicalDocuments: false)) } catch {
                        damaged = true
                        emitDamage(path: path, start: frame.offset, end: frame.offset + UInt64(frame.view.frameLength), reason: error)
                        continue
                    }
                    if let keyring, record.isSealed {
                        record = (try? RecordSealer.open(record, keyring: keyring, location: Location(file: path, seq: record.seq),
                                                         options: RecordCodec.Options(checkCanonicalDocuments: false))) ?? record
                    }
                    if let wanted, record.type != wanted { continue }
                    if let collection, record.collection != collection { continue }
                    if let id, record.id != id { continue }
                    if let client, record.client != client { continue }
                    emit(record, chain: frame.view.storedChain, path: name, offset: frame.offset)
                }
            }
        }
        if damaged { throw ExitCode(ToolExit.problem.rawValue) }
    }

    func emit(_ r: Record, chain: Hash32, path: String, offset: UInt64) {
        if ndjson {
            guard case var .object(o) = RecordJSON.encode(r) else { return }
            o["chain"] = .string(chain.hex)
            o["segment"] = .string(path)
            o["offset"] = .number(Double(offset))
            Output.json(.object(o), pretty: false)
            return
        }
        var detail = ""
        switch r.type {
        case .put: detail = r.document.map { String(decoding: $0, as: UTF8.self) } ?? ""
        case .link, .unlink: detail = "\(r.relation ?? "") → \(r.targetCollection ?? ""):\(r.targetId ?? "")"
        case .defineIndex: detail = "\(r.indexField ?? "") \(r.indexKind?.description ?? "")"
        case .genesis: detail = "store \(r.storeId?.hex ?? "") \(r.hashAlgorithm?.description ?? "") encryption \(r.encryption?.description ?? "")"
        case .checkpointMarker: detail = "checkpoint at seq \(r.checkpointSeq ?? 0) hash \(r.checkpointHash?.hex ?? "")"
        case .compaction: detail = "retention seq \(r.retentionSeq ?? 0), pruned \(r.prunedCount ?? 0)" + (r.prunedSet.map { ", pruned set \($0.hex.prefix(16))…" } ?? "")
        case .pruned:
            detail = "content removed by compaction (was \(r.prunedType?.name ?? "?"))"
            if let s = r.supersededBy, let c = r.prunedBy { detail += "; hidden by seq \(s), pruned by compaction record \(c)" }
            else { detail += "; legacy form (revision 1.0): unchecked" }
        case .annotation: detail = r.note ?? ""
        default: detail = r.isSealed ? "(encrypted: give a key)" : ""
        }
        if r.isSealed { detail = "(encrypted with key \(r.keyId ?? 0): give a key to read)" }
        if detail.count > 80 { detail = String(detail.prefix(77)) + "…" }
        Output.line(pad(String(r.seq), 8) + pad(Timestamp.format(r.time), 28) + pad(r.type.name, 13) + pad(r.key ?? "", 32) + detail)
    }

    func emitDamage(path: String, start: UInt64, end: UInt64?, reason: FormatError) {
        if ndjson {
            var o: [String: JSONValue] = ["damage": ReportJSON.issue(reason), "file": .string(path), "start": .number(Double(start))]
            if let end { o["end"] = .number(Double(end)) }
            Output.json(.object(o), pretty: false)
        } else {
            Output.line("!! DAMAGE in \(path) at offset \(start)\(end.map { "…\($0)" } ?? ""): [\(reason.id)] \(reason.detail)")
        }
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    // MARK: Overview

    func overview(fs: FileSystem, keyring: Keyring?) throws {
        let layout = StoreLayout(root: directory)
        var problems: [FormatError] = []
        var sections: [String: JSONValue] = ["directory": .string(directory)]
        var text: [String] = ["store \(directory)"]

        // Manifest.
        if let bytes = try? fs.readAll(layout.manifest) {
            do {
                let m = try Manifest.decode(bytes, file: layout.manifest)
                sections["manifest"] = .object(["generation": .number(Double(m.generation)), "store_id": .string(m.storeId.hex),
                                                "hash": .string(m.hashAlgorithm.description), "encrypted": .bool(m.encrypted),
                                                "written": .string(Timestamp.format(m.written)), "segments": .number(Double(m.segments.count))])
                text.append("MANIFEST: generation \(m.generation), store \(m.storeId), \(m.hashAlgorithm), \(m.segments.count) segments, written \(Timestamp.format(m.written))")
            } catch {
                problems.append(error)
                text.append("MANIFEST: \(error.description)")
            }
        } else {
            text.append("MANIFEST: absent (derived: rebuilt on open)")
        }
        // Keys.
        if let bytes = try? fs.readAll(layout.keys) {
            do {
                let k = try KeyFile.decode(bytes, file: layout.keys)
                sections["keys"] = .object(["source": .string(k.source == .raw ? "raw" : "passphrase"), "data_keys": .number(Double(k.keys.count)),
                                            "store_id": .string(k.storeId.hex), "unlocked": .bool(keyring != nil)])
                text.append("KEYS: master key from \(k.source == .raw ? "a raw key" : "an Argon2id passphrase"), \(k.keys.count) data key(s) (ids \(k.keys.map { String($0.keyId) }.joined(separator: ", "))), \(keyring != nil ? "unlocked" : "locked")")
            } catch {
                problems.append(error)
                text.append("KEYS: \(error.description)")
            }
        }
        // Segments (the witnesses of the log's length are read first, spec/FORMAT.md §13.3).
        let witnessFiles = StoreWitnesses.read(layout: layout, fs: fs)
        let watched = Set(witnessFiles.witnesses.map(\.seq))
        var chains: [UInt64: Hash32] = [:]
        var lastSeq: UInt64? = nil
        var storeId: StoreID? = nil
        var segs: [JSONValue] = []
        let names = (try? layout.segmentNames(fs: fs)) ?? []
        for name in names {
            let path = PathUtil.join(layout.segments, name)
            do {
                let s = try SegmentFile.open(fs: fs, path: path)
                let h = s.header
                if storeId == nil { storeId = h.storeId }
                var o: [String: JSONValue] = ["name": .string(name), "segment": .number(Double(h.segmentNumber)),
                                              "first_seq": .number(Double(h.firstSeq)), "bytes": .number(Double(s.size)),
                                              "sealed": .bool(s.isSealed), "compressed": .bool(h.compressed),
                                              "previous_chain": .string(h.previousChain.hex), "created": .string(Timestamp.format(h.created)),
                                              "versions": .string("read \(h.readVersion) write \(h.writeVersion)")]
                var line = "segment \(h.segmentNumber) \(name): \(s.size) bytes, first seq \(h.firstSeq), \(h.compressed ? "compressed, " : "")\(s.isSealed ? "sealed" : "active")"
                if let f = s.footer {
                    o["footer"] = .object(["records": .number(Double(f.meta.recordCount)), "last_seq": .number(Double(f.meta.lastSeq)),
                                           "chain_head": .string(f.meta.chainHead.hex), "root": .string(f.meta.root.hex),
                                           "chunks": .array(f.chunks.map { .string("\($0.id) \($0.length)") })])
                    line += "; footer: \(f.meta.recordCount) records, seqs \(f.meta.firstSeq)…\(f.meta.lastSeq), chain head \(f.meta.chainHead.hex.prefix(16))…, chunks \(f.chunks.map(\.id).joined(separator: " "))"
                }
                if let e = s.footerError {
                    problems.append(e)
                    o["footer_error"] = ReportJSON.issue(e)
                    line += "; FOOTER DAMAGED: \(e.detail)"
                }
                // Where damage starts in this segment.
                var scanner = s.scanner()
                var count = 0
                var damage: [JSONValue] = []
                while let event = try? scanner.next() {
                    switch event {
                    case let .record(frame):
                        count += 1
                        lastSeq = max(lastSeq ?? 0, frame.seq)
                        if watched.contains(frame.seq) { chains[frame.seq] = frame.view.storedChain }
                    case let .damage(d):
                        problems.append(d.reason)
                        damage.append(.object(["start": .number(Double(d.start)), "end": .number(Double(d.end)),
                                               "reaches_end": .bool(d.reachesEnd), "issue": ReportJSON.issue(d.reason)]))
                        text.append("  !! damage at offset \(d.start)…\(d.end)\(d.reachesEnd ? " (to the end of the data)" : ""): [\(d.reason.id)] \(d.reason.detail)")
                    }
                }
                o["records_readable"] = .number(Double(count))
                o["damage"] = .array(damage)
                o["reserved_bytes"] = .number(Double(scanner.reservedBytes))
                segs.append(.object(o))
                let reserved = scanner.reservedBytes > 0 ? "; \(scanner.reservedBytes) reserved zero bytes after the last record (§13.1)" : ""
                text.insert(line + "; \(count) readable records" + reserved, at: text.count - damage.count)
            } catch {
                problems.append(error)
                segs.append(.object(["name": .string(name), "error": ReportJSON.issue(error)]))
                text.append("segment \(name): UNREADABLE: \(error.description)")
            }
        }
        sections["segments"] = .array(segs)
        // What MANIFEST, REPLAY and the checkpoints say the log reached.
        if let storeId {
            let present = Set(names.compactMap(SegmentName.parse))
            let issues = (try? StoreWitnesses.check(witnessFiles.belonging(to: storeId).witnesses, lastSeq: lastSeq,
                                                    hasSegment: { present.contains($0) },
                                                    chain: { seq throws(FormatError) -> Hash32? in chains[seq] })) ?? []
            for issue in issues {
                problems.append(issue)
                text.append("!! \(ReportJSON.line(issue))")
            }
            sections["witnesses"] = .array(issues.map(ReportJSON.issue))
        }
        // Checkpoints.
        var cps: [JSONValue] = []
        for name in layout.checkpointNames(fs: fs) {
            let path = PathUtil.join(layout.checkpoints, name)
            do {
                let parsed = try CheckpointContainer.parse(try fs.readAll(path), file: path)
                let h = parsed.header
                cps.append(.object(["name": .string(name), "seq": .number(Double(h.seq)), "hash": .string(parsed.hash.hex),
                                    "chain": .string(h.chainHead.hex), "root": .string(h.root.hex), "bytes": .number(Double(h.payloadLength)),
                                    "encrypted": .bool(h.encrypted), "compressed": .bool(h.compressed)]))
                text.append("checkpoint \(name): seq \(h.seq), \(h.payloadLength) bytes\(h.encrypted ? ", encrypted" : "")\(h.compressed ? ", compressed" : ""), hash \(parsed.hash.hex.prefix(16))…")
            } catch let e as FormatError {
                problems.append(e)
                cps.append(.object(["name": .string(name), "error": ReportJSON.issue(e)]))
                text.append("checkpoint \(name): DAMAGED: \(e.description)")
            } catch {
                text.append("checkpoint \(name): unreadable: \(error)")
            }
        }
        sections["checkpoints"] = .array(cps)
        // Everything a full verification finds is a problem here too (the overview above reads
        // framing and checksums; verification also re-hashes every record and checks footers).
        var vo = VerifyOptions(mode: .full)
        vo.keyring = keyring
        let verification = StoreVerifier.verify(directory: directory, fs: fs, options: vo)
        for issue in verification.issues where !problems.contains(where: { $0.id == issue.id && $0.location == issue.location }) {
            problems.append(issue)
            text.append("verify: " + ReportJSON.line(issue))
        }
        sections["verification"] = .array(verification.issues.map(ReportJSON.issue))
        sections["problems"] = .array(problems.map(ReportJSON.issue))
        if json {
            Output.json(.object(sections))
        } else {
            text.forEach(Output.line)
            Output.line(problems.isEmpty ? "no damage found (full verification included)" : "\(problems.count) problem(s) found; nedb-verify classifies them, nedb-repair salvages")
        }
        if !problems.isEmpty { throw ExitCode(ToolExit.problem.rawValue) }
    }
}

Dump.runAsTool()
