/// A parsed JSON value that keeps the order of object members, because the DeepSeek V4 prompt
/// re-serialises tool schemas and arguments in their original order (Python `dict` order).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text as it appeared in the document (re-serialised the Python way).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// Parses one JSON document (RFC 8259; surrounding whitespace allowed). The whole document
    /// must be UTF-8: a stray byte would otherwise be read as U+FFFD and counted as if it were one.
    /// Errors are `invalid_utf8` or `invalid_json`, with the byte offset.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer in
            if let bad = UTF8Validation.firstInvalidOffset(buffer) { throw TokenizerError.invalidUTF8(at: bad) }
            var scanner = JSONScanner(buffer)
            do {
                let value = try scanner.parseValue()
                scanner.skipWhitespace()
                guard scanner.isAtEnd else { throw JSONScanner.error("trailing characters", at: scanner.position) }
                return value
            } catch let error as TokenizerError where error.code == .malformedFile {
                // The scanner also reads tokenizer.json; here the bad JSON is the caller's.
                let reason = error.message.hasPrefix("JSON: ") ? String(error.message.dropFirst(6)) : error.message
                throw TokenizerError(code: .invalidJSON, message: "the request is not valid JSON: \(reason)", offset: error.offset)
            }
        }
    }

    /// Parses one JSON document from a string.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// The member named `key` of an object, else nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// Python truthiness (`bool(value)`), used where the encoder tests `if value:`.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .number(let n): return (Double(n) ?? 1) != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let m): return !m.isEmpty
        }
    }
}

/// An object's members as Python's `json.loads` keeps them, which is how vLLM reads a request:
/// a key written twice keeps its first place and takes its last value. Keys compare as code
/// points (Python), not as Swift's canonically equivalent `String`s.
struct ObjectMembers {
    private(set) var list: [JSONMember] = []
    /// Index by key bytes, built once an object is too long to search (tool schemas can be).
    private var index: [[UInt8]: Int]?

    mutating func set(_ key: String, _ value: JSONValue) {
        if let at = position(of: key) {
            list[at].value = value
            return
        }
        index?[Array(key.utf8)] = list.count
        list.append(JSONMember(key: key, value: value))
        if index == nil && list.count > 16 {
            index = Dictionary(uniqueKeysWithValues: list.indices.map { (Array(list[$0].key.utf8), $0) })
        }
    }

    private func position(of key: String) -> Int? {
        if let index { return index[Array(key.utf8)] }
        return list.firstIndex { $0.key.utf8.elementsEqual(key.utf8) }
    }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A small, strict JSON scanner over UTF-8 bytes. Also used by the `tokenizer.json` loader, which
/// reads the vocabulary and merges straight from the bytes without building values.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    /// Reused buffer for decoded string bytes.
    var stringBuffer: [UInt8] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        stringBuffer.reserveCapacity(256)
    }

    static func error(_ message: String, at offset: Int) -> TokenizerError {
        TokenizerError.malformed("JSON: \(message)", at: offset)
    }

    var isAtEnd: Bool { position >= bytes.count }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 } else { return }
        }
    }

    /// Skips whitespace and returns the next byte without consuming it (0 at end).
    @inline(__always)
    mutating func peek() -> UInt8 {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : 0
    }

    mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else {
            throw Self.error("expected '\(Character(Unicode.Scalar(byte)))'", at: position)
        }
        position += 1
    }

    /// After a value inside a container: consumes ',' and returns true, or consumes `close` and
    /// returns false.
    mutating func nextElement(close: UInt8) throws -> Bool {
        let b = peek()
        if b == UInt8(ascii: ",") {
            position += 1
            return true
        }
        if b == close {
            position += 1
            return false
        }
        throw Self.error("expected ',' or closing bracket", at: position)
    }

    /// Opens an object or array; returns false (and consumes `close`) when it is empty.
    mutating func open(_ openByte: UInt8, close: UInt8) throws -> Bool {
        try expect(openByte)
        if peek() == close {
            position += 1
            return false
        }
        return true
    }

    mutating func parseValue(depth: Int = 0) throws -> JSONValue {
        guard depth < 512 else { throw Self.error("nesting too deep", at: position) }
        switch peek() {
        case UInt8(ascii: "{"):
            var members = ObjectMembers()
            if try open(UInt8(ascii: "{"), close: UInt8(ascii: "}")) {
                repeat {
                    let key = try parseString()
                    try expect(UInt8(ascii: ":"))
                    members.set(key, try parseValue(depth: depth + 1))
                } while try nextElement(close: UInt8(ascii: "}"))
            }
            return .object(members.list)
        case UInt8(ascii: "["):
            var items: [JSONValue] = []
            if try open(UInt8(ascii: "["), close: UInt8(ascii: "]")) {
                repeat { items.append(try parseValue(depth: depth + 1)) } while try nextElement(close: UInt8(ascii: "]"))
            }
            return .array(items)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try parseNumberText())
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw Self.error("unexpected end", at: position) }
        for i in 0..<n where bytes[position + i] != word.utf8Start[i] {
            throw Self.error("invalid literal", at: position)
        }
        position += n
    }

    mutating func parseNumberText() throws -> String {
        let start = position
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        func digits(_ s: inout JSONScanner) -> Int {
            let from = s.position
            while s.position < s.bytes.count && (0x30...0x39).contains(s.bytes[s.position]) { s.position += 1 }
            return s.position - from
        }
        let intStart = position
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw Self.error("invalid value", at: start) }
        if intDigits > 1 && bytes[intStart] == 0x30 { throw Self.error("leading zero", at: start) }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw Self.error("invalid number", at: start) }
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            guard digits(&self) > 0 else { throw Self.error("invalid number", at: start) }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    mutating func parseInt() throws -> Int {
        let start = peekPosition()
        // Fast path for the vocabulary's ids: up to 18 plain digits, no leading zero, nothing after.
        var value = 0
        while position < bytes.count && position - start < 18, case let d = bytes[position] &- 0x30, d < 10 {
            value = value * 10 + Int(d)
            position += 1
        }
        let digits = position - start
        if digits > 0 && (digits == 1 || bytes[start] != 0x30)
            && (position == bytes.count || !Self.continuesNumber(bytes[position]))
        {
            return value
        }
        position = start
        let text = try parseNumberText()
        guard let v = Int(text) else { throw Self.error("expected an integer", at: start) }
        return v
    }

    private static func continuesNumber(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || b == UInt8(ascii: ".") || b | 0x20 == UInt8(ascii: "e")
    }

    private mutating func peekPosition() -> Int {
        skipWhitespace()
        return position
    }

    mutating func parseString() throws -> String {
        try scanString()
        return String(decoding: stringBuffer, as: UTF8.self)
    }

    /// Calls `body` with the next string's UTF-8 bytes: a view into the document when the string
    /// has no escapes (no copy; nearly every vocabulary entry), else the decoded `stringBuffer`.
    mutating func withNextString<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        try expect(UInt8(ascii: "\""))
        var end = position
        while end < bytes.count {
            let b = bytes[end]
            if b == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(rebasing: bytes[position..<end])
                position = end + 1
                return try body(text)
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { break }
            end += 1
        }
        position -= 1
        try scanString()
        return try stringBuffer.withUnsafeBufferPointer(body)
    }

    /// Reads a JSON string into `stringBuffer` as UTF-8 bytes (escapes decoded; a lone surrogate
    /// escape becomes U+FFFD, as it cannot be represented in UTF-8).
    mutating func scanString() throws {
        try expect(UInt8(ascii: "\""))
        stringBuffer.removeAll(keepingCapacity: true)
        let n = bytes.count
        var start = position
        while true {
            // Copy the run of plain bytes in one go.
            while position < n {
                let b = bytes[position]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                position += 1
            }
            if position > start { stringBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position])) }
            guard position < n else { throw Self.error("unterminated string", at: position) }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                position += 1
                return
            }
            guard b == UInt8(ascii: "\\") else { throw Self.error("control character in string", at: position) }
            position += 1
            guard position < n else { throw Self.error("unterminated string", at: position) }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): stringBuffer.append(e)
            case UInt8(ascii: "b"): stringBuffer.append(0x08)
            case UInt8(ascii: "f"): stringBuffer.append(0x0C)
            case UInt8(ascii: "n"): stringBuffer.append(0x0A)
            case UInt8(ascii: "r"): stringBuffer.append(0x0D)
            case UInt8(ascii: "t"): stringBuffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    if position + 1 < n && bytes[position] == UInt8(ascii: "\\") && bytes[position + 1] == UInt8(ascii: "u") {
                        let save = position
                        position += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = save
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar)
            default:
                throw Self.error("invalid escape", at: position - 1)
            }
            start = position
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw Self.error("invalid \\u escape", at: position) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw Self.error("invalid \\u escape", at: position)
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    private mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            stringBuffer.append(UInt8(s))
        } else if s < 0x800 {
            stringBuffer.append(UInt8(0xC0 | s >> 6))
            stringBuffer.append(UInt8(0x80 | s & 0x3F))
        } else if s < 0x10000 {
            stringBuffer.append(UInt8(0xE0 | s >> 12))
            stringBuffer.append(UInt8(0x80 | (s >> 6) & 0x3F))
            stringBuffer.append(UInt8(0x80 | s & 0x3F))
        } else {
            stringBuffer.append(UInt8(0xF0 | s >> 18))
            stringBuffer.append(UInt8(0x80 | (s >> 12) & 0x3F))
            stringBuffer.append(UInt8(0x80 | (s >> 6) & 0x3F))
            stringBuffer.append(UInt8(0x80 | s & 0x3F))
        }
    }

    /// Skips any value without building it.
    mutating func skipValue() throws {
        _ = try parseValue()
    }
}
