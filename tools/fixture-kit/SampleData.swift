import NEDBFormat

/// Generates plausible records for fixtures: users, orders, links, causes, valid times.
public struct SampleData {
    var random: DeterministicRandom
    static let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    static let cities = ["Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth", "Zürich", "Montréal"]
    static let words = ["rust", "swift", "python", "hacker", "writer", "gardener", "pilot", "chef", "runner", "δοκιμή"]

    public init(seed: UInt64) { random = DeterministicRandom(seed: seed) }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }

    /// A user document of roughly 250 bytes of canonical JSON.
    public mutating func userDocument(name: String) -> JSONValue {
        let age = 18 + Int(random.next() % 60)
        let bio = (0..<6).map { _ in pick(SampleData.words) }.joined(separator: " ")
        return .object([
            "name": .string(name.capitalized),
            "age": .number(Double(age)),
            "status": .string(pick(["active", "inactive", "retired"])),
            "bio": .string(bio),
            "score": .number(Double(random.next() % 10_000) / 100),
            "address": .object(["city": .string(pick(SampleData.cities)), "zip": .string(String(10000 + random.next() % 89999))]),
            "tags": .array([.string(pick(SampleData.words)), .string(pick(SampleData.words))]),
            "verified": .bool(random.next() % 2 == 0),
        ])
    }

    /// A varied sequence of records (puts, deletes, links, index definitions, causes, valid times).
    public mutating func records(count: Int) -> [Record] {
        var out: [Record] = []
        var putSeqs: [UInt64] = []
        for i in 0..<count {
            let seq = UInt64(i + 1)
            let roll = random.next() % 100
            var r: Record
            if i == 0 {
                r = Record(type: .defineIndex, seq: seq, time: 0)
                r.collection = "users"; r.indexField = "status"; r.indexKind = .eq
            } else if i == 1 {
                r = Record(type: .defineIndex, seq: seq, time: 0)
                r.collection = "users"; r.indexField = "bio"; r.indexKind = .search
            } else if roll < 70 || putSeqs.count < 3 {
                let name = pick(SampleData.names) + String(random.next() % 50)
                r = Record(type: .put, seq: seq, time: 0)
                r.collection = "users"; r.id = name
                r.document = JCS.serialize(userDocument(name: name))
                if roll % 7 == 0, let cause = putSeqs.last {
                    r.causedBy = [cause]; r.evidence = "fixture"; r.confidence = 0.75
                }
                if roll % 11 == 0 {
                    r.validFrom = 1_704_067_200_000_000   // 2024-01-01
                    r.validTo = 1_735_689_600_000_000     // 2025-01-01
                }
                if roll % 13 == 0 { r.client = "client-a"; r.nonce = seq }
                if roll % 17 == 0 { r.idempotencyKey = "idem-\(seq)" }
                putSeqs.append(seq)
            } else if roll < 80 {
                r = Record(type: .delete, seq: seq, time: 0)
                r.collection = "users"; r.id = pick(SampleData.names) + String(random.next() % 50)
            } else if roll < 95 {
                r = Record(type: roll < 90 ? .link : .unlink, seq: seq, time: 0)
                r.collection = "users"; r.id = pick(SampleData.names) + "0"
                r.relation = "follows"; r.targetCollection = "users"; r.targetId = pick(SampleData.names) + "1"
            } else {
                r = Record(type: .annotation, seq: seq, time: 0)
                r.note = "fixture note \(seq)"
            }
            out.append(r)
        }
        return out
    }
}

extension String {
    var capitalized: String { prefix(1).uppercased() + dropFirst() }
}
