import Foundation
import NEDBFormat

/// Paths inside the repository, found from this file's location.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var fixtures: String { root + "/fixtures" }
    static var vectors: String { root + "/spec/vectors" }
}

/// A fresh temporary directory, removed when the value is released.
final class TempDir {
    let path: String

    init(_ label: String = "nedb") {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func sub(_ name: String) -> String { path + "/" + name }
}

/// Reads a fixture's expectation file.
struct FixtureExpectation {
    let name: String
    let errors: [String]
    let verdict: String
    let headSeq: UInt64?
    let keyFile: String?

    static func load(_ name: String) throws -> FixtureExpectation {
        let text = try String(contentsOfFile: Repo.fixtures + "/\(name).expected", encoding: .utf8)
        let json = try JSONParser.parse(text)
        return FixtureExpectation(name: name,
                                  errors: json["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                                  verdict: json["verdict"]?.stringValue ?? "?",
                                  headSeq: json["head_seq"]?.numberValue.map { UInt64($0) },
                                  keyFile: json["key_file"]?.stringValue)
    }

    static func all() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Repo.fixtures)
            .filter { $0.hasSuffix(".expected") }
            .map { String($0.dropLast(".expected".count)) }
            .sorted()
    }
}
