import NIOCore
import TollgateMoney
import TollgateWire

/// What the gateway changes in an engine's answer (a JSON body, or one SSE event's payload):
/// vLLM's `reasoning` keys renamed to `reasoning_content`, and the request's cost added to the
/// usage object as `"cost":"<decimal>"` (OpenRouter's field).
///
/// The edits are written straight into the outgoing buffer, with no array in between: a stream
/// from vLLM renames a key in every chunk, and every priced answer gets its cost.
struct AnswerEdits {
    /// Key ranges (quotes included) of the `"reasoning"` keys to rename, in order.
    var reasoningKeys: [Range<Int>]
    /// Where the cost goes and the amount: either a new member before the usage object's closing
    /// brace at `at` (after another member or not), or, when the usage already has a `cost` (an
    /// upstream gateway's), in place of that value, `at..<replacing`.
    private(set) var cost: (at: Int, replacing: Int?, afterMember: Bool, money: Money)?

    init(reasoningKeys: [Range<Int>]) {
        self.reasoningKeys = reasoningKeys
    }

    var isEmpty: Bool { reasoningKeys.isEmpty && cost == nil }

    /// Adds `money` to the usage object at `usageRange`, or puts it in place of the value of the
    /// `cost` member at `existing`: a second `cost` key would leave clients to pick one.
    mutating func addCost(_ money: Money, toUsageAt usageRange: Range<Int>, replacing existing: Range<Int>?) {
        if let existing {
            cost = (existing.lowerBound, existing.upperBound, false, money)
        } else {
            cost = (usageRange.upperBound - 1, nil, usageRange.count > 2, money)
        }
    }

    /// The most bytes the edits add.
    var growth: Int {
        let rename = #""reasoning_content""#.utf8.count - #""reasoning""#.utf8.count
        return reasoningKeys.count * rename + (cost == nil ? 0 : #","cost":"""#.utf8.count + Money.maxDecimalLength)
    }
}

extension ByteBuffer {
    /// Writes `bytes` with `edits` applied.
    mutating func writeEdited(_ bytes: UnsafeRawBufferPointer, _ edits: AnswerEdits) {
        var cursor = 0
        var pendingCost = edits.cost
        // Copies the bytes up to `end`, inserting the cost on the way when it falls there.
        func copy(upTo end: Int) {
            if let cost = pendingCost, cost.at <= end {
                writeBytes(UnsafeRawBufferPointer(rebasing: bytes[cursor..<cost.at]))
                if cost.replacing != nil {
                    writeInteger(UInt8(ascii: "\""))
                } else {
                    writeStaticString(cost.afterMember ? #","cost":""# : #""cost":""#)
                }
                writeWithUnsafeMutableBytes(minimumWritableBytes: Money.maxDecimalLength) { out in
                    cost.money.writeDecimal(into: out.bindMemory(to: UInt8.self))
                }
                writeInteger(UInt8(ascii: "\""))
                cursor = cost.replacing ?? cost.at
                pendingCost = nil
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
