// swift-tools-version:6.0
import PackageDescription

// A program that embeds only the NEDB reader: it opens a store read-only (even while another
// process writes it), reads documents at any point in time, runs NQL and verifies the files.
let package = Package(
    name: "ReaderExample",
    dependencies: [.package(name: "NEDB", path: "../..")],
    targets: [
        .executableTarget(name: "reader-example", dependencies: [.product(name: "NEDBReader", package: "NEDB")]),
    ],
    swiftLanguageModes: [.v6]
)
