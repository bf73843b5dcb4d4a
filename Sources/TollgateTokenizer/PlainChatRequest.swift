#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A chat request in the shape most traffic has (system, user and assistant turns with string
/// content, no tools), read straight from its bytes for counting.
///
/// ``read(_:)`` returns nil for anything else: tools, content parts, other roles, assistant tool
/// calls, `chat_template_kwargs`, a duplicate of a key the layout depends on, a key written with
/// escapes, a lone surrogate, invalid UTF-8, malformed JSON. The caller then renders the request
/// the general way, so this reader is only ever a shortcut to the same count.
struct PlainChatRequest {
    enum Role { case system, user, assistant }

    /// A JSON string's contents: a byte range of the body, and whether it has escapes to decode.
    struct Text {
        var range: Range<Int>
        var escaped: Bool
    }

    struct Message {
        var role: Role
        var content: Text?
        /// `reasoning_content`, else `reasoning` (assistant turns only).
        var reasoning: Text?
    }

    var messages: [Message] = []
    var thinking = true
    var effort = ChatRenderer.Effort.high

    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> PlainChatRequest? {
        var reader = PlainChatReader(bytes: bytes)
        return try? reader.request()
    }
}

/// The byte-level reader behind ``PlainChatRequest``: a strict JSON grammar that throws
/// `Unsupported` wherever the general path has to decide.
private struct PlainChatReader {
    struct Unsupported: Error {}

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func request() throws -> PlainChatRequest {
        var out = PlainChatRequest()
        var seen = SeenKeys()
        var thinkingDisabled = false
        var effort: Range<Int>?
        try expect(UInt8(ascii: "{"))
        var more = try first(closing: UInt8(ascii: "}"))
        while more {
            let key = try key()
            if matches(key, "messages") {
                try seen.once(0)
                out.messages = try messages()
            } else if matches(key, "tools") {
                try seen.once(1)
                // An empty list is no tools; a non-list is ignored, as the general path does.
                if peek == UInt8(ascii: "[") {
                    i += 1
                    guard try first(closing: UInt8(ascii: "]")) == false else { throw Unsupported() }
                } else {
                    try skipValue(depth: 0)
                }
            } else if matches(key, "thinking") {
                try seen.once(2)
                if let type = try thinkingType() { thinkingDisabled = matches(type, "disabled") }
            } else if matches(key, "reasoning_effort") {
                try seen.once(3)
                if peek == UInt8(ascii: "\"") {
                    effort = try plainString()
                } else {
                    try skipValue(depth: 0)
                }
            } else if matches(key, "chat_template_kwargs") {
                throw Unsupported()
            } else {
                try skipValue(depth: 0)
            }
            more = try next(closing: UInt8(ascii: "}"))
        }
        skipWhitespace()
        guard i == bytes.count, seen.contains(0) else { throw Unsupported() }
        // Same order as the general path's `configure`: thinking.type, then reasoning_effort.
        if thinkingDisabled { out.thinking = false }
        if let effort {
            if matches(effort, "none") { out.thinking = false }
            out.effort = ChatRenderer.Effort(
                requested: String(decoding: UnsafeBufferPointer(rebasing: bytes[effort]), as: UTF8.self))
        }
        return out
    }

    private mutating func messages() throws -> [PlainChatRequest.Message] {
        try expect(UInt8(ascii: "["))
        var list: [PlainChatRequest.Message] = []
        list.reserveCapacity(4)
        var more = try first(closing: UInt8(ascii: "]"))
        while more {
            list.append(try message())
            more = try next(closing: UInt8(ascii: "]"))
        }
        return list
    }

    private mutating func message() throws -> PlainChatRequest.Message {
        try expect(UInt8(ascii: "{"))
        var seen = SeenKeys()
        var role: PlainChatRequest.Role?
        var content: PlainChatRequest.Text?
        var reasoningContent: PlainChatRequest.Text?
        var reasoning: PlainChatRequest.Text?
        var more = try first(closing: UInt8(ascii: "}"))
        while more {
            let key = try key()
            if matches(key, "role") {
                try seen.once(0)
                let name = try plainString()
                if matches(name, "system") {
                    role = .system
                } else if matches(name, "user") {
                    role = .user
                } else if matches(name, "assistant") {
                    role = .assistant
                } else {
                    throw Unsupported()
                }
            } else if matches(key, "content") {
                try seen.once(1)
                // A string or null; content parts go the general way.
                if peek == UInt8(ascii: "\"") {
                    content = try string()
                } else {
                    try literal("null")
                }
            } else if matches(key, "reasoning_content") || matches(key, "reasoning") {
                let isReasoning = matches(key, "reasoning")
                try seen.once(isReasoning ? 2 : 3)
                // Only a string counts; anything else is ignored, as the general path does.
                var text: PlainChatRequest.Text?
                if peek == UInt8(ascii: "\"") { text = try string() } else { try skipValue(depth: 0) }
                if isReasoning { reasoning = text } else { reasoningContent = text }
            } else if matches(key, "tool_calls") {
                try seen.once(4)
                if peek == UInt8(ascii: "[") {
                    i += 1
                    guard try first(closing: UInt8(ascii: "]")) == false else { throw Unsupported() }
                } else {
                    try literal("null")
                }
            } else {
                try skipValue(depth: 0)
            }
            more = try next(closing: UInt8(ascii: "}"))
        }
        guard let role else { throw Unsupported() }
        return PlainChatRequest.Message(
            role: role, content: content, reasoning: role == .assistant ? reasoningContent ?? reasoning : nil)
    }

    /// The range of `thinking.type` when `thinking` is an object with a string `type`.
    private mutating func thinkingType() throws -> Range<Int>? {
        guard peek == UInt8(ascii: "{") else {
            try skipValue(depth: 0)
            return nil
        }
        i += 1
        var type: Range<Int>?
        var seenType = false
        var more = try first(closing: UInt8(ascii: "}"))
        while more {
            if matches(try key(), "type") {
                guard !seenType else { throw Unsupported() }
                seenType = true
                if peek == UInt8(ascii: "\"") { type = try plainString() } else { try skipValue(depth: 0) }
            } else {
                try skipValue(depth: 0)
            }
            more = try next(closing: UInt8(ascii: "}"))
        }
        return type
    }

    // MARK: grammar

    private var peek: UInt8? {
        mutating get {
            skipWhitespace()
            return i < bytes.count ? bytes[i] : nil
        }
    }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek == byte else { throw Unsupported() }
        i += 1
    }

    /// After an opening bracket: false (and consumed) when the container is empty.
    private mutating func first(closing: UInt8) throws -> Bool {
        guard let byte = peek else { throw Unsupported() }
        if byte == closing {
            i += 1
            return false
        }
        return true
    }

    /// After a member or element: true when another follows.
    private mutating func next(closing: UInt8) throws -> Bool {
        switch peek {
        case UInt8(ascii: ","):
            i += 1
            return true
        case closing:
            i += 1
            return false
        default:
            throw Unsupported()
        }
    }

    /// A member's key (without escapes) and its colon.
    private mutating func key() throws -> Range<Int> {
        let range = try plainString()
        try expect(UInt8(ascii: ":"))
        return range
    }

    /// A string value without escapes.
    private mutating func plainString() throws -> Range<Int> {
        let text = try string()
        guard !text.escaped else { throw Unsupported() }
        return text.range
    }

    /// True when the body's bytes in `range` are exactly `word`.
    private func matches(_ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress! + range.lowerBound, word.utf8Start, range.count) == 0
    }

    private mutating func literal(_ word: StaticString) throws {
        guard peek != nil, i + word.utf8CodeUnitCount <= bytes.count else { throw Unsupported() }
        for k in 0..<word.utf8CodeUnitCount where bytes[i + k] != word.utf8Start[k] { throw Unsupported() }
        i += word.utf8CodeUnitCount
    }

    /// A string: checks escapes (surrogates must pair) and UTF-8, returns the range inside the quotes.
    private mutating func string() throws -> PlainChatRequest.Text {
        try expect(UInt8(ascii: "\""))
        let start = i
        var escaped = false
        var nonASCII = false
        while true {
            guard i < bytes.count else { throw Unsupported() }
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw Unsupported() }
            if byte >= 0x80 { nonASCII = true }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < bytes.count else { throw Unsupported() }
                switch bytes[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    let unit = try hex4(at: i + 1)
                    i += 5
                    if unit >= 0xDC00 && unit <= 0xDFFF { throw Unsupported() }
                    if unit >= 0xD800 && unit <= 0xDBFF {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw Unsupported() }
                        let low = try hex4(at: i + 2)
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw Unsupported() }
                        i += 6
                    }
                default:
                    throw Unsupported()
                }
                continue
            }
            i += 1
        }
        let range = start..<i
        i += 1
        if nonASCII && UTF8Validation.firstInvalidOffset(UnsafeBufferPointer(rebasing: bytes[range])) != nil {
            throw Unsupported()
        }
        return PlainChatRequest.Text(range: range, escaped: escaped)
    }

    private func hex4(at offset: Int) throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw Unsupported() }
        var value: UInt32 = 0
        for k in offset..<(offset + 4) {
            guard let digit = hexValue(bytes[k]) else { throw Unsupported() }
            value = value << 4 | digit
        }
        return value
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth < 64, let byte = peek else { throw Unsupported() }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            i += 1
            var more = try first(closing: UInt8(ascii: "}"))
            while more {
                _ = try string()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
                more = try next(closing: UInt8(ascii: "}"))
            }
        case UInt8(ascii: "["):
            i += 1
            var more = try first(closing: UInt8(ascii: "]"))
            while more {
                try skipValue(depth: depth + 1)
                more = try next(closing: UInt8(ascii: "]"))
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func number() throws {
        func digits() throws {
            guard i < bytes.count, isDigit(bytes[i]) else { throw Unsupported() }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && bytes[i] == UInt8(ascii: "-") { i += 1 }
        if i < bytes.count && bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            try digits()
        }
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            try digits()
        }
        if i < bytes.count && (bytes[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            try digits()
        }
    }
}

/// Which of the keys the layout depends on an object has shown, by bit: a duplicate is refused
/// (JSON parsers disagree on which one wins).
private struct SeenKeys {
    private var bits: UInt8 = 0

    mutating func once(_ bit: UInt8) throws {
        guard bits & (1 << bit) == 0 else { throw PlainChatReader.Unsupported() }
        bits |= 1 << bit
    }

    func contains(_ bit: UInt8) -> Bool { bits & (1 << bit) != 0 }
}

private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

private func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
    default: return nil
    }
}
