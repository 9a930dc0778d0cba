import Testing
@testable import NEDBFormat
import NEDBFixtureKit

/// Random and mutated bytes must never crash a decoder; every bit flip in a segment must be
/// reported.
@Suite struct FuzzTests {
    static func loadFixture(_ name: String, into fs: MemoryFileSystem) throws -> String {
        let target = "/" + name
        try fs.load(from: PosixFileSystem(), source: Repo.fixtures + "/" + name, into: target)
        return target
    }

    @Test func bitFlipsInSegmentsAreAlwaysDetected() throws {
        var random = DeterministicRandom(seed: 0xF1)
        let fs = MemoryFileSystem()
        var cases = 0
        for name in ["valid-small", "sha256", "encrypted", "multi-segment"] {
            let dir = try FuzzTests.loadFixture(name, into: fs)
            let segments = fs.allFiles.filter { $0.hasPrefix(dir + "/segments/") }
            let rounds = name == "multi-segment" ? 150 : 400
            for _ in 0..<rounds {
                let file = segments[Int(random.next() % UInt64(segments.count))]
                let original = fs.contents(file)!
                var mutated = original
                let offset = Int(random.next() % UInt64(mutated.count))
                mutated[offset] ^= UInt8(1 << (random.next() % 8))
                fs.setContents(file, mutated)
                var options = VerifyOptions(mode: random.next() % 3 == 0 ? .quick : .full)
                options.checkManifest = false
                let report = StoreVerifier.verify(directory: dir, fs: fs, options: options)
                #expect(!report.ok, "flip at \(file):\(offset) went unnoticed")
                fs.setContents(file, original)
                cases += 1
            }
        }
        #expect(cases == 1350)
    }

    @Test func structuralMutationsNeverCrash() throws {
        var random = DeterministicRandom(seed: 0xF2)
        let fs = MemoryFileSystem()
        var cases = 0
        for name in ["valid-small", "encrypted", "multi-segment"] {
            let dir = try FuzzTests.loadFixture(name, into: fs)
            let files = fs.allFiles.filter { $0.hasPrefix(dir + "/") }
            for _ in 0..<(name == "multi-segment" ? 120 : 350) {
                let file = files[Int(random.next() % UInt64(files.count))]
                let original = fs.contents(file)!
                var mutated = original
                let at = Int(random.next() % UInt64(max(1, mutated.count)))
                switch random.next() % 5 {
                case 0: mutated.removeSubrange(at...)                                    // truncate
                case 1: mutated.insert(contentsOf: random.bytes(Int(random.next() % 64) + 1), at: at)
                case 2:                                                                   // overwrite a run
                    let n = min(mutated.count - at, Int(random.next() % 40) + 1)
                    for i in 0..<n { mutated[at + i] = UInt8(truncatingIfNeeded: random.next()) }
                case 3: mutated.removeSubrange(at..<min(mutated.count, at + Int(random.next() % 100) + 1))
                default:                                                                  // duplicate a slice
                    let n = min(mutated.count - at, Int(random.next() % 200) + 1)
                    mutated.insert(contentsOf: Array(mutated[at..<(at + n)]), at: at)
                }
                fs.setContents(file, mutated)
                let report = StoreVerifier.verify(directory: dir, fs: fs, options: VerifyOptions(mode: .full))
                if mutated != original && file.contains("/segments/") && !isTailTruncation(original, mutated) {
                    #expect(!report.ok, "mutation of \(file) at \(at) went unnoticed")
                }
                fs.setContents(file, original)
                cases += 1
            }
        }
        #expect(cases == 820)
    }

    /// Cutting an active segment exactly at a frame boundary leaves a shorter valid log.
    func isTailTruncation(_ original: [UInt8], _ mutated: [UInt8]) -> Bool {
        mutated.count < original.count && Array(original[0..<mutated.count]) == mutated
    }

    @Test func randomBytesNeverCrashDecoders() {
        var random = DeterministicRandom(seed: 0xF3)
        let seeds: [[UInt8]] = [
            SegmentHeader(hashAlgorithm: .blake2b256, encrypted: false, compressed: false, storeId: StoreID(bytes: [UInt8](repeating: 1, count: 16))!,
                          segmentNumber: 0, firstSeq: 0, previousChain: .zero, created: 0).encode(),
            Manifest(hashAlgorithm: .blake2b256, encrypted: false, storeId: StoreID(bytes: [UInt8](repeating: 1, count: 16))!,
                     generation: 1, written: 0, segments: []).encode(),
            RecordCodec.encodeBody(RecordCodecTests.samplePut()),
            Array("{\"a\":[1,2,{\"b\":\"c\"}]}".utf8),
            Array("origin\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} k AAAAAA==\n".utf8),
        ]
        var cases = 0
        for round in 0..<4000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = random.bytes(Int(random.next() % 300))
            } else {
                bytes = seeds[Int(random.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + random.next() % 4) where !bytes.isEmpty {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
                if random.next() % 4 == 0 && !bytes.isEmpty { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
            }
            _ = try? SegmentHeader.decode(bytes)
            _ = try? Manifest.decode(bytes)
            _ = try? KeyFile.decode(bytes)
            _ = try? CheckpointContainer.parse(bytes, file: nil)
            _ = try? CompressedBlock.decode(bytes, location: Location())
            let type = RecordType(rawValue: UInt8(truncatingIfNeeded: random.next()))
            _ = try? RecordCodec.decode(type: type, bytes: bytes, bodyStart: 0, bodyEnd: bytes.count)
            _ = bytes.withUnsafeBytes { StructureCheck.check(type: type, body: $0) }
            _ = bytes.withUnsafeBytes { Frame.parse($0, at: 0) }
            _ = try? JSONParser.parse(bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? SignedNote.parse(text)
            _ = try? TreeCheckpoint.parse(text)
            _ = try? NoteVerifier(encoded: text)
            _ = try? NoteSigner(encoded: text)
            cases += 1
        }
        #expect(cases == 4000)
    }
}
