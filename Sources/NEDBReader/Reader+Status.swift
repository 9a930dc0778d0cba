/// A summary of the store: head, segments, checkpoints, encryption, indexes (`nedb status`).
extension Reader {
    public var status: JSONValue {
        let segments = store.segments
        let checkpoints = store.layout.checkpointNames(fs: store.options.fileSystem)
        let head = self.head
        return .object([
            "path": .string(path), "seq": .number(Double(head.seq)), "head": .string(head.chain.hex), "root": .string(head.root.hex),
            "segments": .number(Double(segments.count)),
            "sealed_segments": .number(Double(segments.filter { $0.state != .active }.count)),
            "compressed_segments": .number(Double(segments.filter { $0.state == .sealedCompressed }.count)),
            "bytes": .number(Double(store.fileBytes)),
            "checkpoints": .array(checkpoints.map { .string($0) }),
            "encrypted": .bool(store.encrypted), "hash": .string(store.hashAlgorithm.description),
            "store_id": .string(store.storeId.hex), "origin": .string(store.origin),
            "indexes": .array(indexes().map { .string("\($0.collection).\($0.field) \($0.kind)") }),
        ])
    }
}
