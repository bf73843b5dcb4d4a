/// Where the encoder puts token ids: an array, or just a count (no allocation).
protocol TokenSink {
    mutating func append(_ id: UInt32)
}

/// Collects ids as `Int`, the public API's element type.
struct IDArraySink: TokenSink {
    var ids: [Int] = []

    @inline(__always)
    mutating func append(_ id: UInt32) { ids.append(Int(id)) }
}

/// Counts ids without storing them.
struct CountingSink: TokenSink {
    var count = 0

    @inline(__always)
    mutating func append(_ id: UInt32) { count += 1 }
}
