/// Everything an ``EngineSimulator`` models: the served model, the vLLM-like timing model, the
/// response shape and the faults it starts with. Defaults are close to DeepSeek V4-Flash on one
/// 8-GPU node (see docs/ENGINE_SIM.md for where the figures come from).
public struct EngineSimConfiguration: Sendable {
    /// Which key carries reasoning text in messages and deltas.
    public enum ReasoningField: String, Sendable, CaseIterable {
        /// Current vLLM (`--reasoning-parser deepseek_v4`).
        case reasoning
        /// The DeepSeek API and SGLang.
        case reasoningContent = "reasoning_content"
    }

    // MARK: model

    /// The served model name (`/v1/models`, `model` in responses). Requests for another name get 404.
    public var model: String
    /// More model names the engine answers to (the DeepSeek API stand-in serves Flash and Pro).
    public var aliases: [String] = []
    /// Context window: prompt + max_tokens above it is vLLM's 400.
    public var maxModelLen: Int
    /// Key of reasoning text in messages and deltas.
    public var reasoningField: ReasoningField
    /// Usage like the DeepSeek API: `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens` from a
    /// simulated prefix cache, plus `system_fingerprint`.
    public var deepSeekUsage: Bool

    // MARK: output

    /// Natural answer length in tokens (content only) when max_tokens does not cut it.
    public var outputTokens: Int
    /// Spread of the natural length, 0...1: each request draws a length in
    /// outputTokens × [1 - spread, 1 + spread], deterministically from the request.
    public var outputTokensSpread: Double
    /// Reasoning tokens produced before the answer when thinking is on.
    public var reasoningTokens: Int

    // MARK: timing model

    /// No modelled delay at all: answers are written as soon as the request is read.
    public var instant: Bool
    /// Running-sequence cap (vLLM `--max-num-seqs`).
    public var maxNumSeqs: Int
    /// Waiting requests beyond the running cap; one more is refused with 503.
    public var maxQueue: Int
    /// KV cache capacity in tokens; a request is admitted only when its prompt fits in what is free.
    public var kvCacheTokens: Int
    /// Fixed part of the time to first token, in milliseconds.
    public var prefillBaseMs: Double
    /// Prefill time per 1,000 prompt tokens, in milliseconds.
    public var prefillMsPer1kTokens: Double
    /// Time per output token of one sequence running alone, in milliseconds.
    public var decodeMsPerToken: Double
    /// Each additional running sequence makes every token this fraction slower
    /// (0.002 → 256 running sequences decode 1.51× slower than one).
    public var decodeSlowdownPerSeq: Double

    // MARK: faults at start

    public var faults: EngineSimFaults

    public init(
        model: String = "deepseek-v4-flash",
        maxModelLen: Int = 1_048_576,
        reasoningField: ReasoningField = .reasoning,
        deepSeekUsage: Bool = false,
        outputTokens: Int = 64,
        outputTokensSpread: Double = 0,
        reasoningTokens: Int = 16,
        instant: Bool = false,
        maxNumSeqs: Int = 256,
        maxQueue: Int = 4096,
        kvCacheTokens: Int = 4_000_000,
        prefillBaseMs: Double = 30,
        prefillMsPer1kTokens: Double = 300,
        decodeMsPerToken: Double = 20,
        decodeSlowdownPerSeq: Double = 0.002,
        faults: EngineSimFaults = EngineSimFaults()
    ) {
        self.model = model
        self.maxModelLen = maxModelLen
        self.reasoningField = reasoningField
        self.deepSeekUsage = deepSeekUsage
        self.outputTokens = outputTokens
        self.outputTokensSpread = outputTokensSpread
        self.reasoningTokens = reasoningTokens
        self.instant = instant
        self.maxNumSeqs = maxNumSeqs
        self.maxQueue = maxQueue
        self.kvCacheTokens = kvCacheTokens
        self.prefillBaseMs = prefillBaseMs
        self.prefillMsPer1kTokens = prefillMsPer1kTokens
        self.decodeMsPerToken = decodeMsPerToken
        self.decodeSlowdownPerSeq = decodeSlowdownPerSeq
        self.faults = faults
    }

    /// Checks the numbers; returns a message naming the first bad option.
    public func validate() -> String? {
        if model.isEmpty { return "--model must not be empty" }
        if maxModelLen < 1 { return "--max-model-len must be at least 1" }
        if outputTokens < 1 { return "--output-tokens must be at least 1" }
        if !(0...1).contains(outputTokensSpread) { return "--output-tokens-spread must be between 0 and 1" }
        if reasoningTokens < 0 { return "--reasoning-tokens must not be negative" }
        if maxNumSeqs < 1 { return "--max-num-seqs must be at least 1" }
        if maxQueue < 0 { return "--max-queue must not be negative" }
        if kvCacheTokens < 1 { return "--kv-cache-tokens must be at least 1" }
        if prefillBaseMs < 0 || prefillMsPer1kTokens < 0 || decodeMsPerToken < 0 || decodeSlowdownPerSeq < 0 {
            return "timing options must not be negative"
        }
        return faults.validate()
    }
}

/// Faults the simulator injects. Set at start, changed at runtime with
/// ``EngineSimulator/setFaults(_:)`` or `POST /sim/faults`.
public struct EngineSimFaults: Sendable, Equatable {
    /// Fraction of inference requests answered 500 (spread evenly: 0.25 fails every fourth).
    public var errorRate: Double
    /// Stop listening (connects are refused) and close kept-alive connections at their next request.
    public var refuseConnections: Bool
    /// Hold every inference response's head this long, in milliseconds.
    public var stallMs: Int
    /// Close the connection after this many SSE events of a stream (nil: never).
    public var dropAfterChunks: Int?
    /// `/health` answers 503.
    public var unhealthy: Bool
    /// Answers carry no usage (no `usage` in a body, no usage chunk in a stream), as from an
    /// engine that does not report it: for testing what a gateway bills then.
    public var omitUsage: Bool

    public init(
        errorRate: Double = 0, refuseConnections: Bool = false, stallMs: Int = 0, dropAfterChunks: Int? = nil,
        unhealthy: Bool = false, omitUsage: Bool = false
    ) {
        self.errorRate = errorRate
        self.refuseConnections = refuseConnections
        self.stallMs = stallMs
        self.dropAfterChunks = dropAfterChunks
        self.unhealthy = unhealthy
        self.omitUsage = omitUsage
    }

    public func validate() -> String? {
        if !(0...1).contains(errorRate) { return "error rate must be between 0 and 1" }
        if stallMs < 0 { return "stall must not be negative" }
        if let dropAfterChunks, dropAfterChunks < 0 { return "drop-after-chunks must not be negative" }
        return nil
    }
}
