#if canImport(Glibc)
import Glibc
#endif

// nedb-fuzz: libFuzzer harnesses for every parser of untrusted bytes (tools/fuzz.sh).
//
// Built with `-sanitize=fuzzer,address -DNEDB_FUZZ` it is a libFuzzer binary: the harness is
// chosen by NEDB_FUZZ_TARGET, and every argument goes to libFuzzer (corpus directories, -runs=…).
// Built normally it replays inputs: `nedb-fuzz TARGET FILE…` runs the harness on each file (the
// tests use it to keep every crash the fuzzers ever found fixed).

/// The harness libFuzzer calls for each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzTarget.current(bytes)
    return 0
}

enum FuzzTarget {
    /// Chosen once from NEDB_FUZZ_TARGET.
    nonisolated(unsafe) static var current: @Sendable ([UInt8]) -> Void = { _ in }

    static func select(_ name: String) -> Bool {
        guard let harness = Harnesses.all[name] else {
            print("nedb-fuzz: unknown target \"\(name)\"; targets: \(Harnesses.all.keys.sorted().joined(separator: " "))")
            return false
        }
        current = harness
        return true
    }
}

#if NEDB_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; here it hands over to libFuzzer.
@_cdecl("nedb_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    guard let name = getenv("NEDB_FUZZ_TARGET").map({ String(cString: $0) }), FuzzTarget.select(name) else { return 2 }
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--signer-key" {
            // The key the proof harness verifies with, to sign seed proofs.
            print(Harnesses.signer?.encoded ?? "")
            return
        }
        guard let name = arguments.first, !name.hasPrefix("-") else {
            print("usage: nedb-fuzz TARGET FILE...   (replays inputs; tools/fuzz.sh runs the fuzzers)")
            print("targets: \(Harnesses.all.keys.sorted().joined(separator: " "))")
            exit(2)
        }
        guard FuzzTarget.select(name) else { exit(2) }
        var count = 0
        for path in arguments.dropFirst() {
            guard let f = fopen(path, "rb") else { print("nedb-fuzz: cannot read \(path)"); exit(3) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                if n <= 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
            }
            fclose(f)
            FuzzTarget.current(bytes)
            count += 1
        }
        print("replayed \(count) inputs through \(name)")
    }
}
#endif
