import NEDBFormat

/// The checks a random-access read makes on one frame (LogStore.frameBytes).
enum FrameCheck {
    /// `bytes` must be one CRC-valid frame of record `seq`, whose stored chain hash is `leaf`
    /// and (unless pruned) equals `H(0x00 ‖ previous ‖ type ‖ body)`.
    static func check(_ bytes: [UInt8], seq: UInt64, leaf: Hash32, previous: Hash32, algorithm: HashAlgorithm,
                      location: Location) throws(FormatError) {
        let parse = bytes.withUnsafeBytes { Frame.parse($0, at: 0) }
        guard case let .frame(view) = parse, view.frameLength == bytes.count else {
            throw .malformed(location, detail: "the bytes at the record's offset are not one frame")
        }
        guard view.crcValid else {
            throw .checksumMismatch(location, what: "record frame", expected: view.computedCRC, found: view.storedCRC)
        }
        let found = bytes.withUnsafeBytes { view.seq(in: $0) }
        guard found == seq else { throw .chainBreak(location, detail: "the frame at the offset of seq \(seq) holds seq \(found)") }
        guard view.storedChain == leaf else {
            throw .chainBreak(location, detail: "record \(seq) carries chain hash \(view.storedChain.hex), the Merkle tree holds \(leaf.hex)")
        }
        guard view.type != .pruned else { return }
        let computed = bytes.withUnsafeBytes { raw in
            ChainHasher(algorithm).chain(previous: previous, typeAndBody: UnsafeRawBufferPointer(rebasing: raw[view.recordRange]))
        }
        guard computed == view.storedChain else { throw .hashMismatch(location, expected: computed, found: view.storedChain) }
    }
}
