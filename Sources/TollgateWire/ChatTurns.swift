/// The messages of a chat request in the shape most traffic has, as byte ranges of its body, so
/// that the prompt can be counted without reading the body a second time.
///
/// ``InferenceRequest/parse(_:endpoint:recordingTurns:)`` records them on its one pass over the
/// body. A request is plain when its messages are system, developer, user, assistant and tool turns whose
/// content is a string, a list of text parts, or null (except for tool results), with
/// `chat_template_kwargs` null or an object, no key written with escapes and no duplicate of a key
/// the layout depends on (JSON parsers disagree on which one wins). Tool schemas (``tools``) and
/// assistants' tool calls (``toolCalls``) may come along. Anything else gets no turns, and the
/// prompt counter renders it the general way.
public struct ChatTurns: Sendable {
    public enum Role: Sendable { case system, developer, user, assistant, tool }

    /// A text of the body: a byte range, and how to read it.
    public struct Text: Sendable, Equatable {
        public enum Form: Sendable {
            /// A JSON string's contents without escapes: the bytes are the text.
            case plain
            /// A JSON string's contents with escapes to decode.
            case escaped
            /// A list of text parts (see ``ChatTurns/walkTextParts(_:_:)``), whose texts join with
            /// newlines.
            case parts
        }

        public var range: Range<Int>
        public var form: Form

        public init(range: Range<Int>, form: Form) {
            self.range = range
            self.form = form
        }

        /// The string value at `scanner`, which it skips.
        static func string(_ scanner: inout JSONScanner) throws -> Text {
            let (range, escaped) = try scanner.readStringRange()
            return Text(range: range, form: escaped ? .escaped : .plain)
        }
    }

    public struct Turn: Sendable {
        public var role: Role
        public var content: Text?
        /// `reasoning_content`, else `reasoning` (assistant turns only).
        public var reasoning: Text?

        public init(role: Role, content: Text?, reasoning: Text?) {
            self.role = role
            self.content = content
            self.reasoning = reasoning
        }
    }

    public var turns: [Turn] = []
    /// Each assistant turn's `tool_calls` array as written, when it lists any, by turn index in
    /// order (the counter parses the calls from it: they are small next to the turns). Kept apart
    /// from ``turns``: most requests have none, and their turns stay small.
    public var toolCalls: [(turn: Int, list: Range<Int>)] = []
    /// `reasoning_effort`, when it is a string.
    public var reasoningEffort: String?
    /// The `tools` array as written in the body, when it lists any (the counter renders the
    /// schemas from it: they are small next to the messages).
    public var tools: Range<Int>?
}

/// What ``InferenceRequest``'s parse notes besides the routing fields. The parse is specialized
/// for each kind, so a gateway without a price book runs none of the recording code.
protocol TurnRecording {
    /// The turns, when the request was plain and they were recorded.
    var recorded: ChatTurns? { get }
    mutating func giveUp()
    mutating func key(escaped: Bool)
    mutating func once(_ bit: UInt8)
    mutating func effort(_ value: String)
    mutating func tools(_ value: inout JSONScanner) throws
    /// The role as written between its quotes, and whether it has escapes.
    mutating func role(_ name: UnsafeRawBufferPointer, escaped: Bool, of message: inout ChatTurnRecorder.Message)
    mutating func member(_ key: UnsafeRawBufferPointer, _ field: inout JSONScanner, of message: inout ChatTurnRecorder.Message) throws
    mutating func end(_ message: ChatTurnRecorder.Message)
}

/// Records nothing (no price book).
struct NoTurns: TurnRecording {
    var recorded: ChatTurns? { nil }
    @inline(__always) mutating func giveUp() {}
    @inline(__always) mutating func key(escaped: Bool) {}
    @inline(__always) mutating func once(_ bit: UInt8) {}
    @inline(__always) mutating func effort(_ value: String) {}
    @inline(__always) mutating func tools(_ value: inout JSONScanner) throws {}
    @inline(__always) mutating func role(_ name: UnsafeRawBufferPointer, escaped: Bool, of message: inout ChatTurnRecorder.Message) {}
    @inline(__always) mutating func member(
        _ key: UnsafeRawBufferPointer, _ field: inout JSONScanner, of message: inout ChatTurnRecorder.Message
    ) throws {}
    @inline(__always) mutating func end(_ message: ChatTurnRecorder.Message) {}
}

/// Builds ``ChatTurns`` while ``InferenceRequest`` walks a chat request, and gives up for good at
/// the first thing the plain layout does not cover.
struct ChatTurnRecorder: TurnRecording {
    private var turns = ChatTurns()
    private var isPlain = true
    private var topLevel = SeenKeys()

    var recorded: ChatTurns? { isPlain ? turns : nil }

    // The keys the layout depends on, by bit, top level and per message.
    static let messages: UInt8 = 0, tools: UInt8 = 1, thinking: UInt8 = 2, effort: UInt8 = 3, thinkingType: UInt8 = 4
    static let templateKwargs: UInt8 = 5
    static let role: UInt8 = 0, content: UInt8 = 1, reasoning: UInt8 = 2, reasoningContent: UInt8 = 3, toolCalls: UInt8 = 4

    mutating func giveUp() { isPlain = false }

    /// Every key of an object the layout reads: one written with escapes may name a key the
    /// general path would see (`"t\u006fols"`).
    mutating func key(escaped: Bool) {
        if escaped { isPlain = false }
    }

    /// A top-level key the layout depends on.
    mutating func once(_ bit: UInt8) {
        if !topLevel.insert(bit) { isPlain = false }
    }

    mutating func effort(_ value: String) {
        turns.reasoningEffort = value
    }

    /// A list of tools is recorded as its byte range; an empty list is no tools, and anything
    /// that is not a list is ignored (as the general path does).
    mutating func tools(_ value: inout JSONScanner) throws {
        guard try value.peekKind() == .array else { return }
        var listsAny = false
        let range = try value.walkArray { _, _ in listsAny = true }
        if listsAny { turns.tools = range }
    }

    /// One message's members, then ``end(_:)``.
    struct Message {
        var seen = SeenKeys()
        var role: ChatTurns.Role?
        var content: ChatTurns.Text?
        var reasoning: ChatTurns.Text?
        var reasoningContent: ChatTurns.Text?
        var toolCalls: Range<Int>?
    }

    /// A member of a message other than `role`.
    mutating func member(_ key: UnsafeRawBufferPointer, _ field: inout JSONScanner, of message: inout Message) throws {
        guard isPlain else { return }
        if JSONScanner.key(key, is: "content") {
            if !message.seen.insert(Self.content) { isPlain = false }
            switch try field.peekKind() {
            case .string: message.content = try ChatTurns.Text.string(&field)
            case .null: break
            case .array: message.content = try parts(&field)
            default: isPlain = false
            }
        } else if let isContent = JSONScanner.key(key, is: "reasoning_content") ? true : JSONScanner.key(key, is: "reasoning") ? false : nil {
            if !message.seen.insert(isContent ? Self.reasoningContent : Self.reasoning) { isPlain = false }
            // Only a string counts; anything else is ignored, as the general path does.
            guard try field.peekKind() == .string else { return }
            let text = try ChatTurns.Text.string(&field)
            if isContent { message.reasoningContent = text } else { message.reasoning = text }
        } else if JSONScanner.key(key, is: "tool_calls") {
            if !message.seen.insert(Self.toolCalls) { isPlain = false }
            switch try field.peekKind() {
            case .null: break
            case .array:
                var listsAny = false
                let range = try field.walkArray { _, _ in listsAny = true }
                if listsAny { message.toolCalls = range }
            default: isPlain = false
            }
        }
    }

    /// Other roles, and names written with escapes, are left to the general path.
    mutating func role(_ name: UnsafeRawBufferPointer, escaped: Bool, of message: inout Message) {
        if !message.seen.insert(Self.role) || escaped { isPlain = false }
        if JSONScanner.key(name, is: "user") {
            message.role = .user
        } else if JSONScanner.key(name, is: "assistant") {
            message.role = .assistant
        } else if JSONScanner.key(name, is: "system") {
            message.role = .system
        } else if JSONScanner.key(name, is: "tool") {
            message.role = .tool
        } else if JSONScanner.key(name, is: "developer") {
            message.role = .developer
        } else {
            isPlain = false
        }
    }

    mutating func end(_ message: Message) {
        guard isPlain, let role = message.role else { return }
        // A tool result without text is an estimate on the general path. (Its `tool_call_id` only
        // orders results, which does not change the count: ``ChatPromptCounter/countTurns``.)
        if role == .tool && message.content == nil { return giveUp() }
        if role == .assistant, let calls = message.toolCalls { turns.toolCalls.append((turns.turns.count, calls)) }
        turns.turns.append(ChatTurns.Turn(
            role: role, content: message.content,
            reasoning: role == .assistant ? message.reasoningContent ?? message.reasoning : nil))
    }

    /// Content given as parts, kept as the list's range (the layout reads the texts from it).
    /// Out of line: most requests send a string.
    @inline(never)
    private mutating func parts(_ field: inout JSONScanner) throws -> ChatTurns.Text {
        let (range, allText) = try ChatTurns.walkTextParts(&field) { _ in }
        if !allText { isPlain = false }
        return ChatTurns.Text(range: range, form: .parts)
    }
}

extension ChatTurns {
    /// Walks the list of content parts at `scanner`, calling `visit` with each part's text: a
    /// string part, or the `text` of a `{"type": "text", "text": …}` object (other members are
    /// ignored), as the general path reads them. `allText` is false when a part is anything else
    /// (an image, a part without text), or has a key written with escapes or given twice, or a
    /// `type` written with escapes: the general path estimates those or may read them otherwise.
    public static func walkTextParts(
        _ scanner: inout JSONScanner, _ visit: (Text) -> Void
    ) throws -> (range: Range<Int>, allText: Bool) {
        var allText = true
        let range = try scanner.walkArray { _, part in
            switch try part.peekKind() {
            case .string:
                visit(try Text.string(&part))
            case .object:
                var seen = SeenKeys()
                var isText = false
                var text: Text?
                try part.walkObject { key, _, member in
                    if member.keyHasEscapes { return allText = false }
                    let isType = JSONScanner.key(key, is: "type")
                    guard isType || JSONScanner.key(key, is: "text") else { return }
                    guard seen.insert(isType ? 0 : 1), try member.peekKind() == .string else { return allText = false }
                    let value = try Text.string(&member)
                    if isType {
                        isText = value.form == .plain && JSONScanner.key(UnsafeRawBufferPointer(rebasing: member.bytes[value.range]), is: "text")
                    } else {
                        text = value
                    }
                }
                guard isText, let text else { return allText = false }
                visit(text)
            default:
                allText = false
            }
        }
        return (range, allText)
    }
}

/// Which of an object's keys have been seen, by bit.
struct SeenKeys {
    private var bits: UInt8 = 0

    /// False when `bit` was seen before.
    mutating func insert(_ bit: UInt8) -> Bool {
        defer { bits |= 1 << bit }
        return bits & (1 << bit) == 0
    }
}
