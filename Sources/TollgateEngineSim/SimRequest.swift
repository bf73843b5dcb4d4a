import TollgateWire

/// What the simulator needs from a chat or completions request, read in one pass with
/// ``JSONScanner`` (no Foundation: the `--instant` path must stay cheap).
struct SimRequest {
    /// How `tool_choice` asks for tools.
    enum ToolChoice: Equatable {
        case none, auto, required
        case named(String)
    }

    /// One offered function.
    struct Tool {
        var name: String
        var parameters: SimJSON?
    }

    var base: InferenceRequest
    /// Approximate prompt tokens (see ``PromptTokens``), all prompts of a batch together.
    var promptTokens: Int
    /// The longest single prompt: of a batch of completions prompts, which the engine holds in
    /// its context one at a time; otherwise `promptTokens`.
    var longestPromptTokens: Int
    /// Hashes of growing prompt prefixes (one per message) with their token counts, for the
    /// simulated prefix cache.
    var prefixes: [PromptPrefix]
    var tools: [Tool]
    var toolChoice: ToolChoice
    /// Chat `logprobs: true`, or completions `logprobs: k`.
    var logprobs: Bool
    var topLogprobs: Int
    /// Choices to generate: `n`, for each prompt of a batch of completions prompts (vLLM orders
    /// them prompt by prompt).
    var n: Int
    /// vLLM's `ignore_eos`: generate until max_tokens (what `vllm bench serve` sends).
    var ignoreEOS: Bool
    /// Seeds the generated text: a hash of the whole body, so equal requests get equal answers.
    var seed: UInt64
    /// Text pieces of the prompt, for `/tokenize` (only filled when asked for).
    var segments: [PromptSegment]

    /// `max_tokens` as vLLM applies it: a completion without one gets 16 (the default of vLLM's
    /// and OpenAI's `/v1/completions`); a chat without one may use the rest of the context.
    var maxTokens: Int? { base.maxTokens ?? (base.endpoint == .completions ? 16 : nil) }

    /// The tool the answer must call, when tools are offered and `tool_choice` demands one.
    var forcedTool: Tool? {
        guard !tools.isEmpty else { return nil }
        switch toolChoice {
        case .required: return tools[0]
        case .named(let name): return tools.first { $0.name == name }
        case .none, .auto: return nil
        }
    }

    /// The most choices one request may ask for (`n` times the prompts of a batch).
    static let maxChoices = 4096

    static func parse(
        _ body: UnsafeRawBufferPointer, endpoint: InferenceEndpoint, collectSegments: Bool = false
    ) throws(GatewayError) -> SimRequest {
        let base = try InferenceRequest.parse(body, endpoint: endpoint)
        var request = SimRequest(
            base: base, promptTokens: 0, longestPromptTokens: 0, prefixes: [], tools: [], toolChoice: .auto, logprobs: false,
            topLogprobs: 0, n: 1, ignoreEOS: false, seed: PromptHash.fnv(body), segments: [])
        do {
            try request.readExtras(body, collectSegments: collectSegments)
        } catch let error as GatewayError {
            throw error
        } catch {
            // The base parse validated the JSON already; only field-type problems land here.
            throw GatewayError.invalidRequest("The request body could not be read.")
        }
        return request
    }

    private mutating func readExtras(_ body: UnsafeRawBufferPointer, collectSegments: Bool) throws {
        var counter = PromptTokens(collectSegments: collectSegments)
        var scanner = JSONScanner(body)
        var toolsRange: Range<Int>?
        var effort: String?
        let endpoint = base.endpoint
        try scanner.walkObject { key, _, value in
            if JSONScanner.key(key, is: "messages"), endpoint == .chat {
                try value.walkArray { _, message in
                    let start = message.offset
                    var messageBytes = 0
                    try message.walkObject { field, _, inner in
                        if JSONScanner.key(field, is: "content") {
                            messageBytes += try PromptTokens.textBytes(&inner, segments: &counter)
                        } else if JSONScanner.key(field, is: "reasoning_content") || JSONScanner.key(field, is: "reasoning")
                            || JSONScanner.key(field, is: "name")
                        {
                            messageBytes += try PromptTokens.textBytes(&inner, segments: &counter)
                        } else if JSONScanner.key(field, is: "tool_calls") {
                            let range = try inner.skipValue().range
                            messageBytes += range.count
                            counter.addText(range)
                        }
                    }
                    counter.addMessage(bytes: messageBytes)
                    let raw = UnsafeRawBufferPointer(rebasing: body[start..<message.offset])
                    counter.notePrefix(PromptHash.fnv(raw, seed: counter.prefixHash))
                }
            } else if JSONScanner.key(key, is: "prompt"), endpoint == .completions {
                try counter.addCompletionPrompt(&value)
            } else if JSONScanner.key(key, is: "suffix"), endpoint == .completions {
                try counter.addSuffix(&value)
            } else if JSONScanner.key(key, is: "tools"), endpoint == .chat {
                guard try value.peekKind() == .array else { return }
                let start = value.offset
                try value.walkArray { _, tool in
                    if let parsed = try Self.readTool(&tool) { tools.append(parsed) }
                }
                toolsRange = start..<value.offset
            } else if JSONScanner.key(key, is: "tool_choice") {
                toolChoice = try Self.readToolChoice(&value)
            } else if JSONScanner.key(key, is: "logprobs") {
                switch try value.peekKind() {
                case .bool: logprobs = try value.readBool()
                case .number:
                    // Completions: `logprobs: k` asks for k alternatives.
                    let k = try value.readInt() ?? 0
                    logprobs = k > 0 || endpoint == .completions
                    topLogprobs = max(0, min(k, 20))
                default: try value.skipValue()
                }
            } else if JSONScanner.key(key, is: "top_logprobs") {
                if try value.peekKind() == .number { topLogprobs = max(0, min(try value.readInt() ?? 0, 20)) }
            } else if JSONScanner.key(key, is: "n") {
                if try value.peekKind() == .number {
                    guard let count = try value.readInt(), (1...128).contains(count) else {
                        throw GatewayError.invalidRequest("'n' must be an integer between 1 and 128.", param: "n")
                    }
                    n = count
                }
            } else if JSONScanner.key(key, is: "ignore_eos") {
                if try value.peekKind() == .bool { ignoreEOS = try value.readBool() }
            } else if JSONScanner.key(key, is: "reasoning_effort") {
                if try value.peekKind() == .string { effort = try value.readString() }
            }
        }
        if base.thinking {
            counter.addEffortPreamble(tokens: PromptTokens.effortPreambleTokens(effort))
        }
        if let toolsRange, tools.count > 0 {
            // Tools are rendered once, as a system block, at the front of the prompt.
            counter.addTools(range: toolsRange, hash: PromptHash.fnv(UnsafeRawBufferPointer(rebasing: body[toolsRange])))
        }
        counter.finish(endpoint: endpoint)
        promptTokens = counter.tokens
        longestPromptTokens = counter.longestPrompt
        if endpoint == .completions {
            // vLLM sets no bound; a simulator answering millions of choices would only run out of memory.
            guard counter.promptCount <= Self.maxChoices / n else {
                throw GatewayError.invalidRequest(
                    "The simulator answers at most \(Self.maxChoices) choices: n × prompts is \(n * counter.promptCount).",
                    param: "prompt")
            }
            n *= counter.promptCount
        }
        prefixes = counter.prefixes
        segments = counter.segments
        if case .named(let name) = toolChoice, !tools.isEmpty, !tools.contains(where: { $0.name == name }) {
            throw GatewayError.invalidRequest(
                "tool_choice names the function '\(name.prefix(100))', which is not in 'tools'.", param: "tool_choice")
        }
    }

    private static func readTool(_ scanner: inout JSONScanner) throws -> Tool? {
        guard try scanner.peekKind() == .object else { return nil }
        var tool: Tool?
        try scanner.walkObject { key, _, value in
            guard JSONScanner.key(key, is: "function"), try value.peekKind() == .object else { return }
            var name: String?
            var parameters: SimJSON?
            try value.walkObject { field, _, inner in
                if JSONScanner.key(field, is: "name"), try inner.peekKind() == .string {
                    name = try inner.readString()
                } else if JSONScanner.key(field, is: "parameters") {
                    parameters = try SimJSON.read(&inner)
                }
            }
            if let name { tool = Tool(name: name, parameters: parameters) }
        }
        return tool
    }

    private static func readToolChoice(_ scanner: inout JSONScanner) throws -> ToolChoice {
        switch try scanner.peekKind() {
        case .string:
            switch try scanner.readString() {
            case "none": return .none
            case "required": return .required
            default: return .auto
            }
        case .object:
            var name: String?
            try scanner.walkObject { key, _, value in
                if JSONScanner.key(key, is: "function"), try value.peekKind() == .object {
                    try value.walkObject { field, _, inner in
                        if JSONScanner.key(field, is: "name"), try inner.peekKind() == .string {
                            name = try inner.readString()
                        }
                    }
                }
            }
            return name.map(ToolChoice.named) ?? .auto
        default:
            try scanner.skipValue()
            return .auto
        }
    }
}
