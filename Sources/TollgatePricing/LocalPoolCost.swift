import TollgateMoney

/// What a local pool costs to run, and the per-token rates derived from it.
///
/// A pool of `gpus` GPUs costs `gpuCostPerHour × gpus` per hour. Its throughputs are the tokens per
/// second the whole pool sustains when doing only that kind of work (prefill for input, decode for
/// output), so one token of a meter uses `1 / tokensPerSecond` seconds of the pool. The rate is
/// therefore the exact fraction `gpuCostPerHour.nanos × gpus / (3600 × tokensPerSecond)` nano-units
/// per token; nothing is rounded until a token count is priced. Cache hits cost nothing unless a
/// cache-hit throughput is declared (the engine reuses the prefix's KV cache instead of prefilling).
public struct LocalPoolCost: Hashable, Sendable {
    /// Cost of one GPU for one hour, in the book's currency.
    public let gpuCostPerHour: Money
    public let gpus: Int
    public let inputTokensPerSecond: Int
    public let outputTokensPerSecond: Int
    /// Throughput for prompt tokens found in the engine's prefix cache; nil means they are free.
    public let cacheHitTokensPerSecond: Int?

    public init(
        gpuCostPerHour: Money, gpus: Int, inputTokensPerSecond: Int, outputTokensPerSecond: Int,
        cacheHitTokensPerSecond: Int? = nil
    ) {
        self.gpuCostPerHour = gpuCostPerHour
        self.gpus = gpus
        self.inputTokensPerSecond = inputTokensPerSecond
        self.outputTokensPerSecond = outputTokensPerSecond
        self.cacheHitTokensPerSecond = cacheHitTokensPerSecond
    }

    /// The derived rates, or nil when a figure is not positive or the fraction would overflow.
    public var rates: ModelRates? {
        guard gpus > 0, gpuCostPerHour.nanos >= 0 else { return nil }
        let (poolNanosPerHour, overflow) = gpuCostPerHour.nanos.multipliedReportingOverflow(by: Int64(gpus))
        guard !overflow else { return nil }
        func rate(_ tokensPerSecond: Int) -> MeterRate? {
            guard tokensPerSecond > 0 else { return nil }
            let (tokensPerHour, overflow) = Int64(tokensPerSecond).multipliedReportingOverflow(by: 3600)
            guard !overflow else { return nil }
            return MeterRate(nanosNumerator: poolNanosPerHour, tokensDenominator: tokensPerHour)
        }
        guard let miss = rate(inputTokensPerSecond), let output = rate(outputTokensPerSecond) else { return nil }
        var hit = MeterRate.free
        if let cacheHitTokensPerSecond {
            guard let derived = rate(cacheHitTokensPerSecond) else { return nil }
            hit = derived
        }
        return ModelRates(inputCacheHit: hit, inputCacheMiss: miss, output: output)
    }
}
