/// Which OpenAI endpoint a request came in on.
public enum InferenceEndpoint: String, Sendable {
    /// `POST /v1/chat/completions`
    case chat = "/chat/completions"
    /// `POST /v1/completions` (legacy and FIM)
    case completions = "/completions"

    /// The request field that holds the prompt, which an error about its length names.
    public var promptParam: String { self == .chat ? "messages" : "prompt" }
}

/// The few fields of a chat or completions request that the gateway needs, read from the raw body
/// in one validating pass, with the byte ranges needed to rewrite it without re-encoding.
///
/// Everything else a client sends (`thinking`, `tools`, `response_format`, unknown fields...) stays
/// in the original bytes and reaches the engine unchanged.
public struct InferenceRequest: Sendable {
    public var endpoint: InferenceEndpoint
    public var model: String
    public var stream: Bool
    /// The client asked for the usage chunk (`stream_options.include_usage: true`).
    public var clientWantsUsage: Bool
    /// `max_completion_tokens`, else `max_tokens`, when given.
    public var maxTokens: Int?
    /// How many completions the engine generates, each up to `maxTokens`: `n` (1 when not given),
    /// times the prompts of a batched `/v1/completions` request.
    public var choices: Int
    /// Thinking mode as vLLM's DeepSeek V4 glue decides it: on unless `thinking.type` is
    /// `disabled` or `reasoning_effort` is `none`; `chat_template_kwargs.thinking` or
    /// `enable_thinking`, when given, override `thinking.type` (on when either is truthy).
    /// Always off for `/v1/completions`: its prompt is raw text, with no template to open a
    /// thinking block, so its answer is estimated at the model's chat-mode length.
    public var thinking: Bool
    /// Chat prefix completion (`prefix: true` on the last assistant message) or FIM (`suffix`):
    /// the DeepSeek API takes these on its beta base URL only.
    public var needsBeta: Bool
    /// The messages of a plain chat request, for counting its prompt without reading the body
    /// again; recorded only when asked (`recordingTurns`), nil for requests that are not plain.
    public var chatTurns: ChatTurns?

    // Byte ranges in the original body, for ``rewrite(_:servedModel:forceUsage:)``.
    var modelValueRange: Range<Int>
    var streamOptionsRange: Range<Int>?
    var streamOptionsIsEmpty: Bool
    var includeUsageValueRange: Range<Int>?
    /// vLLM's `stream_options.continuous_usage_stats: true`: a running usage on every chunk, which
    /// vLLM sends only with `include_usage`.
    var continuousUsageValueRange: Range<Int>?
    var objectEnd: Int

    /// Reads and validates `body`. Throws ``GatewayError`` (400 `invalid_json` or `invalid_request`).
    /// With `recordingTurns`, a plain chat request's messages are recorded too (``chatTurns``).
    public static func parse(
        _ body: UnsafeRawBufferPointer, endpoint: InferenceEndpoint, recordingTurns: Bool = false
    ) throws(GatewayError) -> InferenceRequest {
        do {
            if recordingTurns && endpoint == .chat { return try parseOrThrow(body, endpoint: endpoint, turns: ChatTurnRecorder()) }
            return try parseOrThrow(body, endpoint: endpoint, turns: NoTurns())
        } catch let error as GatewayError {
            throw error
        } catch let error as JSONSyntaxError {
            throw GatewayError.invalidJSON(error)
        } catch {
            throw GatewayError.invalidRequest("The request body could not be read.")
        }
    }

    private static func parseOrThrow<Turns: TurnRecording>(
        _ body: UnsafeRawBufferPointer, endpoint: InferenceEndpoint, turns initialTurns: Turns
    ) throws -> InferenceRequest {
        var scanner = JSONScanner(body)
        guard body.count > 0 else { throw GatewayError.invalidRequest("The request body is empty; send a JSON object.") }
        let rootKind = try scanner.peekKind()
        guard rootKind == .object else {
            try scanner.skipValue()
            try scanner.expectEnd()
            throw GatewayError.invalidRequest("The request body must be a JSON object.")
        }
        var model: String?
        var modelRange: Range<Int>?
        var stream = false
        var wantsUsage = false
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var choices = 1
        var prompts = 1
        var thinkingDisabled = false
        var templateThinking: Bool?
        var effortIsNone = false
        var prefixNeedsBeta = false
        var suffixNeedsBeta = false
        var sawMessages = false
        var sawPrompt = false
        var streamOptionsRange: Range<Int>?
        var streamOptionsIsEmpty = false
        var includeUsageRange: Range<Int>?
        var continuousUsageRange: Range<Int>?
        var turns = initialTurns

        let objectRange = try scanner.walkObject { key, _, value in
            func kind() throws -> JSONKind { try value.peekKind() }
            func typeError(_ expected: String) -> GatewayError {
                .invalidRequest("'\(String(decoding: key, as: UTF8.self))' must be \(expected).", param: String(decoding: key, as: UTF8.self))
            }
            turns.key(escaped: value.keyHasEscapes)
            if value.keyHasEscapes { try refuseEscapedKey(key, among: routingKeys) }
            if JSONScanner.key(key, is: "model") {
                guard try kind() == .string else { throw typeError("a string") }
                let start = value.offset
                model = try value.readString()
                modelRange = start..<value.offset
            } else if JSONScanner.key(key, is: "stream") {
                switch try kind() {
                case .bool: stream = try value.readBool()
                case .null:
                    stream = false
                    try value.skipValue()
                default: throw typeError("a boolean")
                }
            } else if JSONScanner.key(key, is: "stream_options") {
                // Written twice, the last one counts (as the engine's parser reads it).
                wantsUsage = false
                streamOptionsRange = nil
                includeUsageRange = nil
                continuousUsageRange = nil
                switch try kind() {
                case .null: try value.skipValue()
                case .object:
                    streamOptionsIsEmpty = true
                    streamOptionsRange = try value.walkObject { optionKey, _, option in
                        streamOptionsIsEmpty = false
                        if option.keyHasEscapes {
                            try refuseEscapedKey(optionKey, among: ["include_usage", "continuous_usage_stats"], in: "stream_options")
                        }
                        if JSONScanner.key(optionKey, is: "include_usage") {
                            let start = option.offset
                            switch try option.peekKind() {
                            case .bool: wantsUsage = try option.readBool()
                            case .null:
                                wantsUsage = false
                                try option.skipValue()
                            default:
                                throw GatewayError.invalidRequest(
                                    "'stream_options.include_usage' must be a boolean.", param: "stream_options")
                            }
                            includeUsageRange = start..<option.offset
                        } else if JSONScanner.key(optionKey, is: "continuous_usage_stats"), try option.peekKind() == .bool {
                            let start = option.offset
                            continuousUsageRange = try option.readBool() ? start..<option.offset : nil
                        }
                    }
                default: throw typeError("an object")
                }
            } else if JSONScanner.key(key, is: "max_tokens") || JSONScanner.key(key, is: "max_completion_tokens") {
                let isCompletion = JSONScanner.key(key, is: "max_completion_tokens")
                switch try kind() {
                case .null:
                    if isCompletion { maxCompletionTokens = nil } else { maxTokens = nil }
                    try value.skipValue()
                case .number:
                    guard let number = try value.readInt(), (0...TokenUsage.maxCount).contains(number) else {
                        throw typeError("an integer from 0 to \(TokenUsage.maxCount)")
                    }
                    if isCompletion { maxCompletionTokens = number } else { maxTokens = number }
                default: throw typeError("an integer")
                }
            } else if JSONScanner.key(key, is: "n") {
                switch try kind() {
                case .null:
                    choices = 1
                    try value.skipValue()
                case .number:
                    guard let number = try value.readInt(), (1...TokenUsage.maxCount).contains(number) else {
                        throw typeError("an integer from 1 to \(TokenUsage.maxCount)")
                    }
                    choices = number
                default: throw typeError("an integer")
                }
            } else if JSONScanner.key(key, is: "thinking") {
                turns.once(ChatTurnRecorder.thinking)
                thinkingDisabled = false
                switch try kind() {
                case .null: try value.skipValue()
                case .object:
                    try value.walkObject { thinkingKey, _, field in
                        turns.key(escaped: field.keyHasEscapes)
                        if field.keyHasEscapes { try refuseEscapedKey(thinkingKey, among: ["type"], in: "thinking") }
                        if JSONScanner.key(thinkingKey, is: "type") {
                            turns.once(ChatTurnRecorder.thinkingType)
                            thinkingDisabled = try field.peekKind() == .string && field.readString() == "disabled"
                        }
                    }
                default: throw typeError("an object")
                }
            } else if JSONScanner.key(key, is: "reasoning_effort") {
                turns.once(ChatTurnRecorder.effort)
                effortIsNone = false
                if try kind() == .string {
                    let effort = try value.readString()
                    effortIsNone = effort == "none"
                    turns.effort(effort)
                }
            } else if JSONScanner.key(key, is: "messages") {
                guard endpoint == .chat else { return }
                guard try kind() == .array else { throw typeError("an array of messages") }
                turns.once(ChatTurnRecorder.messages)
                sawMessages = true
                var lastIsPrefix = false
                try value.walkArray { _, message in
                    guard try message.peekKind() == .object else {
                        throw GatewayError.invalidRequest("Each message must be an object.", param: "messages")
                    }
                    var hasRole = false
                    var isAssistant = false
                    var prefix = false
                    var turn = ChatTurnRecorder.Message()
                    try message.walkObject { messageKey, _, field in
                        turns.key(escaped: field.keyHasEscapes)
                        if field.keyHasEscapes { try refuseEscapedKey(messageKey, among: ["role", "prefix"], in: "messages") }
                        if JSONScanner.key(messageKey, is: "role") {
                            guard try field.peekKind() == .string else {
                                throw GatewayError.invalidRequest("'role' must be a string.", param: "messages")
                            }
                            // Compared as written: no String is built for a role on the hot path.
                            let (range, escaped) = try field.readStringRange()
                            let name = UnsafeRawBufferPointer(rebasing: body[range])
                            hasRole = true
                            isAssistant = escaped ? JSONScanner.unescape(name) == "assistant" : JSONScanner.key(name, is: "assistant")
                            turns.role(name, escaped: escaped, of: &turn)
                        } else if JSONScanner.key(messageKey, is: "prefix") {
                            prefix = try field.peekKind() == .bool && field.readBool()
                        } else {
                            try turns.member(messageKey, &field, of: &turn)
                        }
                    }
                    guard hasRole else {
                        throw GatewayError.invalidRequest("Each message needs a 'role'.", param: "messages")
                    }
                    turns.end(turn)
                    lastIsPrefix = prefix && isAssistant
                }
                prefixNeedsBeta = lastIsPrefix
            } else if JSONScanner.key(key, is: "prompt") {
                guard endpoint == .completions else { return }
                switch try kind() {
                case .string:
                    sawPrompt = true
                    prompts = 1
                case .array:
                    // A list of strings or of token-id lists is a batch; a list of ids is one prompt.
                    sawPrompt = true
                    var count = 0
                    var isBatch = false
                    _ = try value.walkArray { index, element in
                        if index == 0 { isBatch = try element.peekKind() != .number }
                        count += 1
                        try element.skipValue()
                    }
                    guard count > 0 else {
                        throw GatewayError.invalidRequest("'prompt' must not be an empty array.", param: "prompt")
                    }
                    prompts = isBatch ? count : 1
                default: throw typeError("a string or an array")
                }
            } else if JSONScanner.key(key, is: "suffix") {
                guard endpoint == .completions else { return }
                switch try kind() {
                case .string: suffixNeedsBeta = true
                case .null: suffixNeedsBeta = false
                default: throw typeError("a string")
                }
            } else if JSONScanner.key(key, is: "tools") {  // last: only the count reads these
                turns.once(ChatTurnRecorder.tools)
                try turns.tools(&value)
            } else if JSONScanner.key(key, is: "chat_template_kwargs") {
                turns.once(ChatTurnRecorder.templateKwargs)
                templateThinking = nil
                switch try kind() {
                case .null: try value.skipValue()
                case .object:
                    // Only the thinking flags change DeepSeek V4's layout; other kwargs are the engine's.
                    var flag = false, enable = false, seen = SeenKeys()
                    try value.walkObject { kwarg, _, field in
                        turns.key(escaped: field.keyHasEscapes)
                        if field.keyHasEscapes { try refuseEscapedKey(kwarg, among: ["thinking", "enable_thinking"], in: "chat_template_kwargs") }
                        let isFlag = JSONScanner.key(kwarg, is: "thinking")
                        guard isFlag || JSONScanner.key(kwarg, is: "enable_thinking") else { return }
                        if !seen.insert(isFlag ? 0 : 1) { turns.giveUp() }
                        if isFlag { flag = try field.readTruthiness() } else { enable = try field.readTruthiness() }
                        templateThinking = flag || enable
                    }
                default: turns.giveUp()
                }
            }
        }
        try scanner.expectEnd()
        guard let model, let modelRange else {
            throw GatewayError.invalidRequest("You must provide a model parameter.", param: "model")
        }
        if endpoint == .chat && !sawMessages {
            throw GatewayError.invalidRequest("'messages' is required.", param: "messages")
        }
        if endpoint == .completions && !sawPrompt {
            throw GatewayError.invalidRequest("'prompt' is required.", param: "prompt")
        }
        let (product, overflow) = choices.multipliedReportingOverflow(by: prompts)
        let generations = overflow ? TokenUsage.maxCount : min(product, TokenUsage.maxCount)
        return InferenceRequest(
            endpoint: endpoint, model: model, stream: stream, clientWantsUsage: stream && wantsUsage,
            maxTokens: maxCompletionTokens ?? maxTokens,
            choices: generations,
            thinking: endpoint == .chat && (templateThinking ?? !thinkingDisabled) && !effortIsNone,
            needsBeta: prefixNeedsBeta || suffixNeedsBeta,
            chatTurns: turns.recorded,
            modelValueRange: modelRange, streamOptionsRange: streamOptionsRange, streamOptionsIsEmpty: streamOptionsIsEmpty,
            includeUsageValueRange: includeUsageRange, continuousUsageValueRange: continuousUsageRange,
            objectEnd: objectRange.upperBound - 1)
    }

    /// The top-level keys routing and the estimate read (`tools` is only counted, and the count
    /// decodes escaped keys as the engine does).
    private static let routingKeys = [
        "model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "thinking", "reasoning_effort",
        "messages", "prompt", "suffix", "chat_template_kwargs",
    ]

    /// A key the parse reads, written with escapes (`"mod\u0065l"`), is refused: the engine's
    /// parser decodes it and would act on a value the gateway never read (a request billed as one
    /// model and served as another). Other keys may be written as the client likes.
    private static func refuseEscapedKey(
        _ key: UnsafeRawBufferPointer, among names: [String], in parent: String? = nil
    ) throws(GatewayError) {
        let decoded = JSONScanner.unescape(key)
        // Compared as code points: Swift's `==` would also match canonical equivalents.
        guard names.contains(where: { $0.utf8.elementsEqual(decoded.utf8) }) else { return }
        let path = parent.map { "\($0).\(decoded)" } ?? decoded
        throw .invalidRequest("The key '\(path)' is written with escapes; write it as plain text.", param: parent ?? decoded)
    }

    /// The splices that turn the client's body into the upstream body: the engine's model name, and
    /// for streams `stream_options.include_usage: true` so the gateway always learns the usage.
    /// A client that did not ask for the usage gets none: its `continuous_usage_stats`, which the
    /// engine would have ignored without `include_usage`, is turned off.
    /// Sorted by position, non-overlapping; apply with ``apply(_:to:)``.
    public func rewrite(servedModel: String?, forceUsage: Bool) -> [Splice] {
        var splices: [Splice] = []
        if let servedModel, servedModel != model {
            splices.append(Splice(range: modelValueRange, replacement: Array(JSONWriter.quoted(servedModel).utf8)))
        }
        if stream && forceUsage && !clientWantsUsage {
            if let continuousUsageValueRange {
                splices.append(Splice(range: continuousUsageValueRange, replacement: Array("false".utf8)))
            }
            if let includeUsageValueRange {
                splices.append(Splice(range: includeUsageValueRange, replacement: Array("true".utf8)))
            } else if let streamOptionsRange {
                let at = streamOptionsRange.lowerBound + 1
                let member = streamOptionsIsEmpty ? #""include_usage":true"# : #""include_usage":true,"#
                splices.append(Splice(range: at..<at, replacement: Array(member.utf8)))
            } else {
                splices.append(
                    Splice(range: objectEnd..<objectEnd, replacement: Array(#","stream_options":{"include_usage":true}"#.utf8)))
            }
        }
        return splices.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}

/// Replace `range` of a byte sequence with `replacement`.
public struct Splice: Equatable, Sendable {
    public var range: Range<Int>
    public var replacement: [UInt8]

    public init(range: Range<Int>, replacement: [UInt8]) {
        self.range = range
        self.replacement = replacement
    }
}
