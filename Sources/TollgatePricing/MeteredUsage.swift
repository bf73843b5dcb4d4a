/// Token counts of one request, split the way DeepSeek bills them.
///
/// `promptTokens = cacheHitTokens + cacheMissTokens`; `completionTokens` includes
/// `reasoningTokens`. `estimated` is true when Tollgate counted the tokens itself because the
/// engine reported no usage (an interrupted stream, an engine that omits it); the cost is then
/// billed all the same, and the ledger keeps the flag.
public struct MeteredUsage: Hashable, Sendable {
    public var promptTokens: Int
    public var cacheHitTokens: Int
    public var cacheMissTokens: Int
    public var completionTokens: Int
    public var reasoningTokens: Int
    public var estimated: Bool

    public init(
        promptTokens: Int, cacheHitTokens: Int, cacheMissTokens: Int, completionTokens: Int,
        reasoningTokens: Int = 0, estimated: Bool = false
    ) {
        self.promptTokens = promptTokens
        self.cacheHitTokens = cacheHitTokens
        self.cacheMissTokens = cacheMissTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
        self.estimated = estimated
    }

    /// Usage from an engine that reports only the cache hits (or none): the rest of the prompt
    /// counts as cache misses.
    public init(
        promptTokens: Int, cacheHitTokens: Int = 0, completionTokens: Int, reasoningTokens: Int = 0,
        estimated: Bool = false
    ) {
        let hits = min(max(cacheHitTokens, 0), max(promptTokens, 0))
        self.init(
            promptTokens: promptTokens, cacheHitTokens: hits, cacheMissTokens: max(promptTokens, 0) - hits,
            completionTokens: completionTokens, reasoningTokens: reasoningTokens, estimated: estimated)
    }

    /// Tokens billed per meter. Prompt tokens not covered by the hit/miss split bill as misses;
    /// output is the completion, or the reasoning count if an engine reported reasoning larger than
    /// the completion (reasoning must never go unbilled). Negative counts bill as zero.
    public var billedTokens: MeterTokens {
        let hits = max(cacheHitTokens, 0)
        var misses = max(cacheMissTokens, 0)
        let uncovered = max(promptTokens, 0) - hits - misses
        if uncovered > 0 { misses += uncovered }
        return MeterTokens(
            inputCacheHit: hits, inputCacheMiss: misses, output: max(completionTokens, reasoningTokens, 0))
    }
}
