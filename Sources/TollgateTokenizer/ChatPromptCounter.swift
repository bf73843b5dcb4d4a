import TollgateWire

/// Counts the prompt tokens of OpenAI-style requests exactly as DeepSeek V4 sees them.
///
/// Chat requests are rendered the way vLLM's `deepseek_v4_encoding.encode_messages` and its
/// request glue do (see docs/TOKENIZER.md, "Chat prompt layout"), then tokenized:
/// ```
/// <｜begin▁of▁sentence｜>[effort preamble]{system}[\n\n## Tools …]
/// <｜User｜>{user, tool results as <tool_result>…</tool_result> joined by \n\n}
/// <｜Assistant｜><think> | </think>      (opener after the last user turn, or before an assistant)
/// [{reasoning}</think>]{content}[\n\n<｜DSML｜tool_calls>…]<｜end▁of▁sentence｜>
/// ```
/// What cannot be rendered exactly (images, unknown roles, unparsable tool arguments) is counted
/// as its text plus the turn markers of a user turn, and the result is marked as estimated.
public struct ChatPromptCounter: Sendable {
    public let tokenizer: DeepSeekTokenizer
    let markers: LayoutMarkers

    public init(tokenizer: DeepSeekTokenizer) {
        self.tokenizer = tokenizer
        self.markers = LayoutMarkers(tokenizer: tokenizer)
    }

    /// Errors for requests that have no countable prompt.
    public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
        public let code: String
        public let message: String
        public var description: String { "\(code): \(message)" }
    }

    /// Counts a `/v1/chat/completions` request body (UTF-8 JSON).
    ///
    /// Plain requests (string turns, no tools; most traffic) are counted from the turns the
    /// routing parse records, without building the prompt (``countTurns(_:thinking:body:)``, the
    /// same count); the rest are parsed and rendered.
    public func countChat(requestJSON bytes: some Collection<UInt8>) throws -> PromptCount {
        if let counted = try bytes.withContiguousStorageIfAvailable({ try countChat(requestBytes: UnsafeRawBufferPointer($0)) }) {
            return counted
        }
        return try Array(bytes).withUnsafeBytes { try countChat(requestBytes: $0) }
    }

    /// ``countChat(requestJSON:)`` for a body in memory, without generic dispatch. Long texts are
    /// looked up in `repeats` when given (the same count, sooner when they were counted before).
    public func countChat(requestBytes bytes: UnsafeRawBufferPointer, repeats: RepeatedTextCounts.Scoped? = nil) throws -> PromptCount {
        guard let request = try? InferenceRequest.parse(bytes, endpoint: .chat, recordingTurns: true) else {
            return try countChat(request: JSONValue.parse(bytes), repeats: repeats)
        }
        return try countChat(parsed: request, body: bytes, repeats: repeats)
    }

    /// A chat request the routing parse has read (recording turns) from `body`: counted from its
    /// turns when it has them (a lone user turn without a table of repeated texts, the commonest
    /// short request, without even the layout), else rendered.
    public func countChat(parsed request: InferenceRequest, body: UnsafeRawBufferPointer, repeats: RepeatedTextCounts.Scoped?) throws -> PromptCount {
        if let turns = request.chatTurns {
            if repeats == nil, let count = countLoneUserTurn(turns, thinking: request.thinking, body: body) { return count }
            if let count = countTurns(turns, thinking: request.thinking, body: body, repeats: repeats) { return count }
        }
        return try countChat(request: JSONValue.parse(body), repeats: repeats)
    }

    /// Counts a parsed `/v1/chat/completions` request.
    public func countChat(request: JSONValue, repeats: RepeatedTextCounts.Scoped? = nil) throws -> PromptCount {
        let rendered = try render(chatRequest: request)
        let tokens = repeats.map { countSplitAtMarkers(rendered.text, through: $0) } ?? tokenizer.count(rendered.text)
        return PromptCount(tokens: tokens, exact: rendered.reasons.isEmpty, estimateReasons: rendered.reasons)
    }

    /// The tokens of a rendered prompt, counted in pieces split at the markers that split cleanly
    /// (one token each, whatever surrounds them: ``LayoutMarkers``), each piece through `repeats`,
    /// so that the turns a conversation sends again are not tokenized again. The same count as
    /// counting the whole text.
    func countSplitAtMarkers(_ prompt: String, through repeats: RepeatedTextCounts.Scoped) -> Int {
        var text = prompt
        guard text.utf8.count >= repeats.counts.minimumBytes else { return tokenizer.count(text) }
        return text.withUTF8 { bytes in
            var total = 0, start = 0, at = 0
            while let candidate = markers.nextCleanMarkerStart(in: bytes, from: at) {
                guard let marker = markers.clean.first(where: { bytes[candidate...].starts(with: $0) }) else {
                    at = candidate + 1
                    continue
                }
                total += repeats.tokens(of: UnsafeBufferPointer(rebasing: bytes[start..<candidate]), tokenizer) + 1
                at = candidate + marker.count
                start = at
            }
            return total + repeats.tokens(of: UnsafeBufferPointer(rebasing: bytes[start...]), tokenizer)
        }
    }

    /// The prompt text DeepSeek V4 would see, and the reasons it may differ (empty if exact).
    public func render(chatRequest request: JSONValue) throws -> (text: String, reasons: [String]) {
        guard let rawMessages = request["messages"]?.arrayValue else {
            throw RequestError(code: "missing_messages", message: "request has no messages array")
        }
        var r = ChatRenderer()
        r.configure(request)
        var messages = rawMessages.map { r.convert($0) }
        if let tools = request["tools"]?.arrayValue, !tools.isEmpty {
            let functions = tools.map { r.functionSchema($0) }
            // The first system message carries them, wherever it is; else a leading one is added.
            if let system = messages.firstIndex(where: { $0.role == "system" }) {
                messages[system].tools = functions
            } else {
                messages.insert(ChatRenderer.Message(role: "system", tools: functions), at: 0)
            }
        }
        return (r.encode(messages), r.reasons)
    }

    /// Thinking mode as vLLM's DeepSeek V4 request glue decides it: on unless `thinking.type` is
    /// `disabled` or `reasoning_effort` is `none`; `chat_template_kwargs.thinking` or
    /// `enable_thinking`, when given, override `thinking.type` (on when either is truthy). The
    /// gateway's routing parse reads the same from the raw body (`InferenceRequest.thinking`).
    public static func thinkingMode(of request: JSONValue) -> Bool {
        var thinking = request["thinking"]?["type"]?.stringValue != "disabled"
        if let kwargs = request["chat_template_kwargs"] {
            let t = kwargs["thinking"], e = kwargs["enable_thinking"]
            if t != nil || e != nil { thinking = (t?.isTruthy ?? false) || (e?.isTruthy ?? false) }
        }
        return thinking && request["reasoning_effort"]?.stringValue != "none"
    }

    /// Counts a `/v1/completions` request: the prompt as given (no BOS: DeepSeek V4's tokenizer adds
    /// none), summed over a batch of prompts; token-id prompts count their length. With `suffix`
    /// (fill-in-the-middle) the DeepSeek FIM layout `<｜fim▁begin｜>{prompt}<｜fim▁hole｜>{suffix}<｜fim▁end｜>`
    /// is counted and marked as estimated, because the serving engine's FIM template is not known.
    public func countCompletion(request: JSONValue) throws -> PromptCount {
        guard let prompt = request["prompt"] else {
            throw RequestError(code: "missing_prompt", message: "request has no prompt")
        }
        let suffix = request["suffix"]?.stringValue
        var reasons: [String] = []
        var total = 0
        // The suffix is counted once, not once per prompt of a batch: a batch of many tiny prompts
        // with one long suffix tokenized the suffix again for each (seconds for a 32 KB body, on
        // the event loop; hours for a large one). With clean markers the sum is the same count.
        let fim = LayoutMarkers.fim
        let suffixTokens = markers.fimSplitsCleanly ? suffix.map { tokenizer.count($0) } : nil
        func text(_ s: String) -> Int {
            if let suffixTokens { return 3 + tokenizer.count(s) + suffixTokens }
            if let suffix { return tokenizer.count(fim.begin + s + fim.hole + suffix + fim.end) }
            return tokenizer.count(s)
        }
        if suffix != nil { reasons.append("fill-in-the-middle layout assumed") }
        // A list of ids is one prompt; a list of strings or of id lists is a batch of prompts.
        var longest = 0
        func add(_ tokens: Int) {
            total += tokens
            longest = max(longest, tokens)
        }
        // What vLLM takes: a string, a list of strings, a list of token ids, a list of id lists.
        func isTokenID(_ value: JSONValue) -> Bool {
            guard case .number(let literal) = value else { return false }
            return literal.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
        let badID = RequestError(code: "invalid_prompt", message: "token ids must be non-negative integers")
        switch prompt {
        case .string(let s):
            add(text(s))
        case .array(let items):
            guard !items.isEmpty else { throw RequestError(code: "invalid_prompt", message: "prompt is an empty array") }
            var ids = 0
            for item in items {
                switch item {
                case .string(let s): add(text(s))
                case .number:
                    guard isTokenID(item) else { throw badID }
                    ids += 1
                case .array(let list):
                    guard list.allSatisfy(isTokenID) else { throw badID }
                    add(list.count)
                default: throw RequestError(code: "invalid_prompt", message: "prompt array holds an unsupported value")
                }
            }
            if ids > 0 { add(ids) }
        default:
            throw RequestError(code: "invalid_prompt", message: "prompt must be a string or an array")
        }
        return PromptCount(tokens: total, exact: reasons.isEmpty, estimateReasons: reasons, longestPrompt: longest)
    }
}

/// The DeepSeek V4 chat encoder (vLLM `deepseek_v4_encoding.py`), on an internal message model.
struct ChatRenderer {
    static let bos = "<｜begin▁of▁sentence｜>"
    static let eos = "<｜end▁of▁sentence｜>"
    static let user = "<｜User｜>"
    static let assistant = "<｜Assistant｜>"
    static let thinkStart = "<think>"
    static let thinkEnd = "</think>"
    static let dsml = "｜DSML｜"
    static let toolResultOpen = "<tool_result>"
    static let toolResultClose = "</tool_result>"
    /// The preamble the encoder puts first in thinking mode, by reasoning effort (vLLM 0.33.0's
    /// `REASONING_EFFORT_PROMPTS`; `low` adds nothing).
    enum Effort: Sendable {
        case low, high, max

        /// The request glue's mapping: `max` is max; `low`, `minimal` and `medium` are low; any
        /// other string is high. (`none` means chat mode and is handled by the caller.)
        init(requested: String) {
            switch requested {
            case "max": self = .max
            case "low", "minimal", "medium": self = .low
            default: self = .high
            }
        }

        var preamble: String {
            switch self {
            case .low: return ""
            case .high: return ChatRenderer.effortHigh
            case .max: return ChatRenderer.effortMax
            }
        }
    }

    static let effortHigh =
        "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
        + "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
        + "Explicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n"
    static let effortMax =
        "Reasoning Effort: Beyond maximum — exhaustive, relentless, and uncompromising.\n"
        + "You MUST reason with the utmost depth and rigor, leaving absolutely nothing to chance: exhaustively decompose the problem into its most fundamental components, trace every causal chain to its root, and resolve the underlying cause rather than any surface symptom.\n"
        + "Do not stop reasoning until you have independently verified the solution from multiple angles and are certain that no assumption remains unchecked and no error remains undiscovered.\n\n"

    /// The `## Tools` block of the system prompt for these function schemas (``functionSchema(_:)``).
    static func toolsText(_ functions: [JSONValue]) -> String {
        toolsBlock(functions.map { PythonJSON.dumps($0) }.joined(separator: "\n"))
    }

    static func toolsBlock(_ schemas: String) -> String {
        let d = dsml
        return """
            ## Tools

            You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<\(d)tool_calls>" block like the following:

            <\(d)tool_calls>
            <\(d)invoke name="$TOOL_NAME">
            <\(d)parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</\(d)parameter>
            ...
            </\(d)invoke>
            <\(d)invoke name="$TOOL_NAME2">
            ...
            </\(d)invoke>
            </\(d)tool_calls>

            String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

            If thinking_mode is enabled (triggered by \(thinkStart)), you MUST output your complete reasoning inside \(thinkStart)...\(thinkEnd) BEFORE any tool calls or final response.

            Otherwise, output directly after \(thinkEnd) with tool calls or final response.

            ### Available Tool Schemas

            \(schemas)

            You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.

            """
    }

    enum Block {
        case text(String)
        case toolResult(id: String, content: String)
    }

    /// One assistant tool call: its id, the function's name, and the rendered DSML parameters.
    typealias ToolCall = (id: String, name: String, arguments: String)

    struct Message {
        var role: String
        var content: String?
        var reasoning: String?
        var tools: [JSONValue]?
        var toolCalls: [ToolCall]?
        var toolCallID: String?
        var blocks: [Block]?

        init(role: String, content: String? = nil, tools: [JSONValue]? = nil) {
            self.role = role
            self.content = content
            self.tools = tools
        }
    }

    var thinking = true
    /// Effort when thinking; a request that names none gets `high` (vLLM 0.33.0's request glue).
    var effort = Effort.high
    private(set) var reasons: [String] = []

    private mutating func estimate(_ reason: String) {
        if !reasons.contains(reason) { reasons.append(reason) }
    }

    /// Thinking mode and effort, as vLLM's DeepSeek V4 request glue decides them.
    mutating func configure(_ request: JSONValue) {
        thinking = ChatPromptCounter.thinkingMode(of: request)
        if let requested = request["reasoning_effort"]?.stringValue { effort = Effort(requested: requested) }
    }

    /// The text of a message's content: a string, or its text parts joined by newlines.
    private mutating func text(_ content: JSONValue?) -> String? {
        guard let content else { return nil }
        switch content {
        case .null: return nil
        case .string(let s): return s
        case .array(let parts):
            var texts: [String] = []
            for part in parts {
                if let s = part.stringValue {
                    texts.append(s)
                } else if part["type"]?.stringValue == "text", let s = part["text"]?.stringValue {
                    texts.append(s)
                } else {
                    estimate("non-text content parts not counted")
                }
            }
            return texts.joined(separator: "\n")
        default:
            estimate("unusual content value")
            return PythonJSON.dumps(content)
        }
    }

    mutating func convert(_ raw: JSONValue) -> Message {
        let role = raw["role"]?.stringValue ?? ""
        var m = Message(role: role, content: text(raw["content"]))
        switch role {
        case "system", "developer", "user":
            break
        case "assistant":
            m.reasoning = raw["reasoning_content"]?.stringValue ?? raw["reasoning"]?.stringValue
            if let calls = raw["tool_calls"]?.arrayValue, !calls.isEmpty {
                m.toolCalls = toolCalls(calls)
            }
        case "tool":
            m.toolCallID = raw["tool_call_id"]?.stringValue ?? ""
            if m.content == nil { estimate("tool message without content") }
        default:
            // Unknown role: the encoder would refuse it; count its text as a user turn.
            estimate("unknown message role counted as a user turn")
            m.role = "user"
        }
        return m
    }

    /// A tool's function schema as vLLM passes it to the encoder (`model_dump` of the function:
    /// name, description, parameters, nulls included).
    mutating func functionSchema(_ tool: JSONValue) -> JSONValue {
        let f = tool["function"] ?? .null
        var members = [
            JSONMember(key: "name", value: f["name"] ?? .null),
            JSONMember(key: "description", value: f["description"] ?? .null),
            JSONMember(key: "parameters", value: f["parameters"] ?? .null),
        ]
        for m in f.objectValue ?? [] where !["name", "description", "parameters"].contains(m.key) {
            estimate("extra tool function fields")
            members.append(m)
        }
        return .object(members)
    }

    /// An assistant's `tool_calls` list: (id, name, rendered DSML parameters) per call.
    mutating func toolCalls(_ calls: [JSONValue]) -> [ToolCall] {
        calls.map { call in
            let id = call["id"]?.stringValue ?? ""
            let name = call["function"]?["name"]?.stringValue ?? ""
            // vLLM would print a name that is not a string the Python way (`None`, `5`).
            if call["function"]?["name"]?.stringValue == nil { estimate("tool call without a string name") }
            return (id, name, dsmlArguments(call["function"]?["arguments"]))
        }
    }

    /// The block an assistant turn's tool calls add after its content.
    static func toolCallsText(_ calls: [ToolCall]) -> String {
        let invokes = calls.map { c in
            "<\(dsml)invoke name=\"\(c.name)\">\n\(c.arguments)\n</\(dsml)invoke>"
        }.joined(separator: "\n")
        return "\n\n<\(dsml)tool_calls>\n\(invokes)\n</\(dsml)tool_calls>"
    }

    /// `encode_arguments_to_dsml`: one parameter line per top-level argument.
    private mutating func dsmlArguments(_ arguments: JSONValue?) -> String {
        var object: JSONValue?
        switch arguments {
        case .string(let s)?: object = try? JSONValue.parse(s)
        case .object?: object = arguments
        default: object = nil
        }
        guard let members = object?.objectValue else {
            estimate("tool call arguments are not a JSON object")
            if case .string(let s)? = arguments { return s }
            return ""
        }
        return members.map { m in
            let isString = m.value.stringValue != nil
            let value = m.value.stringValue ?? PythonJSON.dumps(m.value)
            return "<\(Self.dsml)parameter name=\"\(m.key)\" string=\"\(isString)\">\(value)</\(Self.dsml)parameter>"
        }.joined(separator: "\n")
    }

    /// `merge_tool_messages` then `sort_tool_results_by_call_order`.
    private func preprocess(_ messages: [Message]) -> [Message] {
        var merged: [Message] = []
        // Whether the last merged message is a user turn that takes more blocks is not asked with
        // `if let last = merged.last`: that copy kept its blocks shared while they were appended
        // to, so each append copied them all (quadratic in consecutive tool or user messages).
        for msg in messages {
            if msg.role == "tool" {
                let block = Block.toolResult(id: msg.toolCallID ?? "", content: msg.content ?? "")
                if merged.last?.role == "user" && merged.last?.blocks != nil {
                    merged[merged.count - 1].blocks!.append(block)
                } else {
                    var u = Message(role: "user")
                    u.blocks = [block]
                    merged.append(u)
                }
            } else if msg.role == "user" {
                let block = Block.text(msg.content ?? "")
                if merged.last?.role == "user" && merged.last?.blocks != nil {
                    merged[merged.count - 1].blocks!.append(block)
                } else {
                    var u = Message(role: "user", content: msg.content ?? "")
                    u.blocks = [block]
                    merged.append(u)
                }
            } else {
                merged.append(msg)
            }
        }
        var order: [String: Int] = [:]
        for i in merged.indices {
            if merged[i].role == "assistant", let calls = merged[i].toolCalls, !calls.isEmpty {
                order = [:]
                for (idx, c) in calls.enumerated() where !c.id.isEmpty { order[c.id] = idx }
            } else if merged[i].role == "user", let blocks = merged[i].blocks {
                var results: [(key: Int, block: Block)] = []
                for b in blocks {
                    if case .toolResult(let id, _) = b { results.append((order[id] ?? 0, b)) }
                }
                guard results.count > 1, !order.isEmpty else { continue }
                // Python's sorted() is stable; so is this (index as the tie-break).
                let sorted = results.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
                    .map(\.element.block)
                var k = 0
                merged[i].blocks = blocks.map { b in
                    if case .toolResult = b {
                        defer { k += 1 }
                        return sorted[k]
                    }
                    return b
                }
            }
        }
        return merged
    }

    private static func lastUserIndex(_ messages: [Message]) -> Int {
        messages.lastIndex(where: { $0.role == "user" || $0.role == "developer" }) ?? -1
    }

    /// `encode_messages` with BOS, for a request without earlier context.
    mutating func encode(_ input: [Message]) -> String {
        var messages = preprocess(input)
        let dropThinking = !messages.contains(where: { !($0.tools ?? []).isEmpty })
        if thinking && dropThinking {
            // `_drop_thinking_messages`: earlier assistant reasoning removed, earlier developer
            // messages dropped.
            let lastUser = Self.lastUserIndex(messages)
            var kept: [Message] = []
            for (i, m) in messages.enumerated() {
                if ["user", "system", "tool"].contains(m.role) || i >= lastUser {
                    kept.append(m)
                } else if m.role == "assistant" {
                    var copy = m
                    copy.reasoning = nil
                    kept.append(copy)
                }
            }
            messages = kept
        }
        // The encoder refuses a developer turn without text that it keeps: the engine will not
        // run the request.
        if messages.contains(where: { $0.role == "developer" && ($0.content ?? "").isEmpty }) {
            estimate("developer message without content (the encoder refuses it)")
        }
        var prompt = Self.bos
        // Found once, not per message: per message it made a request of many turns after the
        // last user one (or with none) quadratic, minutes for a few MB of `{"role":"assistant"}`.
        let lastUser = Self.lastUserIndex(messages)
        for i in messages.indices {
            prompt += render(i, messages, dropThinking: dropThinking, lastUser: lastUser)
        }
        return prompt
    }

    private func render(_ index: Int, _ messages: [Message], dropThinking: Bool, lastUser: Int) -> String {
        let msg = messages[index]
        var prompt = ""
        if index == 0 && thinking { prompt += effort.preamble }
        let toolsText: String? = {
            guard let tools = msg.tools, !tools.isEmpty else { return nil }
            return Self.toolsText(tools)
        }()
        switch msg.role {
        case "system":
            prompt += msg.content ?? ""
            if let toolsText { prompt += "\n\n" + toolsText }
        case "developer":
            prompt += Self.user + (msg.content ?? "")
            if let toolsText { prompt += "\n\n" + toolsText }
        case "user":
            prompt += Self.user
            if let blocks = msg.blocks, !blocks.isEmpty {
                prompt += blocks.map { b -> String in
                    switch b {
                    case .text(let s): return s
                    case .toolResult(_, let content): return Self.toolResultOpen + content + Self.toolResultClose
                    }
                }.joined(separator: "\n\n")
            } else {
                prompt += msg.content ?? ""
            }
        case "assistant":
            var toolCalls = ""
            if let calls = msg.toolCalls, !calls.isEmpty {
                toolCalls = Self.toolCallsText(calls)
            }
            var thinkingPart = ""
            if thinking && (!dropThinking || index > lastUser) {
                thinkingPart = (msg.reasoning ?? "") + Self.thinkEnd
            }
            prompt += thinkingPart + (msg.content ?? "") + toolCalls + Self.eos
        default:
            prompt += msg.content ?? ""
        }
        // The assistant opener follows a user/developer turn that is last or precedes an assistant.
        if index + 1 < messages.count && messages[index + 1].role != "assistant" { return prompt }
        // A system message opens generation too when it is last or an assistant turn follows.
        if msg.role == "user" || msg.role == "developer" || msg.role == "system" {
            prompt += Self.assistant
            if thinking && (!dropThinking || index >= lastUser) {
                prompt += Self.thinkStart
            } else {
                prompt += Self.thinkEnd
            }
        }
        return prompt
    }
}
