/// Token counts per meter: a fixed struct rather than a dictionary, because every request is
/// priced two or three times on the proxy path.
public struct MeterTokens: Hashable, Sendable {
    /// The most tokens an estimate assumes on one meter, and the most Tollgate takes from a client
    /// or an engine (`TokenUsage.maxCount`): with ``MeterRate/ceiling`` it keeps every cost inside
    /// `Int64` nano-units.
    public static let maxPerMeter = Int(Int32.max)

    public var inputCacheHit: Int
    public var inputCacheMiss: Int
    public var output: Int

    public init(inputCacheHit: Int, inputCacheMiss: Int, output: Int) {
        self.inputCacheHit = inputCacheHit
        self.inputCacheMiss = inputCacheMiss
        self.output = output
    }

    public subscript(meter: Meter) -> Int {
        switch meter {
        case .inputCacheHit: return inputCacheHit
        case .inputCacheMiss: return inputCacheMiss
        case .output: return output
        }
    }
}
