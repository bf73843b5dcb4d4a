/// Token usage as an engine reports it (OpenAI `usage`, with DeepSeek's cache split).
public struct TokenUsage: Equatable, Sendable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// DeepSeek `prompt_cache_hit_tokens`, or OpenAI `prompt_tokens_details.cached_tokens`.
    public var cacheHitTokens: Int?
    /// `completion_tokens_details.reasoning_tokens` (part of completion tokens).
    public var reasoningTokens: Int?

    /// The largest token count Tollgate takes from a client (`max_tokens`) or an engine (usage):
    /// the ledger's integer columns, and the bound that keeps every priced amount inside 64-bit
    /// nano-units (docs/PRICING.md, "Bounds").
    public static let maxCount = Int(Int32.max)

    public init(promptTokens: Int, completionTokens: Int, cacheHitTokens: Int? = nil, reasoningTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cacheHitTokens = cacheHitTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Reads a `usage` object; nil when it is not one or lacks the two basic counts. A count that
    /// is not an integer in 0...``maxCount``, or cache hits above the prompt, is treated as absent:
    /// an engine's nonsense is never billed (without the two basic counts, Tollgate counts the
    /// tokens itself).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> TokenUsage? {
        var scanner = JSONScanner(bytes)
        return try? read(&scanner).usage
    }

    /// Walks the `usage` object at the scanner (which must be one): its range, and its counts
    /// when it has the two basic ones. Used by ``ResponseShape`` to read the usage in the same
    /// pass that finds it. `costRange` is the range of a `cost` member's value (an upstream
    /// gateway's price, which Tollgate's replaces).
    static func read(_ scanner: inout JSONScanner) throws -> (range: Range<Int>, usage: TokenUsage?, costRange: Range<Int>?) {
        var prompt: Int?
        var completion: Int?
        var hit: Int?
        var cached: Int?
        var reasoning: Int?
        var costRange: Range<Int>?
        func readCount(_ value: inout JSONScanner) throws -> Int? {
            guard try value.peekKind() == .number, let count = try value.readInt() else { return nil }
            return (0...maxCount).contains(count) ? count : nil
        }
        let range = try scanner.walkObject { key, _, value in
            if JSONScanner.key(key, is: "prompt_tokens") {
                prompt = try readCount(&value)
            } else if JSONScanner.key(key, is: "completion_tokens") {
                completion = try readCount(&value)
            } else if JSONScanner.key(key, is: "prompt_cache_hit_tokens") {
                hit = try readCount(&value)
            } else if JSONScanner.key(key, is: "prompt_tokens_details"), try value.peekKind() == .object {
                try value.walkObject { detailKey, _, detail in
                    if JSONScanner.key(detailKey, is: "cached_tokens") { cached = try readCount(&detail) }
                }
            } else if JSONScanner.key(key, is: "completion_tokens_details"), try value.peekKind() == .object {
                try value.walkObject { detailKey, _, detail in
                    if JSONScanner.key(detailKey, is: "reasoning_tokens") { reasoning = try readCount(&detail) }
                }
            } else if JSONScanner.key(key, is: "cost") {
                costRange = try value.skipValue().range
            }
        }
        guard let prompt, let completion else { return (range, nil, costRange) }
        // A cache count above the prompt is as absent as a negative one: no engine can mean it.
        let hits = (hit ?? cached).flatMap { $0 <= prompt ? $0 : nil }
        let usage = TokenUsage(promptTokens: prompt, completionTokens: completion, cacheHitTokens: hits, reasoningTokens: reasoning)
        return (range, usage, costRange)
    }
}
