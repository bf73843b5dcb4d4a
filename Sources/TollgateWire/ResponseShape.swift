/// What the gateway needs to know about an upstream response body or stream chunk, found in one
/// pass: where `usage` is and what it says, whether `choices` is empty (the usage-only chunk),
/// where an engine used vLLM's `reasoning` key that clients expect as `reasoning_content`, and an
/// `error` member.
public struct ResponseShape: Sendable {
    /// Range of the top-level `usage` value when it is an object.
    public var usageRange: Range<Int>?
    /// That object's counts, when it has the two basic ones.
    public var usage: TokenUsage?
    /// Range of the value of that object's `cost` member, when an upstream gateway priced it.
    public var usageCostRange: Range<Int>?
    /// A top-level `"usage":null` member with the comma joining it to a neighbour (the one before
    /// it, else the one after): what taking it out leaves valid JSON without.
    public var nullUsageMember: Range<Int>?
    /// Number of `choices` entries; nil when absent.
    public var choiceCount: Int?
    /// Key ranges (quotes included) of `choices[*].message.reasoning` / `choices[*].delta.reasoning`
    /// where the same object has no `reasoning_content`.
    public var reasoningKeyRanges: [Range<Int>] = []
    /// Range of a top-level `error` value (errors sent inside a stream).
    public var errorRange: Range<Int>?

    public init() {}

    /// The shape of an answer of which only the usage object was read, at `usageRange` of `bytes`
    /// (see ``TrailingUsage``).
    public init(usageRange: Range<Int>, of bytes: UnsafeRawBufferPointer) {
        var scanner = JSONScanner(bytes, offset: usageRange.lowerBound)
        self.usageRange = usageRange
        guard let read = try? TokenUsage.read(&scanner) else { return }
        (self.usage, self.usageCostRange) = (read.usage, read.costRange)
    }

    /// A chunk with a usage object and no choices (`choices: []`, null or left out): the one
    /// `include_usage` adds.
    public var isUsageOnlyChunk: Bool { (choiceCount ?? 0) == 0 && usageRange != nil }

    /// Inspects one JSON object. Returns nil when the bytes are not a JSON object.
    public static func inspect(_ bytes: UnsafeRawBufferPointer) -> ResponseShape? {
        var shape = ResponseShape()
        var scanner = JSONScanner(bytes)
        do {
            guard try scanner.peekKind() == .object else { return nil }
            try scanner.walkObject { key, keyRange, value in
                if JSONScanner.key(key, is: "usage") {
                    if try value.peekKind() == .object {
                        (shape.usageRange, shape.usage, shape.usageCostRange) = try TokenUsage.read(&value)
                    } else {
                        let (kind, valueRange) = try value.skipValue()
                        (shape.usageRange, shape.usage, shape.usageCostRange) = (nil, nil, nil)
                        if kind == .null { shape.nullUsageMember = memberWithComma(keyRange.lowerBound..<valueRange.upperBound, in: bytes) }
                    }
                } else if JSONScanner.key(key, is: "error") {
                    shape.errorRange = try value.skipValue().range
                } else if JSONScanner.key(key, is: "choices"), try value.peekKind() == .array {
                    var count = 0
                    try value.walkArray { _, choice in
                        count += 1
                        guard try choice.peekKind() == .object else { return }
                        try choice.walkObject { choiceKey, _, inner in
                            guard JSONScanner.key(choiceKey, is: "message") || JSONScanner.key(choiceKey, is: "delta"),
                                try inner.peekKind() == .object
                            else { return }
                            var reasoningKey: Range<Int>?
                            var hasReasoningContent = false
                            try inner.walkObject { fieldKey, fieldKeyRange, _ in
                                if JSONScanner.key(fieldKey, is: "reasoning") {
                                    reasoningKey = fieldKeyRange
                                } else if JSONScanner.key(fieldKey, is: "reasoning_content") {
                                    hasReasoningContent = true
                                }
                            }
                            if let reasoningKey, !hasReasoningContent { shape.reasoningKeyRanges.append(reasoningKey) }
                        }
                    }
                    shape.choiceCount = count
                }
            }
            try scanner.expectEnd()
        } catch {
            return nil
        }
        return shape
    }

    /// `member` widened to the comma before it, else the one after it (JSON whitespace between).
    static func memberWithComma(_ member: Range<Int>, in bytes: UnsafeRawBufferPointer) -> Range<Int> {
        var before = member.lowerBound - 1
        while before >= 0, JSONScanner.isWhitespace(bytes[before]) { before -= 1 }
        if before >= 0, bytes[before] == UInt8(ascii: ",") { return before..<member.upperBound }
        var after = member.upperBound
        while after < bytes.count, JSONScanner.isWhitespace(bytes[after]) { after += 1 }
        if after < bytes.count, bytes[after] == UInt8(ascii: ",") { return member.lowerBound..<(after + 1) }
        return member
    }
}

/// Reads an upstream error body in either shape engines use, OpenAI's `{"error":{...}}` or the flat
/// `{"object":"error","message":...}` of vLLM and SGLang, and normalises it.
public enum UpstreamErrorBody {
    /// A context refusal becomes `context_length_exceeded` naming what is too long for `endpoint`
    /// (`messages` or `prompt`), as the gateway's own refusal names it.
    public static func normalise(status: Int, body: UnsafeRawBufferPointer, endpoint: InferenceEndpoint) -> GatewayError {
        var message = ""
        var type: String?
        var code: String?
        var param: String?
        // Engines nest at most one `error` object; deeper ones are skipped (by the scanner, which
        // bounds its own depth), so a hostile body cannot run the stack out.
        func readFields(_ scanner: inout JSONScanner, depth: Int = 0) throws {
            try scanner.walkObject { key, _, value in
                let kind = try value.peekKind()
                if JSONScanner.key(key, is: "error"), kind == .object, depth < 2 {
                    try readFields(&value, depth: depth + 1)
                } else if JSONScanner.key(key, is: "error"), kind == .string {
                    message = try value.readString()
                } else if JSONScanner.key(key, is: "message"), kind == .string {
                    message = try value.readString()
                } else if JSONScanner.key(key, is: "type"), kind == .string {
                    type = try value.readString()
                } else if JSONScanner.key(key, is: "param"), kind == .string {
                    param = try value.readString()
                } else if JSONScanner.key(key, is: "code") {
                    // Engines send codes as strings or as the HTTP status number.
                    if kind == .string { code = try value.readString() }
                } else if JSONScanner.key(key, is: "detail"), kind == .string {
                    message = try value.readString()
                }
            }
        }
        var scanner = JSONScanner(body)
        if (try? readFields(&scanner)) == nil {
            message = ""
        }
        if type == "BadRequestError" || type == "NotFoundError" { type = "invalid_request_error" }
        if status == 400 && (message.contains("maximum context length") || message.contains("context length")
            || message.contains("longer than the model's context length"))
        {
            return .contextLengthExceeded(message, param: endpoint.promptParam)
        }
        return .upstream(status: status, message: message, type: type, code: code, param: param)
    }
}
