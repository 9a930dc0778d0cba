#if canImport(Glibc)
import Glibc
#endif
import NEDBFixtureKit
import NEDBFormat

// nedb-fixtures [FIXTURES_DIR [VECTORS_DIR]]
// Regenerates the golden fixture stores (default ./fixtures) and the spec test vectors
// (default ./spec/vectors). Output is deterministic: running it twice gives the same bytes.
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print("usage: nedb-fixtures [FIXTURES_DIR [VECTORS_DIR]]")
    print("Regenerates fixtures/ and spec/vectors/ deterministically.")
} else {
    let fixturesDir = arguments.first ?? "fixtures"
    let vectorsDir = arguments.dropFirst().first ?? "spec/vectors"
    do {
        let expectations = try Fixtures.generate(into: fixturesDir)
        print("wrote \(expectations.count) fixture stores to \(fixturesDir)")
        let vectors = try Vectors.generate(into: vectorsDir)
        print("wrote \(vectors) vector files to \(vectorsDir)")
    } catch {
        print("nedb-fixtures: \(error)")
        exit(1)
    }
}
