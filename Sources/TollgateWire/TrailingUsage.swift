/// Finds the top-level `usage` object of an answer by reading it from the end.
///
/// Every OpenAI-compatible server puts `usage` last or nearly last (vLLM follows it with a few
/// `prompt_logprobs`-style members), so when the gateway needs nothing but the usage it can read
/// the last few members backwards instead of walking the whole body with ``ResponseShape``.
///
/// Read backwards, JSON is unambiguous but for escaped quotes: scanning left from a closing quote,
/// the first quote met is the opening one, or an escaped quote when a backslash precedes it. An
/// opening quote always follows a separator or space, so there the next separator expected is a
/// backslash and the read fails. Anything unexpected, or no `usage` among the last `maxMembers`
/// members, returns nil and the caller walks the body forwards. Unlike the forward walk, this
/// reads only the tail: it does not prove the rest of the body well-formed (an engine's usage is
/// billed even if something before it is broken).
public enum TrailingUsage {
    /// How many members from the end are read before giving up.
    static let maxMembers = 8
    private static let maxDepth = 16

    /// The range of the top-level `usage` value when it is an object among the body's last members.
    public static func find(in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var reader = BackwardReader(bytes: bytes, end: bytes.count)
        guard reader.take(UInt8(ascii: "}")) else { return nil }
        for _ in 0..<maxMembers {
            guard let value = reader.value(depth: 0), reader.take(UInt8(ascii: ":")), let key = reader.string() else {
                return nil
            }
            // Before a member: `,` when another one precedes it, `{` at the start of the object.
            let isFirst = reader.take(UInt8(ascii: "{"))
            guard isFirst || reader.take(UInt8(ascii: ",")) else { return nil }
            // The last `usage` wins, as in the forward walk: one that is not an object means none.
            if reader.matches(key, "usage") { return value.isObject ? value.range : nil }
            if isFirst { return nil }
        }
        return nil
    }

    /// Reads JSON right to left from `end` (exclusive). Every method returns nil or false, and may
    /// leave `end` anywhere, when the bytes are not what it reads.
    private struct BackwardReader {
        let bytes: UnsafeRawBufferPointer
        var end: Int

        /// The last non-space byte, if it is `byte`, consumed.
        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard end > 0, bytes[end - 1] == byte else { return false }
            end -= 1
            return true
        }

        mutating func value(depth: Int) -> (range: Range<Int>, isObject: Bool)? {
            skipSpace()
            guard end > 0, depth < TrailingUsage.maxDepth else { return nil }
            let close = end
            switch bytes[end - 1] {
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                let isObject = bytes[end - 1] == UInt8(ascii: "}")
                end -= 1
                guard contents(isObject: isObject, depth: depth) else { return nil }
                return (end..<close, isObject)
            case UInt8(ascii: "\""):
                guard string() != nil else { return nil }
                return (end..<close, false)
            default:
                // A number or literal: its characters up to the previous separator.
                while end > 0, isScalarByte(bytes[end - 1]) { end -= 1 }
                return end < close ? (end..<close, false) : nil
            }
        }

        /// An object's members or an array's elements back to and including the opening bracket
        /// (the closing one already consumed).
        private mutating func contents(isObject: Bool, depth: Int) -> Bool {
            let opening = isObject ? UInt8(ascii: "{") : UInt8(ascii: "[")
            if take(opening) { return true }
            while true {
                guard value(depth: depth + 1) != nil else { return false }
                if isObject { guard take(UInt8(ascii: ":")), string() != nil else { return false } }
                if take(opening) { return true }
                guard take(UInt8(ascii: ",")) else { return false }
            }
        }

        /// A string, quotes consumed; returns the range inside the quotes. (Stopped by an escaped
        /// quote, it leaves a backslash next, which no caller accepts.)
        mutating func string() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let close = end
            while end > 0 {
                if bytes[end - 1] == UInt8(ascii: "\"") {
                    end -= 1
                    return (end + 1)..<close
                }
                end -= 1
            }
            return nil
        }

        func matches(_ range: Range<Int>, _ word: StaticString) -> Bool {
            JSONScanner.key(UnsafeRawBufferPointer(rebasing: bytes[range]), is: word)
        }

        private mutating func skipSpace() {
            while end > 0 {
                switch bytes[end - 1] {
                case 0x20, 0x09, 0x0A, 0x0D: end -= 1
                default: return
                }
            }
        }

        private func isScalarByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "E"),
                UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
    }
}
