import NIOCore
import TollgateMoney
import TollgateWire

/// What the gateway changes in an engine's answer (a JSON body, or one SSE event's payload):
/// vLLM's `reasoning` keys renamed to `reasoning_content`, and the request's cost added to the
/// usage object as `"cost":"<decimal>"` (OpenRouter's field), or a `"usage":null` the client did
/// not ask for taken out.
///
/// The edits are written straight into the outgoing buffer, with no array in between: a stream
/// from vLLM renames a key in every chunk, and every priced answer gets its cost.
struct AnswerEdits {
    /// The one change to the usage member an answer can need. Amounts are held as nanos: a
    /// `Money` would bring its currency string, and a copy that retains it, into every priced answer.
    enum UsageEdit {
        /// A new `cost` member before the usage object's closing brace at `at`.
        case addCost(at: Int, afterMember: Bool, nanos: Int64)
        /// The value of the usage's own `cost` (an upstream gateway's) replaced.
        case replaceCost(Range<Int>, nanos: Int64)
        /// The bytes of a `"usage":null` member, with its comma, taken out.
        case remove(Range<Int>)

        var start: Int {
            switch self {
            case .addCost(let at, _, _): return at
            case .replaceCost(let range, _), .remove(let range): return range.lowerBound
            }
        }
    }

    /// Key ranges (quotes included) of the `"reasoning"` keys to rename, in order.
    var reasoningKeys: [Range<Int>]
    private(set) var usage: UsageEdit?

    init(reasoningKeys: [Range<Int>]) {
        self.reasoningKeys = reasoningKeys
    }

    var isEmpty: Bool { reasoningKeys.isEmpty && usage == nil }

    /// Adds `money` to the usage object at `usageRange`, or puts it in place of the value of the
    /// `cost` member at `existing`: a second `cost` key would leave clients to pick one.
    mutating func addCost(_ money: Money, toUsageAt usageRange: Range<Int>, replacing existing: Range<Int>?) {
        if let existing {
            usage = .replaceCost(existing, nanos: money.nanos)
        } else {
            usage = .addCost(at: usageRange.upperBound - 1, afterMember: usageRange.count > 2, nanos: money.nanos)
        }
    }

    /// Takes out the `"usage":null` member at `member` (``ResponseShape/nullUsageMember``).
    mutating func removeMember(_ member: Range<Int>) {
        usage = .remove(member)
    }

    /// The most bytes the edits add.
    var growth: Int {
        let rename = #""reasoning_content""#.utf8.count - #""reasoning""#.utf8.count
        let cost = #","cost":"""#.utf8.count + Money.maxDecimalLength
        switch usage {
        case .addCost?, .replaceCost?: return reasoningKeys.count * rename + cost
        case .remove?, nil: return reasoningKeys.count * rename
        }
    }
}

extension ByteBuffer {
    /// Writes `bytes` with `edits` applied.
    mutating func writeEdited(_ bytes: UnsafeRawBufferPointer, _ edits: AnswerEdits) {
        var cursor = 0
        var pendingUsage = edits.usage
        func writeCost(_ nanos: Int64) {
            writeWithUnsafeMutableBytes(minimumWritableBytes: Money.maxDecimalLength) { out in
                Money.writeDecimal(nanos: nanos, into: out.bindMemory(to: UInt8.self))
            }
            writeInteger(UInt8(ascii: "\""))
        }
        // Copies the bytes up to `end`, making the usage edit on the way when it falls there.
        func copy(upTo end: Int) {
            if let edit = pendingUsage, edit.start <= end {
                writeBytes(UnsafeRawBufferPointer(rebasing: bytes[cursor..<edit.start]))
                switch edit {
                case .addCost(let at, let afterMember, let nanos):
                    writeStaticString(afterMember ? #","cost":""# : #""cost":""#)
                    writeCost(nanos)
                    cursor = at
                case .replaceCost(let range, let nanos):
                    writeInteger(UInt8(ascii: "\""))
                    writeCost(nanos)
                    cursor = range.upperBound
                case .remove(let range):
                    cursor = range.upperBound
                }
                pendingUsage = nil
            }
            writeBytes(UnsafeRawBufferPointer(rebasing: bytes[cursor..<end]))
            cursor = end
        }
        for key in edits.reasoningKeys {
            copy(upTo: key.lowerBound)
            writeStaticString(#""reasoning_content""#)
            cursor = key.upperBound
        }
        copy(upTo: bytes.count)
    }
}

extension ByteBuffer {
    /// This JSON object with its top-level `usage` value, of any kind, replaced by `usage`, or with
    /// `"usage":` and `usage` added as its last member when it has none. Nil when the readable
    /// bytes are not one JSON object.
    ///
    /// For the rare answer without a usage the gateway believes; it walks the whole answer.
    func replacingUsage(with usage: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer? {
        let found = withUnsafeReadableBytes { bytes -> (usage: Range<Int>?, close: Int, isEmpty: Bool)? in
            var scanner = JSONScanner(bytes)
            var usageRange: Range<Int>?
            var members = 0
            guard let object = try? scanner.walkObject({ key, _, value in
                members += 1
                if JSONScanner.key(key, is: "usage") { usageRange = try value.skipValue().range }
            }), (try? scanner.expectEnd()) != nil
            else { return nil }
            return (usageRange, object.upperBound - 1, members == 0)
        }
        guard let found else { return nil }
        let view = readableBytesView
        let start = view.startIndex
        var out = allocator.buffer(capacity: readableBytes + usage.count + 9)
        if let range = found.usage {
            out.writeBytes(view[..<(start + range.lowerBound)])
            out.writeBytes(usage)
            out.writeBytes(view[(start + range.upperBound)...])
        } else {
            out.writeBytes(view[..<(start + found.close)])
            out.writeString(found.isEmpty ? #""usage":"# : #","usage":"#)
            out.writeBytes(usage)
            out.writeBytes(view[(start + found.close)...])
        }
        return out
    }
}
