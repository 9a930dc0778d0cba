#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NEDBFormat
import NEDBStore

// nedb-crash-writer DIR DURABILITY THREADS SEGMENT_SIZE [KEY_HEX]
// Test helper: appends to DIR forever from THREADS threads and prints "ack SEQ WRITER I" after
// every append that returned success. The crash tests kill it with SIGKILL at random moments.
let args = CommandLine.arguments
guard args.count >= 5, let durability = Durability(rawValue: args[2]), let threads = Int(args[3]),
      let segmentSize = UInt64(args[4]) else {
    print("usage: nedb-crash-writer DIR none|batch|always THREADS SEGMENT_SIZE [KEY_HEX]")
    exit(2)
}
var options = StoreOptions()
options.durability = durability
options.segmentSize = segmentSize
if args.count > 5, let key = Hex.decode(args[5]) { options.key = .raw(key) }
/// Writes lines straight to fd 1 (no stdio buffering: a kill must not lose printed acks).
enum Output {
    @Sendable static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}
let store: LogStore
do { store = try LogStore.open(args[1], options: options) } catch {
    Output.emit("open failed: \(error)")
    exit(1)
}
Output.emit("ready \(store.lastSeq)")
let printLock = PthreadMutex()
DispatchQueue.concurrentPerform(iterations: threads) { writer in
    var i = 0
    while true {
        var r = Record(type: .put, seq: 0, time: 0)
        r.collection = "w\(writer)"
        r.id = "k\(i)"
        r.document = JCS.serialize(["writer": .number(Double(writer)), "i": .number(Double(i)),
                                    "pad": .string(String(repeating: "x", count: i % 97))])
        do {
            let result = try store.append(r)
            if let seq = result.lastSeq { printLock.locked { Output.emit("ack \(seq) \(writer) \(i)") } }
        } catch {
            printLock.locked { Output.emit("error \(error)") }
            exit(3)
        }
        i += 1
    }
}
