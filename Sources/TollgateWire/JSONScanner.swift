/// The kind of a JSON value found by ``JSONScanner``.
public enum JSONKind: Equatable, Sendable {
    case object, array, string, number, bool, null
}

/// Why a body is not JSON: a byte offset and a short reason (never the body itself).
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}

/// A validating, allocation-free JSON scanner over UTF-8 bytes.
///
/// Tollgate never decodes a whole request or response on the hot path: it walks the bytes once,
/// checks they are well-formed JSON (RFC 8259, UTF-8 included), and notes where the few fields it
/// needs are, so the original bytes can be forwarded with small splices.
public struct JSONScanner {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int
    /// Whether the key of the member ``walkObject(_:)`` is visiting was written with escapes (its
    /// raw bytes then differ from the name it stands for).
    public private(set) var keyHasEscapes = false
    private static let maxDepth = 512

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    // MARK: public walking API

    /// Skips white space and returns the kind of the value that starts here.
    public mutating func peekKind() throws -> JSONKind {
        skipWhitespace()
        guard offset < bytes.count else { throw error("unexpected end of input") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw error("unexpected character")
        }
    }

    /// Validates and skips one value; returns its kind and byte range.
    @discardableResult
    public mutating func skipValue() throws -> (kind: JSONKind, range: Range<Int>) {
        try skipValue(depth: 0)
    }

    /// Walks the members of the object that starts here, calling `body` with each key (raw bytes
    /// between the quotes) and a scanner placed at the member's value. `body` must consume the value
    /// (with ``skipValue()`` or a nested walk). Returns the range of the whole object.
    @discardableResult
    public mutating func walkObject(
        _ body: (_ key: UnsafeRawBufferPointer, _ keyRange: Range<Int>, _ scanner: inout JSONScanner) throws -> Void
    ) throws -> Range<Int> {
        skipWhitespace()
        let start = offset
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peekByte() == UInt8(ascii: "}") {
            offset += 1
            return start..<offset
        }
        while true {
            skipWhitespace()
            guard peekByte() == UInt8(ascii: "\"") else { throw error("expected a key") }
            let keyStart = offset
            let keyEscaped = try skipString()
            let keyRange = keyStart..<offset
            let key = UnsafeRawBufferPointer(rebasing: bytes[(keyStart + 1)..<(offset - 1)])
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let before = offset
            keyHasEscapes = keyEscaped
            try body(key, keyRange, &self)
            if offset == before { try skipValue() }
            skipWhitespace()
            switch peekByte() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                return start..<offset
            default: throw error("expected ',' or '}'")
            }
        }
    }

    /// Walks the elements of the array that starts here; `body` must consume each element.
    @discardableResult
    public mutating func walkArray(_ body: (_ index: Int, _ scanner: inout JSONScanner) throws -> Void) throws -> Range<Int> {
        skipWhitespace()
        let start = offset
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peekByte() == UInt8(ascii: "]") {
            offset += 1
            return start..<offset
        }
        var index = 0
        while true {
            skipWhitespace()
            let before = offset
            try body(index, &self)
            if offset == before { try skipValue() }
            index += 1
            skipWhitespace()
            switch peekByte() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                return start..<offset
            default: throw error("expected ',' or ']'")
            }
        }
    }

    /// Checks that only white space follows.
    public mutating func expectEnd() throws {
        skipWhitespace()
        guard offset == bytes.count else { throw error("unexpected data after the JSON value") }
    }

    /// Reads a string value and decodes it (escapes included).
    public mutating func readString() throws -> String {
        let (range, escaped) = try readStringRange()
        let inner = UnsafeRawBufferPointer(rebasing: bytes[range])
        return escaped ? JSONScanner.unescape(inner) : String(decoding: inner, as: UTF8.self)
    }

    /// Skips a string value without decoding it: the range of its contents (inside the quotes) and
    /// whether it has escapes to decode.
    public mutating func readStringRange() throws -> (range: Range<Int>, escaped: Bool) {
        skipWhitespace()
        let start = offset
        let escaped = try skipString()
        return ((start + 1)..<(offset - 1), escaped)
    }

    /// Reads `true` or `false`.
    public mutating func readBool() throws -> Bool {
        skipWhitespace()
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw error("expected true or false")
    }

    /// Reads any value and returns its truth as Python judges it (`null`, `false`, zero, `""`, `[]`
    /// and `{}` are false): how vLLM reads the flags of `chat_template_kwargs`.
    public mutating func readTruthiness() throws -> Bool {
        switch try peekKind() {
        case .bool: return try readBool()
        case .null: try skipValue(); return false
        case .string: return try !readStringRange().range.isEmpty
        case .number:
            let range = try skipValue().range
            return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)) != 0
        case .array:
            var any = false
            try walkArray { _, _ in any = true }
            return any
        case .object:
            var any = false
            try walkObject { _, _, _ in any = true }
            return any
        }
    }

    /// Reads a number that must be a whole number fitting in Int (`1e3` and `2.0` are refused).
    public mutating func readInt() throws -> Int? {
        let (_, range) = try skipValue()
        var value = 0
        var negative = false
        for index in range {
            let byte = bytes[index]
            if byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard byte >= 48 && byte <= 57 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(byte - 48))
            if o1 || o2 { return nil }
            value = s
        }
        return negative ? -value : value
    }

    /// Compares raw key bytes with an ASCII name.
    public static func key(_ key: UnsafeRawBufferPointer, is name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        return memcmp(key.baseAddress!, name.utf8Start, key.count) == 0
    }

    // MARK: grammar

    private mutating func skipValue(depth: Int) throws -> (kind: JSONKind, range: Range<Int>) {
        guard depth < JSONScanner.maxDepth else { throw error("nesting too deep") }
        let kind = try peekKind()
        let start = offset
        switch kind {
        case .object:
            offset += 1
            skipWhitespace()
            if peekByte() == UInt8(ascii: "}") {
                offset += 1
            } else {
                while true {
                    skipWhitespace()
                    guard peekByte() == UInt8(ascii: "\"") else { throw error("expected a key") }
                    try skipString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    _ = try skipValue(depth: depth + 1)
                    skipWhitespace()
                    let byte = peekByte()
                    offset += 1
                    if byte == UInt8(ascii: ",") { continue }
                    if byte == UInt8(ascii: "}") { break }
                    offset -= 1
                    throw error("expected ',' or '}'")
                }
            }
        case .array:
            offset += 1
            skipWhitespace()
            if peekByte() == UInt8(ascii: "]") {
                offset += 1
            } else {
                while true {
                    _ = try skipValue(depth: depth + 1)
                    skipWhitespace()
                    let byte = peekByte()
                    offset += 1
                    if byte == UInt8(ascii: ",") { continue }
                    if byte == UInt8(ascii: "]") { break }
                    offset -= 1
                    throw error("expected ',' or ']'")
                }
            }
        case .string:
            try skipString()
        case .bool:
            guard matchLiteral("true") || matchLiteral("false") else { throw error("invalid literal") }
        case .null:
            guard matchLiteral("null") else { throw error("invalid literal") }
        case .number:
            try skipNumber()
        }
        return (kind, start..<offset)
    }

    /// Skips a string starting at the opening quote; returns whether it had escapes.
    @discardableResult
    private mutating func skipString() throws -> Bool {
        try expect(UInt8(ascii: "\""))
        var hasEscape = false
        let count = bytes.count
        while offset < count {
            // Text is mostly plain ASCII: eight bytes at a time, straight to the first that needs a
            // closer look.
            while offset + 8 <= count {
                let flagged = Self.flaggedBytes(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                guard flagged == 0 else {
                    offset += flagged.trailingZeroBitCount >> 3
                    break
                }
                offset += 8
            }
            guard offset < count else { break }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                return hasEscape
            } else if byte == UInt8(ascii: "\\") {
                hasEscape = true
                guard offset + 1 < count else { break }
                switch bytes[offset + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    offset += 2
                case UInt8(ascii: "u"):
                    guard offset + 5 < count,
                        (2...5).allSatisfy({ JSONScanner.hexValue(bytes[offset + $0]) != nil })
                    else { throw error("invalid \\u escape") }
                    offset += 6
                default:
                    throw error("invalid escape")
                }
            } else if byte < 0x20 {
                throw error("control character in string")
            } else if byte < 0x80 {
                offset += 1
            } else {
                try skipNonASCII()
            }
        }
        throw error("unterminated string")
    }

    /// Skips the run of well-formed non-ASCII scalars that starts here (``UTF8Sequence``).
    private mutating func skipNonASCII() throws {
        var at = offset
        defer { offset = at }
        let count = bytes.count
        while at < count {
            let lead = bytes[at]
            if lead < 0x80 { return }
            guard UTF8Sequence.skipNonASCII(lead, at: &at, in: bytes) else { throw JSONSyntaxError(offset: at, reason: "invalid UTF-8") }
        }
    }

    /// The high bit of each byte of `word` that is a quote, a backslash, a control character or
    /// part of a non-ASCII scalar, by the usual has-zero-byte tricks: exact for the lowest flagged
    /// byte and for whether any is flagged (a later byte may be flagged wrongly after a flagged one).
    @inline(__always)
    static func flaggedBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // A zero byte sets its high bit here; a borrow can flag bytes above it, never below.
        func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        // A byte below 0x20 or from 0x80: its high bit, or the high bit of byte + 0x60 (< 0x80 only
        // for bytes below 0x20, with no carry between bytes since every byte is then below 0x80).
        let low = (word & ~highs) &+ (0x60 &* ones)
        return (word | ~low) & highs
            | zeroBytes(word ^ (UInt64(UInt8(ascii: "\"")) &* ones))
            | zeroBytes(word ^ (UInt64(UInt8(ascii: "\\")) &* ones))
    }

    private mutating func skipNumber() throws {
        if peekByte() == UInt8(ascii: "-") { offset += 1 }
        guard let first = peekByte(), isDigit(first) else { throw error("invalid number") }
        offset += 1
        if first != UInt8(ascii: "0") {
            while let byte = peekByte(), isDigit(byte) { offset += 1 }
        }
        if peekByte() == UInt8(ascii: ".") {
            offset += 1
            guard let byte = peekByte(), isDigit(byte) else { throw error("invalid number") }
            while let byte = peekByte(), isDigit(byte) { offset += 1 }
        }
        if let byte = peekByte(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            offset += 1
            if let sign = peekByte(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset += 1 }
            guard let digit = peekByte(), isDigit(digit) else { throw error("invalid number") }
            while let byte = peekByte(), isDigit(byte) { offset += 1 }
        }
    }

    // MARK: small helpers

    /// JSON's whitespace: space, tab, line feed, carriage return.
    @inline(__always)
    public static func isWhitespace(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x0A, 0x0D, 0x09: true
        default: false
        }
    }

    @inline(__always)
    public mutating func skipWhitespace() {
        while offset < bytes.count, Self.isWhitespace(bytes[offset]) { offset += 1 }
    }

    @inline(__always)
    private func peekByte() -> UInt8? {
        offset < bytes.count ? bytes[offset] : nil
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peekByte() == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
        offset += 1
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard offset + length <= bytes.count,
            memcmp(bytes.baseAddress! + offset, literal.utf8Start, length) == 0
        else { return false }
        offset += length
        return true
    }

    private func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset, reason: reason)
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 48...57: return UInt32(byte - 48)
        case 65...70: return UInt32(byte - 55)
        case 97...102: return UInt32(byte - 87)
        default: return nil
        }
    }

    /// Decodes the inside of an already validated string.
    static func unescape(_ inner: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var index = 0
        var pendingHigh: UInt32?
        func appendScalar(_ value: UInt32) {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while index < inner.count {
            let byte = inner[index]
            guard byte == UInt8(ascii: "\\") else {
                if let high = pendingHigh { appendScalar(high); pendingHigh = nil }
                out.append(byte)
                index += 1
                continue
            }
            let escape = inner[index + 1]
            index += 2
            if escape == UInt8(ascii: "u") {
                var value: UInt32 = 0
                for offset in 0..<4 { value = value << 4 | hexValue(inner[index + offset])! }
                index += 4
                if let high = pendingHigh {
                    pendingHigh = nil
                    if (0xDC00...0xDFFF).contains(value) {
                        appendScalar(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00))
                        continue
                    }
                    appendScalar(0xFFFD)
                }
                if (0xD800...0xDBFF).contains(value) {
                    pendingHigh = value
                } else {
                    appendScalar((0xDC00...0xDFFF).contains(value) ? 0xFFFD : value)
                }
                continue
            }
            if pendingHigh != nil { appendScalar(0xFFFD); pendingHigh = nil }
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: out.append(escape)
            }
        }
        if pendingHigh != nil { appendScalar(0xFFFD) }
        return String(decoding: out, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
