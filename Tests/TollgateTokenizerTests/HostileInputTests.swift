import Testing
@testable import TollgateTokenizer

/// Request shapes a hostile client can send to make counting slow: each must be counted in time
/// proportional to its size, and to the same count as the slow way.
@Suite struct HostileInputTests {
    static let counter = ChatPromptCounter(tokenizer: try! DeepSeekTokenizer.shared)

    /// Many turns after the last user turn (or no user turn at all), on the general path (a key
    /// written with escapes keeps the request off the shortcut): the renderer looked the last user
    /// turn up again for every message, quadratic in the number of turns.
    @Test func manyTurnsAfterTheLastUserTurnRenderInLinearTime() throws {
        let turns = 20_000
        let assistants = String(repeating: #",{"role":"assistant","content":""}"#, count: turns)
        let escaped = #"{"messages":[{"role":"user","c\u006fntent":"u"}"# + assistants + "]}"
        let noUser = #"{"messages":[{"role":"system","c\u006fntent":"s"}"# + assistants + "]}"
        let clock = ContinuousClock()
        for json in [escaped, noUser] {
            let request = try JSONValue.parse(json)
            var count: PromptCount?
            let elapsed = clock.measure { count = try? Self.counter.countChat(request: request) }
            #expect(elapsed < .seconds(10), "\(turns) turns took \(elapsed)")
            #expect(count?.exact == true)
        }
        // The same request without the escape takes the shortcut, to the same count.
        let plain = #"{"messages":[{"role":"user","content":"u"}"# + assistants + "]}"
        let general = try Self.counter.countChat(request: JSONValue.parse(escaped))
        #expect(Self.counter.shortcut(plain) == general)
    }

    /// Many consecutive user and tool messages, which merge into one user turn, on the general
    /// path: each merged block copied all the blocks before it.
    @Test func manyMergedUserAndToolMessagesRenderInLinearTime() throws {
        let pairs = 30_000
        let merged = String(repeating: #",{"role":"tool","tool_call_id":"a","content":"r"},{"role":"user","content":"u"}"#, count: pairs)
        let escaped = #"{"messages":[{"role":"user","c\u006fntent":"u"}"# + merged + "]}"
        let request = try JSONValue.parse(escaped)
        var count: PromptCount?
        let elapsed = ContinuousClock().measure { count = try? Self.counter.countChat(request: request) }
        #expect(elapsed < .seconds(10), "\(2 * pairs) merged messages took \(elapsed)")
        let plain = #"{"messages":[{"role":"user","content":"u"}"# + merged + "]}"
        #expect(count != nil && Self.counter.shortcut(plain) == count)
    }

    /// A batch of many tiny prompts with one long FIM suffix: the suffix was tokenized once per
    /// prompt (a body under the inline-count limit took seconds on the event loop).
    @Test func aLongSuffixIsCountedOnceForABatchOfPrompts() throws {
        #expect(Self.counter.markers.fimSplitsCleanly)
        let suffix = String(repeating: "word ", count: 12_000)
        let prompts = Array(repeating: #""""#, count: 4_000).joined(separator: ",")
        let request = try JSONValue.parse(#"{"prompt":[\#(prompts)],"suffix":"\#(suffix)"}"#)
        let clock = ContinuousClock()
        var count: PromptCount?
        let elapsed = clock.measure { count = try? Self.counter.countCompletion(request: request) }
        #expect(elapsed < .seconds(5), "4,000 prompts with a 60 KB suffix took \(elapsed)")
        let t = Self.counter.tokenizer
        #expect(count?.tokens == 4_000 * t.count("<｜fim▁begin｜><｜fim▁hole｜>" + suffix + "<｜fim▁end｜>"))
        #expect(count?.exact == false)
    }

    /// Counting the parts apart gives the count of the whole FIM layout, whatever sits at the edges
    /// of the prompt and the suffix.
    @Test(arguments: [
        ("", ""), ("def f(x):", "return y"), ("a  ", "  b"), ("x\n\n", "\n\ny"), ("<｜fim", "▁end｜>"),
        ("<｜fim▁hole｜>", "<｜fim▁begin｜>"), ("数字123", "456数字"), ("!!", "??"), (" ", " "), ("\r", "\n"),
    ])
    func fimPartsCountLikeTheWholeLayout(_ prompt: String, _ suffix: String) throws {
        let t = Self.counter.tokenizer
        let whole = t.count("<｜fim▁begin｜>" + prompt + "<｜fim▁hole｜>" + suffix + "<｜fim▁end｜>")
        let request = JSONValue.object([
            JSONMember(key: "prompt", value: .array([.string(prompt), .string(prompt)])),
            JSONMember(key: "suffix", value: .string(suffix)),
        ])
        #expect(try Self.counter.countCompletion(request: request).tokens == 2 * whole)
    }
}
