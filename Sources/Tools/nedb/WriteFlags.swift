import ArgumentParser
import NEDB
import NEDBCLI

/// Options every write takes: provenance, replay protection, idempotency, durability,
/// preconditions and output shape.
struct WriteFlags: ParsableArguments {
    @Option(name: .customLong("caused-by"), help: "Seqs of the records that caused this one, comma-separated (e.g. 12,40).")
    var causedBy: String?

    @Option(help: "Why this was written (free text, e.g. user_message).")
    var evidence: String?

    @Option(help: "Confidence in this write, 0…1.")
    var confidence: Double?

    @Option(help: "Writer id for replay protection (with --nonce).")
    var client: String?

    @Option(help: "Nonce strictly above the client's last accepted nonce (with --client).")
    var nonce: UInt64?

    @Option(name: .customLong("idem"), help: "Idempotency key: repeating it writes nothing and prints the original seq.")
    var idempotencyKey: String?

    @Option(help: "none (handed to the OS), batch (group-committed fsync, default) or always (own fsync).")
    var durability: String?

    @Option(name: .customLong("expect-seq"), help: "Precondition: the document was last written at this seq.")
    var expectSeq: UInt64?

    @Flag(name: .customLong("if-absent"), help: "Precondition: the document does not exist.")
    var ifAbsent = false

    @Flag(help: "Print {\"seq\": N, \"duplicate\": BOOL} instead of the bare seq.")
    var json = false

    func validate() throws {
        if let durability, Durability(rawValue: durability) == nil {
            throw ValidationError("--durability must be none, batch or always, not \"\(durability)\"")
        }
        if (client == nil) != (nonce == nil) { throw ValidationError("--client and --nonce go together") }
        if let confidence, !(0...1).contains(confidence) { throw ValidationError("--confidence must be between 0 and 1") }
        if expectSeq != nil && ifAbsent { throw ValidationError("--expect-seq and --if-absent exclude each other") }
        _ = try causes()
    }

    func causes() throws -> [UInt64] {
        guard let causedBy else { return [] }
        return try causedBy.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let seq = UInt64(String(part.filter { !$0.isWhitespace })) else {
                throw ValidationError("--caused-by: \"\(part)\" is not a seq (a whole number)")
            }
            return seq
        }
    }

    func options(validFrom: String? = nil, validTo: String? = nil) throws -> WriteOptions {
        WriteOptions(validFrom: validFrom, validTo: validTo, causedBy: try causes(), evidence: evidence, confidence: confidence,
                     client: client, nonce: nonce, idempotencyKey: idempotencyKey, durability: durability.flatMap(Durability.init(rawValue:)))
    }

    /// Checks operations as the write will (names, valid times, provenance, sizes): bad input
    /// is a usage error (exit 2) found before any store is opened or created. (Called from
    /// `validate()`, where ArgumentParser reports `ValidationError`s as usage errors.)
    static func check(_ operations: [Operation]) throws {
        do { try Database.validate(operations) } catch { throw ValidationError(error.description) }
    }

    var precondition: Precondition? {
        if let expectSeq { return .lastSeq(expectSeq) }
        return ifAbsent ? .mustNotExist : nil
    }

    /// Prints what a write did: the seq, or JSON with --json.
    func report(_ result: WriteResult) {
        if json {
            Output.json(["seq": .number(Double(result.seq)), "duplicate": .bool(result.duplicate)], pretty: false)
        } else {
            Output.line(String(result.seq))
            if result.duplicate { Output.error("idempotency key seen before: nothing written; seq \(result.seq) is the original write") }
        }
    }
}

extension ValidationError {
    /// A usage failure raised while checking input, as ArgumentParser's `validate()` reports it.
    static func from(_ body: () throws -> Void) throws {
        do { try body() } catch let failure as ToolFailure where failure.code == .usage {
            throw ValidationError(failure.message)
        }
    }
}
