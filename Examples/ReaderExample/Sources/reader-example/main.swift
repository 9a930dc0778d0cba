#if canImport(Glibc)
import Glibc
#endif
import NEDBReader

// Usage: reader-example DIR COLLECTION ID
// Prints the head, the document now and at every earlier version, a query, and the verdict of a
// full verification. Opening read-only takes no lock, so this works beside a running writer.
let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: reader-example DIR COLLECTION ID   (try: nedb demo /tmp/demo && reader-example /tmp/demo users alice)")
    exit(2)
}
let (directory, collection, id) = (arguments[1], arguments[2], arguments[3])

do {
    let reader = try Reader.open(directory)
    let head = reader.head
    print("head: seq \(head.seq), chain \(head.chain.hex), root \(head.root.hex)")

    guard let document = try reader.get(collection, id) else {
        print("\(collection):\(id) does not exist at seq \(head.seq)")
        exit(1)
    }
    print("now: \(document.json.canonicalText)")

    // Time travel: the document as of each of its versions.
    for version in try reader.history(collection, id) {
        guard let seq = version["_seq"]?.numberValue else { continue }
        let then = try reader.get(collection, id, asOf: UInt64(seq))
        print("as of \(Int(seq)): \(then?.json.canonicalText ?? "(deleted)")")
    }

    let rows = try reader.query("FROM `\(collection)` ORDER BY _seq DESC LIMIT 3")
    print("latest three in \(collection): \(rows.compactMap { $0["_id"]?.stringValue })")

    let report = reader.verify()
    print("verified: \(report.ok)")
    exit(report.ok ? 0 : 1)
} catch {
    print("error: \(error)")
    exit(3)
}
