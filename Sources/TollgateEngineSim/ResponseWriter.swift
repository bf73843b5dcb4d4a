import TollgateWire

/// Byte fragments fixed by the configuration, built once so each response is only appends.
struct SimShape: Sendable {
    let modelQuoted: [UInt8]
    /// `"reasoning":` or `"reasoning_content":`
    let reasoningKey: [UInt8]
    let deepSeekUsage: Bool

    init(_ configuration: EngineSimConfiguration) {
        var model: [UInt8] = []
        JSONWriter.appendString(configuration.model, to: &model)
        modelQuoted = model
        reasoningKey = Array("\"\(configuration.reasoningField.rawValue)\":".utf8)
        deepSeekUsage = configuration.deepSeekUsage
    }
}

/// Writes vLLM-shaped bodies and SSE chunks for one planned response. Streams are written step by
/// step (one token per choice per step) so the caller can pace them with the timing model.
struct ResponseWriter {
    let shape: SimShape
    let request: SimRequest
    let plan: ResponsePlan
    let id: [UInt8]
    let created: Int
    /// Stop writing events after this many (fault injection); ``limitReached`` tells the caller.
    var eventLimit: Int?
    /// Write no usage at all (fault injection: an engine that does not report it).
    let omitsUsage: Bool
    private(set) var eventsWritten = 0
    private var chunkPrefix: [UInt8] = []
    private var scratch: [UInt8] = []

    var limitReached: Bool {
        guard let eventLimit else { return false }
        return eventsWritten >= eventLimit
    }

    private var isChat: Bool { request.base.endpoint == .chat }

    init(
        shape: SimShape, request: SimRequest, plan: ResponsePlan, id: [UInt8], created: Int, eventLimit: Int?,
        omitsUsage: Bool = false
    ) {
        self.shape = shape
        self.request = request
        self.plan = plan
        self.id = id
        self.created = created
        self.eventLimit = eventLimit
        self.omitsUsage = omitsUsage
    }

    // MARK: common parts

    private func appendHeader(object: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":""#.utf8)
        out.append(contentsOf: id)
        out.append(contentsOf: #"","object":""#.utf8)
        out.append(contentsOf: UnsafeRawBufferPointer(start: object.utf8Start, count: object.utf8CodeUnitCount))
        out.append(contentsOf: #"","created":"#.utf8)
        Decimal.append(created, to: &out)
        out.append(contentsOf: #","model":"#.utf8)
        out.append(contentsOf: shape.modelQuoted)
        if shape.deepSeekUsage { out.append(contentsOf: #","system_fingerprint":"fp_tollgate_sim""#.utf8) }
    }

    func appendUsage(to out: inout [UInt8]) {
        let prompt = plan.promptTokens
        let completion = plan.completionTokens
        out.append(contentsOf: #"{"prompt_tokens":"#.utf8)
        Decimal.append(prompt, to: &out)
        out.append(contentsOf: #","total_tokens":"#.utf8)
        Decimal.append(prompt + completion, to: &out)
        out.append(contentsOf: #","completion_tokens":"#.utf8)
        Decimal.append(completion, to: &out)
        if shape.deepSeekUsage {
            out.append(contentsOf: #","prompt_tokens_details":{"cached_tokens":"#.utf8)
            Decimal.append(plan.cachedPromptTokens, to: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: #","prompt_tokens_details":null"#.utf8)
        }
        if isChat {
            out.append(contentsOf: #","completion_tokens_details":{"reasoning_tokens":"#.utf8)
            Decimal.append(plan.reasoningTokens, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        if shape.deepSeekUsage {
            out.append(contentsOf: #","prompt_cache_hit_tokens":"#.utf8)
            Decimal.append(plan.cachedPromptTokens, to: &out)
            out.append(contentsOf: #","prompt_cache_miss_tokens":"#.utf8)
            Decimal.append(prompt - plan.cachedPromptTokens, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    // MARK: non-streaming

    /// The whole `chat.completion` or `text_completion` body.
    mutating func completeBody() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + plan.completionTokens * 9)
        appendHeader(object: isChat ? "chat.completion" : "text_completion", to: &out)
        out.append(contentsOf: #","choices":["#.utf8)
        for (index, choice) in plan.choices.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"index":"#.utf8)
            Decimal.append(index, to: &out)
            if isChat {
                out.append(contentsOf: #","message":{"role":"assistant","content":"#.utf8)
                if choice.tool == nil {
                    out.append(UInt8(ascii: "\""))
                    TextGenerator.appendText(.content, seed: choice.seed, count: choice.contentTokens, to: &out)
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(contentsOf: "null".utf8)
                }
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: shape.reasoningKey)
                if request.base.thinking {
                    out.append(UInt8(ascii: "\""))
                    TextGenerator.appendText(.reasoning, seed: choice.seed, count: choice.reasoningTokens, to: &out)
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(contentsOf: "null".utf8)
                }
                out.append(contentsOf: #","tool_calls":["#.utf8)
                if let tool = choice.tool { appendWholeToolCall(tool, emitted: choice.toolTokens, to: &out) }
                out.append(contentsOf: "]},\"logprobs\":".utf8)
                appendChatLogprobs(choice, tokens: 0..<choice.contentTokens, to: &out)
            } else {
                out.append(contentsOf: #","text":""#.utf8)
                TextGenerator.appendText(.content, seed: choice.seed, count: choice.contentTokens, to: &out)
                out.append(contentsOf: #"","logprobs":"#.utf8)
                appendCompletionLogprobs(choice, tokens: 0..<choice.contentTokens, to: &out)
            }
            out.append(contentsOf: #","finish_reason":""#.utf8)
            out.append(contentsOf: choice.finishReason.rawValue.utf8)
            out.append(contentsOf: #"","stop_reason":null"#.utf8)
            if !isChat { out.append(contentsOf: #","prompt_logprobs":null"#.utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if !omitsUsage {
            out.append(contentsOf: #","usage":"#.utf8)
            appendUsage(to: &out)
        }
        if isChat { out.append(contentsOf: #","prompt_logprobs":null"#.utf8) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private func appendWholeToolCall(_ tool: ToolCallPlan, emitted: Int, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":""#.utf8)
        out.append(contentsOf: tool.id)
        out.append(contentsOf: #"","type":"function","function":{"name":"#.utf8)
        JSONWriter.appendString(tool.name, to: &out)
        out.append(contentsOf: #","arguments":"#.utf8)
        let end = emitted > 1 ? tool.fragments[emitted - 2].upperBound : 0
        JSONWriter.appendString(String(decoding: tool.arguments[0..<end], as: UTF8.self), to: &out)
        out.append(contentsOf: "}}".utf8)
    }

    // MARK: streaming

    /// Appends the SSE events of decode step `step` (0 is the first token; it also carries the
    /// role chunk). Writes nothing more once the event limit is reached.
    mutating func appendStep(_ step: Int, to out: inout [UInt8]) {
        for index in plan.choices.indices {
            let choice = plan.choices[index]
            if step == 0 && isChat && beginEvent(choice: index, to: &out) {
                out.append(contentsOf: #""delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null"#.utf8)
                endEvent(to: &out)
            }
            if step < choice.steps {
                appendToken(choice: index, step: step, to: &out)
            }
            let finishedHere = step == choice.steps - 1 || (choice.steps == 0 && step == 0)
            let lastCarriesFinish = choice.tool == nil && choice.steps > 0
            if finishedHere && !lastCarriesFinish && beginEvent(choice: index, to: &out) {
                out.append(contentsOf: isChat ? #""delta":{},"logprobs":null,"finish_reason":""#.utf8 : #""text":"","logprobs":null,"finish_reason":""#.utf8)
                out.append(contentsOf: choice.finishReason.rawValue.utf8)
                out.append(UInt8(ascii: "\""))
                endEvent(to: &out)
            }
        }
    }

    /// The `include_usage` chunk: `choices: []` and the request's usage.
    mutating func appendUsageChunk(to out: inout [UInt8]) {
        guard !limitReached, !omitsUsage else { return }
        out.append(contentsOf: "data: ".utf8)
        appendHeader(object: isChat ? "chat.completion.chunk" : "text_completion", to: &out)
        out.append(contentsOf: #","choices":[],"usage":"#.utf8)
        appendUsage(to: &out)
        out.append(contentsOf: "}\n\n".utf8)
        eventsWritten += 1
    }

    mutating func appendDone(to out: inout [UInt8]) {
        guard !limitReached else { return }
        out.append(contentsOf: SSE.done)
        eventsWritten += 1
    }

    /// Starts a chunk event for one choice, up to the opening of its members; false (and nothing
    /// written) once the event limit is reached.
    private mutating func beginEvent(choice: Int, to out: inout [UInt8]) -> Bool {
        guard !limitReached else { return false }
        if chunkPrefix.isEmpty {
            var prefix = Array("data: ".utf8)
            appendHeader(object: isChat ? "chat.completion.chunk" : "text_completion", to: &prefix)
            prefix.append(contentsOf: #","choices":[{"index":"#.utf8)
            chunkPrefix = prefix
        }
        out.append(contentsOf: chunkPrefix)
        Decimal.append(choice, to: &out)
        out.append(UInt8(ascii: ","))
        return true
    }

    private mutating func endEvent(to out: inout [UInt8]) {
        out.append(contentsOf: "}]".utf8)
        if request.base.clientWantsUsage && !omitsUsage { out.append(contentsOf: #","usage":null"#.utf8) }
        out.append(contentsOf: "}\n\n".utf8)
        eventsWritten += 1
    }

    private mutating func appendFinish(_ isLast: Bool, _ choice: ChoicePlan, to out: inout [UInt8]) {
        if isLast && choice.tool == nil {
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: choice.finishReason.rawValue.utf8)
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(contentsOf: "null".utf8)
        }
    }

    private mutating func appendToken(choice index: Int, step: Int, to out: inout [UInt8]) {
        let choice = plan.choices[index]
        let isLast = step == choice.steps - 1
        guard beginEvent(choice: index, to: &out) else { return }
        if step < choice.reasoningTokens {
            out.append(contentsOf: #""delta":{"#.utf8)
            out.append(contentsOf: shape.reasoningKey)
            out.append(UInt8(ascii: "\""))
            TextGenerator.appendToken(.reasoning, seed: choice.seed, index: step, count: choice.reasoningTokens, to: &out)
            out.append(contentsOf: #""},"logprobs":null,"finish_reason":"#.utf8)
            appendFinish(isLast, choice, to: &out)
            endEvent(to: &out)
            return
        }
        let position = step - choice.reasoningTokens
        if let tool = choice.tool {
            out.append(contentsOf: #""delta":{"tool_calls":[{"index":0,"#.utf8)
            if position == 0 {
                out.append(contentsOf: #""id":""#.utf8)
                out.append(contentsOf: tool.id)
                out.append(contentsOf: #"","type":"function","function":{"name":"#.utf8)
                JSONWriter.appendString(tool.name, to: &out)
                out.append(contentsOf: #","arguments":""}"#.utf8)
            } else {
                out.append(contentsOf: #""function":{"arguments":"#.utf8)
                let fragment = tool.arguments[tool.fragments[position - 1]]
                JSONWriter.appendString(String(decoding: fragment, as: UTF8.self), to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(contentsOf: #"}]},"logprobs":null,"finish_reason":null"#.utf8)
            endEvent(to: &out)
            return
        }
        out.append(contentsOf: isChat ? #""delta":{"content":""#.utf8 : #""text":""#.utf8)
        TextGenerator.appendToken(.content, seed: choice.seed, index: position, count: choice.contentTokens, to: &out)
        out.append(contentsOf: isChat ? #""},"logprobs":"#.utf8 : #"","logprobs":"#.utf8)
        if isChat {
            appendChatLogprobs(choice, tokens: position..<(position + 1), to: &out)
        } else {
            appendCompletionLogprobs(choice, tokens: position..<(position + 1), to: &out)
        }
        out.append(contentsOf: #","finish_reason":"#.utf8)
        appendFinish(isLast, choice, to: &out)
        endEvent(to: &out)
    }

    // MARK: logprobs

    /// A deterministic log probability in (-2, 0] for a token.
    private static func logprob(seed: UInt64, index: Int, alternative: Int) -> String {
        let unit = Double(PromptHash.mix(seed, UInt64(index * 31 + alternative)) >> 11) / Double(1 << 53)
        let value = -(unit * 2 + Double(alternative) * 0.5)
        return String((value * 10_000).rounded() / 10_000)
    }

    private mutating func tokenText(_ choice: ChoicePlan, index: Int) -> [UInt8] {
        scratch.removeAll(keepingCapacity: true)
        TextGenerator.appendToken(.content, seed: choice.seed, index: index, count: choice.contentTokens, to: &scratch)
        return scratch
    }

    private mutating func appendChatLogprobs(_ choice: ChoicePlan, tokens: Range<Int>, to out: inout [UInt8]) {
        guard request.logprobs, choice.tool == nil else {
            out.append(contentsOf: "null".utf8)
            return
        }
        out.append(contentsOf: #"{"content":["#.utf8)
        for index in tokens {
            if index > tokens.lowerBound { out.append(UInt8(ascii: ",")) }
            let text = tokenText(choice, index: index)
            appendChatLogprobEntry(text, logprob: Self.logprob(seed: choice.seed, index: index, alternative: 0), to: &out)
            out.removeLast()  // reopen the entry for its alternatives
            out.append(contentsOf: #","top_logprobs":["#.utf8)
            for alternative in 0..<request.topLogprobs {
                if alternative > 0 { out.append(UInt8(ascii: ",")) }
                let altText = alternative == 0 ? text : tokenText(choice, index: index &+ alternative &* 7919)
                appendChatLogprobEntry(altText, logprob: Self.logprob(seed: choice.seed, index: index, alternative: alternative), to: &out)
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
    }

    private func appendChatLogprobEntry(_ text: [UInt8], logprob: String, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"token":""#.utf8)
        out.append(contentsOf: text)
        out.append(contentsOf: #"","logprob":"#.utf8)
        out.append(contentsOf: logprob.utf8)
        out.append(contentsOf: #","bytes":["#.utf8)
        for (offset, byte) in text.enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            Decimal.append(Int(byte), to: &out)
        }
        out.append(contentsOf: "]}".utf8)
    }

    private mutating func appendCompletionLogprobs(_ choice: ChoicePlan, tokens: Range<Int>, to out: inout [UInt8]) {
        guard request.logprobs else {
            out.append(contentsOf: "null".utf8)
            return
        }
        var texts: [[UInt8]] = []
        var offsets: [Int] = []
        var offset = 0
        for index in 0..<tokens.upperBound {
            let text = tokenText(choice, index: index)
            if index >= tokens.lowerBound {
                texts.append(text)
                offsets.append(offset)
            }
            offset += text.count
        }
        out.append(contentsOf: #"{"text_offset":["#.utf8)
        for (position, value) in offsets.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            Decimal.append(value, to: &out)
        }
        out.append(contentsOf: #"],"token_logprobs":["#.utf8)
        for (position, index) in tokens.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Self.logprob(seed: choice.seed, index: index, alternative: 0).utf8)
        }
        out.append(contentsOf: #"],"tokens":["#.utf8)
        for (position, text) in texts.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: text)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #"],"top_logprobs":["#.utf8)
        for (position, index) in tokens.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            for alternative in 0..<max(1, request.topLogprobs) {
                if alternative > 0 { out.append(UInt8(ascii: ",")) }
                let text = alternative == 0 ? texts[position] : tokenText(choice, index: index &+ alternative &* 7919)
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: text)
                out.append(contentsOf: "\":".utf8)
                out.append(contentsOf: Self.logprob(seed: choice.seed, index: index, alternative: alternative).utf8)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
    }
}

/// Decimal digits without going through `String`.
enum Decimal {
    @inline(__always)
    static func append(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            append(0 - value, to: &out)
            return
        }
        if value < 10 {
            out.append(UInt8(truncatingIfNeeded: 48 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(truncatingIfNeeded: 48 + rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }
}
