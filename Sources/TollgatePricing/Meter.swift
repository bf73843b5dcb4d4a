/// One of the three things a DeepSeek V4 request is billed for. Reasoning tokens bill as ``output``.
public enum Meter: String, CaseIterable, Sendable, Hashable {
    /// Prompt tokens served from the provider's prefix cache.
    case inputCacheHit = "input_cache_hit"
    /// Prompt tokens that had to be processed (prefilled).
    case inputCacheMiss = "input_cache_miss"
    /// Completion tokens, reasoning included.
    case output

    /// The meter names as written in the price book, for error messages.
    static let names = Meter.allCases.map(\.rawValue).joined(separator: ", ")
}
