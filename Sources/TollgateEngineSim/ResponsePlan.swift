/// Why a choice ended, as the OpenAI protocol names it.
enum FinishReason: String {
    case stop, length
    case toolCalls = "tool_calls"

    /// vLLM's `finished_reason` label: tool calls end on a stop token.
    var metricLabel: MetricReason { self == .length ? .length : .stop }
}

/// One tool call the answer makes.
struct ToolCallPlan {
    var id: [UInt8]
    var name: String
    var arguments: [UInt8]
    /// Byte ranges of `arguments` streamed one per token (never splitting a UTF-8 sequence).
    var fragments: [Range<Int>]
    /// Tokens of the call: one for the name, one per fragment.
    var tokens: Int { 1 + fragments.count }
}

/// What one choice will produce, decided before the first token.
struct ChoicePlan {
    var seed: UInt64
    var reasoningTokens: Int
    var contentTokens: Int
    var tool: ToolCallPlan?
    /// Tool tokens actually emitted (max_tokens may cut the call short).
    var toolTokens: Int
    var finishReason: FinishReason

    /// Decode steps of this choice: one token each.
    var steps: Int { reasoningTokens + (tool == nil ? contentTokens : toolTokens) }
    var completionTokens: Int { steps }
}

/// The whole answer to one request: choices, token counts and the prefix-cache split.
struct ResponsePlan {
    var choices: [ChoicePlan]
    var promptTokens: Int
    var cachedPromptTokens: Int
    var completionTokens: Int { choices.reduce(0) { $0 + $1.completionTokens } }
    var reasoningTokens: Int { choices.reduce(0) { $0 + $1.reasoningTokens } }
    /// Decode steps of the longest choice (at least one, for the finish chunk).
    var steps: Int { max(1, choices.reduce(0) { max($0, $1.steps) }) }

    /// Chooses lengths: reasoning first (when thinking is on), then the answer or the tool call,
    /// all within max_tokens (a chat without it: what is left of the context window).
    static func make(
        _ request: SimRequest, configuration: EngineSimConfiguration, cachedPromptTokens: Int, idSeed: UInt64
    ) -> ResponsePlan {
        let budget = max(0, request.maxTokens ?? (configuration.maxModelLen - request.promptTokens))
        let thinking = request.base.thinking
        var choices: [ChoicePlan] = []
        choices.reserveCapacity(request.n)
        for index in 0..<request.n {
            let seed = index == 0 ? request.seed : PromptHash.mix(request.seed, UInt64(index))
            let reasoning = thinking ? min(configuration.reasoningTokens, budget) : 0
            let left = budget - reasoning
            if let forced = request.base.endpoint == .chat ? request.forcedTool : nil {
                let arguments = ToolArguments.generate(schema: forced.parameters, seed: seed)
                let tool = ToolCallPlan(
                    id: toolCallID(PromptHash.mix(idSeed, UInt64(index))), name: forced.name, arguments: arguments,
                    fragments: fragments(of: arguments))
                let emitted = min(tool.tokens, left)
                choices.append(
                    ChoicePlan(
                        seed: seed, reasoningTokens: reasoning, contentTokens: 0, tool: tool, toolTokens: emitted,
                        finishReason: emitted < tool.tokens ? .length : .toolCalls))
                continue
            }
            let natural = request.ignoreEOS ? left : naturalLength(seed: seed, configuration: configuration)
            let content = min(natural, left)
            // ignore_eos runs to max_tokens, which vLLM reports as a length stop.
            let cut = request.ignoreEOS || content < natural
            choices.append(
                ChoicePlan(
                    seed: seed, reasoningTokens: reasoning, contentTokens: content, tool: nil, toolTokens: 0,
                    finishReason: cut ? .length : .stop))
        }
        return ResponsePlan(choices: choices, promptTokens: request.promptTokens, cachedPromptTokens: cachedPromptTokens)
    }

    private static func naturalLength(seed: UInt64, configuration: EngineSimConfiguration) -> Int {
        let mean = configuration.outputTokens
        guard configuration.outputTokensSpread > 0 else { return mean }
        let unit = Double(PromptHash.mix(seed, 0x5EED) >> 11) / Double(1 << 53)  // 0..<1
        let factor = 1 + configuration.outputTokensSpread * (2 * unit - 1)
        return max(1, Int((Double(mean) * factor).rounded()))
    }

    /// About four bytes per fragment, cut only at UTF-8 sequence starts.
    static func fragments(of bytes: [UInt8]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        while start < bytes.count {
            var end = min(start + 4, bytes.count)
            while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
            result.append(start..<end)
            start = end
        }
        return result
    }

    /// vLLM's tool-call ids: `chatcmpl-tool-` and 32 hex digits.
    static func toolCallID(_ seed: UInt64) -> [UInt8] {
        var out = Array("chatcmpl-tool-".utf8)
        Hex.append(seed, to: &out)
        Hex.append(PromptHash.mix(seed, 1), to: &out)
        return out
    }
}

/// Lower-case hex digits.
enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends 16 hex digits.
    @inline(__always)
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var shift = 60
        while shift >= 0 {
            out.append(digits[Int((value >> UInt64(shift)) & 0xF)])
            shift -= 4
        }
    }
}
