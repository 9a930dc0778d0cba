import CNEDBSupport

/// Many independent messages hashed together: BLAKE2b-256 runs four messages per AVX2
/// instruction when the CPU has AVX2 (`CNEDBSupport`'s multi-buffer code), otherwise each
/// message is hashed on its own. Either way digest `i` is exactly `algorithm.hash(message i)`.
///
/// Messages are built in one reusable buffer: append their bytes, then `finishMessage()`.
/// Verification uses it for record chain hashes and Merkle nodes, which do not depend on each
/// other once the stored hashes are known.
public struct HashBatch {
    public let algorithm: HashAlgorithm
    private var bytes: [UInt8] = []
    /// Message `i` is `bytes[bounds[i] ..< bounds[i + 1]]`.
    private var bounds: [Int] = [0]
    private var descriptors: [nedb_message] = []

    /// Whether BLAKE2b-256 batches run four messages per instruction on this CPU.
    public static let isVectorized = nedb_blake2b256_lanes_available() != 0

    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
    }

    /// Finished messages.
    public var count: Int { bounds.count - 1 }

    /// Forgets every message, keeping the buffers' capacity.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        bounds.removeAll(keepingCapacity: true)
        bounds.append(0)
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always)
    public mutating func append(_ buffer: UnsafeRawBufferPointer) { bytes.append(contentsOf: buffer) }

    @inline(__always)
    public mutating func append(_ hash: Hash32) {
        withUnsafeBytes(of: hash) { bytes.append(contentsOf: $0) }
    }

    /// Ends the message being built (bytes appended since the previous one).
    @inline(__always)
    public mutating func finishMessage() { bounds.append(bytes.count) }

    /// The digests of all finished messages, in order, replacing the contents of `out`.
    public mutating func digests(into out: inout [Hash32]) {
        let n = count
        out.removeAll(keepingCapacity: true)
        guard n > 0 else { return }
        out.append(contentsOf: repeatElement(Hash32.zero, count: n))
        let bounds = self.bounds
        let algorithm = self.algorithm
        // Lanes pay off from two messages on; one message is hashed faster on its own.
        if algorithm == .blake2b256 && HashBatch.isVectorized && n >= 2 {
            var descriptors = self.descriptors
            descriptors.removeAll(keepingCapacity: true)
            let done: Int32 = bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) }
                for i in 0..<n {
                    descriptors.append(nedb_message(part1: base.map { $0 + bounds[i] }, length1: bounds[i + 1] - bounds[i],
                                                    part2: nil, length2: 0))
                }
                return descriptors.withUnsafeBufferPointer { d in
                    out.withUnsafeMutableBytes { o in
                        nedb_blake2b256_many(d.baseAddress, n, o.baseAddress?.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            self.descriptors = descriptors
            if done == 0 { return }
        }
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                out[i] = algorithm.hash(UnsafeRawBufferPointer(rebasing: raw[bounds[i]..<bounds[i + 1]]))
            }
        }
    }
}
