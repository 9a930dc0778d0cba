import NEDBFormat

/// Paths inside the fixtures directory, for the generators.
struct FixtureDirectory {
    let root: String
    let fs = PosixFileSystem()

    func path(_ name: String) -> String { PathUtil.join(root, name) }

    /// The path of a fixture store, after removing what an earlier run left there.
    func fresh(_ name: String) throws -> String {
        let p = path(name)
        if fs.exists(p) { try fs.remove(p) }
        return p
    }

    /// The segment file of `store` that starts at `firstSeq`.
    func segment(_ store: String, _ firstSeq: UInt64) -> String {
        PathUtil.join(PathUtil.join(path(store), "segments"), SegmentName.make(firstSeq: firstSeq))
    }
}
