/// Server-sent events as OpenAI streams use them: `data: <json>\n\n`, ending with `data: [DONE]`.
public enum SSE {
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// What comes before and after an event's payload when Tollgate writes one.
    public static let dataPrefix: StaticString = "data: "
    public static let eventTerminator: StaticString = "\n\n"

    /// `data: <payload>\n\n`
    public static func event(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(dataPrefix.utf8CodeUnitCount + payload.count + eventTerminator.utf8CodeUnitCount)
        out.append(contentsOf: UnsafeBufferPointer(start: dataPrefix.utf8Start, count: dataPrefix.utf8CodeUnitCount))
        out.append(contentsOf: payload)
        out.append(contentsOf: UnsafeBufferPointer(start: eventTerminator.utf8Start, count: eventTerminator.utf8CodeUnitCount))
        return out
    }

    /// An error sent after the stream started: the envelope as one event, then `[DONE]`.
    public static func errorEvents(_ error: GatewayError) -> [UInt8] {
        event(error.envelope) + done
    }

    /// The end of the first complete event in `bytes[from...]`: the index just past its blank line
    /// (`\n\n`, `\r\n\r\n` or `\r\r`), or nil when the event is not complete yet.
    /// `searchedTo`: the bytes before it were searched already, in vain (an event that came in
    /// parts); the search backs up two bytes, for a blank line split between the parts.
    public static func eventEnd(in bytes: UnsafeRawBufferPointer, from eventStart: Int, searchedTo: Int = 0) -> Int? {
        let start = max(eventStart, searchedTo - 2)
        var index = start
        let count = bytes.count
        while index < count {
            guard let found = memchr(bytes.baseAddress! + index, 0x0A, count - index) else {
                return crEventEnd(in: bytes, from: start)
            }
            let newline = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
            if newline + 1 < count && bytes[newline + 1] == 0x0A { return newline + 2 }
            if newline + 2 < count && bytes[newline + 1] == 0x0D && bytes[newline + 2] == 0x0A { return newline + 3 }
            index = newline + 1
        }
        return nil
    }

    private static func crEventEnd(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count, let found = memchr(bytes.baseAddress! + index, 0x0D, bytes.count - index - 1) {
            let carriageReturn = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
            if bytes[carriageReturn + 1] == 0x0D { return carriageReturn + 2 }
            index = carriageReturn + 1
        }
        return nil
    }

    /// The JSON payload of an event made of one `data:` line (what OpenAI-compatible engines send),
    /// or nil for comments, `[DONE]` and multi-line events.
    public static func dataPayload(of event: UnsafeRawBufferPointer) -> Range<Int>? {
        guard event.count > 5, memcmp(event.baseAddress!, "data:", 5) == 0 else { return nil }
        var start = 5
        if start < event.count && event[start] == 0x20 { start += 1 }
        var end = event.count
        while end > start && (event[end - 1] == 0x0A || event[end - 1] == 0x0D) { end -= 1 }
        guard end > start, event[start] == UInt8(ascii: "{") else { return nil }
        // A second data line would need joining; engines never send one, so leave it untouched.
        if memchr(event.baseAddress! + start, 0x0A, end - start) != nil { return nil }
        return start..<end
    }

    /// True for `data: [DONE]` (the space optional, as on any data line) and nothing else but its
    /// line ending.
    public static func isDone(_ event: UnsafeRawBufferPointer) -> Bool {
        guard event.count >= 11, memcmp(event.baseAddress!, "data:", 5) == 0 else { return false }
        let start = event[5] == 0x20 ? 6 : 5
        guard event.count >= start + 6, memcmp(event.baseAddress! + start, "[DONE]", 6) == 0 else { return false }
        return event[(start + 6)...].allSatisfy { $0 == 0x0A || $0 == 0x0D }
    }

    /// An event read by the SSE rules: its `data:` lines joined with newlines, and its other lines
    /// (comments, `event:`, `id:`, `retry:`) as they came, each ending in `\n`.
    public struct Fields: Equatable, Sendable {
        public var data: [UInt8]
        public var otherLines: [UInt8]
    }

    /// Reads an event ``dataPayload(of:)`` leaves out: other lines beside its data, several data
    /// lines, a blank line first. Nil when it has no data line (a comment alone). A byte-order mark
    /// opening the stream is dropped, as SSE clients drop it.
    public static func fields(of event: UnsafeRawBufferPointer) -> Fields? {
        var data: [UInt8]?
        var otherLines: [UInt8] = []
        var index = event.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while index < event.count {
            var end = index
            while end < event.count && event[end] != 0x0A && event[end] != 0x0D { end += 1 }
            let line = event[index..<end]
            // A line ends at CR, LF or CRLF.
            index = end + (end + 1 < event.count && event[end] == 0x0D && event[end + 1] == 0x0A ? 2 : 1)
            guard !line.isEmpty else { continue }
            if line.starts(with: "data".utf8), line.count == 4 || line[line.startIndex + 4] == UInt8(ascii: ":") {
                var value = line.dropFirst(5)
                if value.first == 0x20 { value = value.dropFirst() }
                if data == nil { data = [] } else { data!.append(0x0A) }
                data!.append(contentsOf: value)
            } else {
                otherLines.append(contentsOf: line)
                otherLines.append(0x0A)
            }
        }
        return data.map { Fields(data: $0, otherLines: otherLines) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
