import NIOCore
import TollgateMoney

/// What the gateway changes in an engine's answer (a JSON body, or one SSE event's payload):
/// vLLM's `reasoning` keys renamed to `reasoning_content`, and the request's cost added to the
/// usage object as `"cost":"<decimal>"` (OpenRouter's field).
///
/// The edits are written straight into the outgoing buffer, with no array in between: a stream
/// from vLLM renames a key in every chunk, and every priced answer gets its cost.
struct AnswerEdits {
    /// Key ranges (quotes included) of the `"reasoning"` keys to rename, in order.
    var reasoningKeys: [Range<Int>]
    /// Where the cost goes (the index of the usage object's closing brace), whether a member
    /// comes before it, and the amount.
    private(set) var cost: (at: Int, afterMember: Bool, money: Money)?

    init(reasoningKeys: [Range<Int>]) {
        self.reasoningKeys = reasoningKeys
    }

    var isEmpty: Bool { reasoningKeys.isEmpty && cost == nil }

    /// Adds `money` to the usage object at `usageRange`.
    mutating func addCost(_ money: Money, toUsageAt usageRange: Range<Int>) {
        cost = (usageRange.upperBound - 1, usageRange.count > 2, money)
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
                writeStaticString(cost.afterMember ? #","cost":""# : #""cost":""#)
                writeWithUnsafeMutableBytes(minimumWritableBytes: Money.maxDecimalLength) { out in
                    cost.money.writeDecimal(into: out.bindMemory(to: UInt8.self))
                }
                writeInteger(UInt8(ascii: "\""))
                cursor = cost.at
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
    /// This JSON object with `member` (`"key":value`) added as its last member, or nil when the
    /// readable bytes do not end with an object's closing brace.
    func addingLastMember(_ member: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer? {
        func isWhiteSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        let view = readableBytesView
        guard let close = view.lastIndex(where: { !isWhiteSpace($0) }), view[close] == UInt8(ascii: "}") else { return nil }
        // After a member, a comma; in an empty object, none.
        let isEmpty = view[..<close].last { !isWhiteSpace($0) } == UInt8(ascii: "{")
        var out = allocator.buffer(capacity: readableBytes + member.count + 1)
        out.writeBytes(view[..<close])
        if !isEmpty { out.writeInteger(UInt8(ascii: ",")) }
        out.writeBytes(member)
        out.writeBytes(view[close...])
        return out
    }
}
