import NEDBFormat
import NEDBFixtureKit

/// The documents every benchmark writes: about 170 bytes of canonical JSON, so that a put
/// record (collection "users", id "user<n>") is about 250 bytes on disk including framing and
/// its chain hash.
enum BenchData {
    static let statuses = ["active", "inactive", "retired", "pending"]
    static let cities = ["Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth", "Zurich", "Lima"]
    static let words = ["rust", "swift", "python", "hacker", "writer", "gardener", "pilot", "chef", "runner", "poet"]

    static func document(_ i: Int, random: inout DeterministicRandom) -> JSONValue {
        func pick(_ a: [String]) -> String { a[Int(random.next() % UInt64(a.count))] }
        return .object([
            "name": .string("User \(i)"),
            "age": .number(Double(18 + random.next() % 60)),
            "status": .string(pick(statuses)),
            "city": .string(pick(cities)),
            "score": .number(Double(random.next() % 100_000) / 100),
            "bio": .string((0..<4).map { _ in pick(words) }.joined(separator: " ")),
            "verified": .bool(random.next() % 2 == 0),
            "email": .string("user\(i)@example.org"),
            "joined": .string("2024-0\(1 + random.next() % 9)-1\(random.next() % 9)"),
        ])
    }
}
