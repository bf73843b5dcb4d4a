/// Token usage as an engine reports it (OpenAI `usage`, with DeepSeek's cache split).
public struct TokenUsage: Equatable, Sendable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// DeepSeek `prompt_cache_hit_tokens`, or OpenAI `prompt_tokens_details.cached_tokens`.
    public var cacheHitTokens: Int?
    /// `completion_tokens_details.reasoning_tokens` (part of completion tokens).
    public var reasoningTokens: Int?

    public init(promptTokens: Int, completionTokens: Int, cacheHitTokens: Int? = nil, reasoningTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cacheHitTokens = cacheHitTokens
        self.reasoningTokens = reasoningTokens
    }

    /// Reads a `usage` object; nil when it is not one or lacks the two basic counts.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> TokenUsage? {
        var scanner = JSONScanner(bytes)
        return try? read(&scanner).usage
    }

    /// Walks the `usage` object at the scanner (which must be one): its range, and its counts
    /// when it has the two basic ones. Used by ``ResponseShape`` to read the usage in the same
    /// pass that finds it.
    static func read(_ scanner: inout JSONScanner) throws -> (range: Range<Int>, usage: TokenUsage?) {
        var prompt: Int?
        var completion: Int?
        var hit: Int?
        var cached: Int?
        var reasoning: Int?
        func readCount(_ value: inout JSONScanner) throws -> Int? {
            try value.peekKind() == .number ? try value.readInt() : nil
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
            }
        }
        guard let prompt, let completion else { return (range, nil) }
        return (range, TokenUsage(promptTokens: prompt, completionTokens: completion, cacheHitTokens: hit ?? cached, reasoningTokens: reasoning))
    }
}
