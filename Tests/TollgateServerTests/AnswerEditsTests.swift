import NIOCore
import Testing
import TollgateMoney
import TollgateWire

@testable import TollgateServer

/// The edits written into answers: `reasoning` renamed, `cost` added to the usage object, in
/// either order and alone, within the room `growth` promises.
@Suite struct AnswerEditsTests {
    func edited(_ json: String, cost: Money? = nil) throws -> String {
        let bytes = Array(json.utf8)
        let shape = try #require(bytes.withUnsafeBytes { ResponseShape.inspect($0) })
        var edits = AnswerEdits(reasoningKeys: shape.reasoningKeyRanges)
        if let cost, let usage = shape.usageRange { edits.addCost(cost, toUsageAt: usage, replacing: shape.usageCostRange) }
        var out = ByteBufferAllocator().buffer(capacity: 0)
        bytes.withUnsafeBytes { out.writeEdited($0, edits) }
        #expect(out.readableBytes <= bytes.count + edits.growth)
        return String(buffer: out)
    }

    @Test func renamesReasoningBeforeTheCost() throws {
        let out = try edited(
            #"{"choices":[{"delta":{"reasoning":"a"}},{"delta":{"reasoning":"b"}}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#,
            cost: Money(nanos: 1_234_500, currency: "USD"))
        #expect(
            out == #"{"choices":[{"delta":{"reasoning_content":"a"}},{"delta":{"reasoning_content":"b"}}],"#
                + #""usage":{"prompt_tokens":5,"completion_tokens":7,"cost":"0.0012345"}}"#)
    }

    @Test func replacesACostAlreadyThere() throws {
        let cost = Money(nanos: 1_500, currency: "USD")
        #expect(
            try edited(#"{"usage":{"cost":"9.99","prompt_tokens":1,"completion_tokens":2}}"#, cost: cost)
                == #"{"usage":{"cost":"0.0000015","prompt_tokens":1,"completion_tokens":2}}"#)
        #expect(
            try edited(#"{"usage":{"prompt_tokens":1,"completion_tokens":2,"cost":{"total":1}},"choices":[{"delta":{"reasoning":"r"}}]}"#, cost: cost)
                == #"{"usage":{"prompt_tokens":1,"completion_tokens":2,"cost":"0.0000015"},"choices":[{"delta":{"reasoning_content":"r"}}]}"#)
    }

    /// `"usage":null` comes out with the comma that joins it, wherever it stands, and nothing
    /// that merely looks like it does.
    @Test func takesOutAUsageNullTheClientDidNotAskFor() throws {
        func removed(_ json: String) -> String {
            let bytes = Array(json.utf8)
            return bytes.withUnsafeBytes { payload in
                let shape = ResponseShape.inspect(payload)
                var edits = AnswerEdits(reasoningKeys: shape?.reasoningKeyRanges ?? [])
                if let member = shape?.nullUsageMember { edits.removeMember(member) }
                var out = ByteBufferAllocator().buffer(capacity: 0)
                out.writeEdited(payload, edits)
                return String(buffer: out)
            }
        }
        #expect(removed(#"{"id":"x","choices":[{"delta":{"reasoning":"r"}}],"usage":null}"#) == #"{"id":"x","choices":[{"delta":{"reasoning_content":"r"}}]}"#)
        #expect(removed(#"{"usage": null, "choices":[]}"#) == #"{ "choices":[]}"#)
        #expect(removed(#"{"usage":null}"#) == "{}")
        #expect(removed(#"{"a":"usage","usage" : null ,"b":1}"#) == #"{"a":"usage" ,"b":1}"#)
        #expect(removed(#"{"a":"\"usage\":null","b":1}"#) == #"{"a":"\"usage\":null","b":1}"#)
        #expect(removed(#"{"usage":{"prompt_tokens":1},"b":null}"#) == #"{"usage":{"prompt_tokens":1},"b":null}"#)
        // Only the top-level member: a `usage` inside a choice is the engine's business.
        #expect(removed(#"{"choices":[{"delta":{"usage":null}}],"usage":null}"#) == #"{"choices":[{"delta":{"usage":null}}]}"#)
    }

    @Test func addsTheCostBeforeALaterRename() throws {
        let out = try edited(
            #"{"usage":{"prompt_tokens":1,"completion_tokens":2},"choices":[{"message":{"reasoning":"r"}}]}"#,
            cost: Money(nanos: 2_000_000_000, currency: "USD"))
        #expect(
            out == #"{"usage":{"prompt_tokens":1,"completion_tokens":2,"cost":"2"},"choices":[{"message":{"reasoning_content":"r"}}]}"#)
    }

    @Test func costAloneAndInAnEmptyUsageObject() throws {
        #expect(
            try edited(#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#, cost: Money(nanos: 7, currency: "USD"))
                == #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"cost":"0.000000007"}}"#)
        #expect(
            try edited(#"{"usage":{}}"#, cost: Money(nanos: -1_500_000_000, currency: "USD"))
                == #"{"usage":{"cost":"-1.5"}}"#)
    }

    @Test func noEditsCopyTheBytes() throws {
        let json = #"{"choices":[{"message":{"content":"hi","reasoning":"x","reasoning_content":"x"}}]}"#
        let bytes = Array(json.utf8)
        let shape = try #require(bytes.withUnsafeBytes { ResponseShape.inspect($0) })
        #expect(AnswerEdits(reasoningKeys: shape.reasoningKeyRanges).isEmpty)
        #expect(try edited(json) == json)
    }

    @Test func theUsageIsReplacedWhateverItIsOrAddedLast() {
        func replaced(_ json: String) -> String? {
            ByteBuffer(string: json).replacingUsage(with: Array(#"{"n":1}"#.utf8), allocator: ByteBufferAllocator())
                .map { String(buffer: $0) }
        }
        #expect(replaced(#"{"a":1}"#) == #"{"a":1,"usage":{"n":1}}"#)
        #expect(replaced("{\"a\":[1]} \n") == "{\"a\":[1],\"usage\":{\"n\":1}} \n")
        #expect(replaced("{ }") == #"{ "usage":{"n":1}}"#)
        #expect(replaced(#"{"usage":null,"a":{"usage":2}}"#) == #"{"usage":{"n":1},"a":{"usage":2}}"#)
        #expect(replaced(#"{"a":1, "usage" : {"prompt_tokens":-1} }"#) == #"{"a":1, "usage" : {"n":1} }"#)
        #expect(replaced(#"{"usage":[1,{"x":"}"}]}"#) == #"{"usage":{"n":1}}"#)
        #expect(replaced("[1]") == nil)
        #expect(replaced(#"{"a":1"#) == nil)
        #expect(replaced(#"{"a":1} {}"#) == nil)
        #expect(replaced("") == nil)
    }
}
