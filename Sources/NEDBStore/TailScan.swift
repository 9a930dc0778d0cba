import NEDBFormat

/// What checking the last segment record by record found: the records that are kept, an
/// interrupted write after them (tolerated), or damage (not tolerated). Nothing is changed on
/// disk here; the recovery policy decides what to do with the findings.
struct TailScan {
    struct Frame {
        let offset: UInt64
        let length: Int
        let seq: UInt64
        let time: Microseconds
        let chain: Hash32
    }

    let path: String
    var frames: [Frame] = []
    /// The records of `frames` (decrypted when asked and a key is given).
    var records: [Record] = []
    /// The offset just past the last kept frame.
    var end: UInt64
    /// An interrupted write after `end`: a torn frame with nothing valid after it, or an
    /// incomplete transaction at the end of the log.
    var tornTail: FormatError?
    /// Damage at `end` that a crash cannot produce.
    var damage: FormatError?
    /// The damage is in the bytes (a CRC or length that fails with valid frames after it)
    /// rather than a record whose CRC is valid (a wrong hash, seq or structure: tampering).
    var damageInBytes = false
    /// Records dropped because their transaction is incomplete.
    var droppedIncompleteTransaction: UInt64 = 0

    /// Scans `file`: CRC, seq, chain hash (recomputed, several records per instruction) and
    /// structure of every record. Only I/O errors are thrown.
    static func scan(_ file: SegmentFile, keyring: Keyring?, decrypt: Bool) throws(FormatError) -> TailScan {
        let header = file.header
        var result = TailScan(path: file.path, end: UInt64(header.headerLength))
        var scanner = PrehashingScanner(file.scanner(), algorithm: header.hashAlgorithm, previous: header.previousChain,
                                        chainHashes: true)
        var expected = header.firstSeq
        let options = RecordCodec.Options(checkCanonicalDocuments: false)
        scanning: while let (event, computedChain) = try scanner.next() {
            switch event {
            case let .damage(d):
                let at = Location(file: file.path, offset: d.start, seq: expected)
                if d.reachesEnd && !file.isSealed {
                    result.tornTail = .tornTail(at, detail: "\(d.end - d.start) bytes after the last complete record (\(d.reason.detail))")
                } else {
                    result.damage = d.reason
                    result.damageInBytes = true
                }
                break scanning
            case let .record(frame):
                let at = Location(file: file.path, offset: frame.offset, seq: frame.seq)
                guard frame.seq == expected else {
                    result.damage = .chainBreak(at, detail: "seq \(frame.seq) where \(expected) was expected")
                    break scanning
                }
                if let computed = computedChain, computed != frame.view.storedChain {
                    result.damage = .hashMismatch(at, expected: computed, found: frame.view.storedChain)
                    // Either this record changed or the one before was rewritten with its hash
                    // recomputed: the one before is not vouched for either.
                    if let previous = result.frames.popLast() {
                        result.records.removeLast()
                        result.end = previous.offset
                    }
                    break scanning
                }
                do {
                    var record = try frame.decode(file: file.path, options: options)
                    if decrypt, record.isSealed, let keyring {
                        record = try RecordSealer.open(record, keyring: keyring, location: at, options: options)
                    }
                    result.records.append(record)
                } catch {
                    result.damage = error
                    break scanning
                }
                result.frames.append(Frame(offset: frame.offset, length: frame.view.frameLength, seq: frame.seq,
                                           time: frame.time, chain: frame.view.storedChain))
                result.end = frame.offset + UInt64(frame.view.frameLength)
                expected += 1
            }
        }
        // An incomplete transaction at the end was never acknowledged: it goes with the tail.
        if result.damage == nil, let last = result.records.last, let txn = last.transaction, txn.count > 0,
           txn.firstSeq <= last.seq, last.seq - txn.firstSeq < UInt64(txn.count) - 1,
           let first = result.records.first, txn.firstSeq >= first.seq {
            let keep = Int(txn.firstSeq - first.seq)
            let offset = result.frames[keep].offset
            result.droppedIncompleteTransaction = UInt64(result.records.count - keep)
            result.records.removeLast(result.records.count - keep)
            result.frames.removeLast(result.frames.count - keep)
            result.end = offset
            if result.tornTail == nil {
                result.tornTail = .tornTail(Location(file: file.path, offset: offset, seq: txn.firstSeq),
                                            detail: "transaction of \(txn.count) records starting at seq \(txn.firstSeq) is incomplete")
            }
        }
        return result
    }
}
