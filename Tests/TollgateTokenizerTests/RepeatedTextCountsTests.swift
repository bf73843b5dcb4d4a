import Foundation
import Testing
import TollgateTestSupport
@testable import TollgateTokenizer

/// The table of counted texts must never change a count: only when it is looked up.
@Suite struct RepeatedTextCountsTests {
    static let counter = ChatPromptCounter(tokenizer: try! DeepSeekTokenizer.shared)

    /// A long text (over 1 KB) of mixed scripts and escapes-to-be, different per `seed`. No
    /// markers: the general path splits at markers inside text too, into pieces too short to keep
    /// (`randomRequestsCountTheSameThroughTheTable` covers those).
    static func longText(_ seed: Int) -> String {
        var generator = SplitMix64(seed: UInt64(seed))
        let texts = RandomPlainChat.texts.filter { !$0.contains("<") }
        var text = "Turn \(seed): "
        while text.utf8.count < 1_500 {
            text += texts.randomElement(using: &generator)! + " lorem ipsum dolor sit amet, "
        }
        return text
    }

    static func quoted(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]), as: UTF8.self)
            .dropFirst().dropLast().description
    }

    /// A conversation of `turns` long user and assistant turns after a long system prompt; with
    /// `tools`, a tool schema too, which sends the count down the general path.
    static func conversation(turns: Int, tools: Bool = false, thinking: Bool = true) -> String {
        var messages = [#"{"role":"system","content":\#(quoted(longText(0)))}"#]
        for turn in 1...turns {
            messages.append(#"{"role":"user","content":\#(quoted(longText(2 * turn)))}"#)
            if turn < turns {
                messages.append(#"{"role":"assistant","content":\#(quoted(longText(2 * turn + 1))),"reasoning_content":"Think \#(turn)."}"#)
            }
        }
        let schema = #","tools":[{"type":"function","function":{"name":"lookup","description":"Find a fact.","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}]"#
        return #"{"model":"deepseek-v4-pro","messages":[\#(messages.joined(separator: ","))]"#
            + (tools ? schema : "") + (thinking ? "" : #","thinking":{"type":"disabled"}"#) + "}"
    }

    static func count(_ json: String, _ repeats: RepeatedTextCounts.Scoped? = nil) throws -> Int {
        try Array(json.utf8).withUnsafeBytes { try counter.countChat(requestBytes: $0, repeats: repeats).tokens }
    }

    @Test(arguments: [false, true], [false, true])
    func aGrowingConversationCountsTheSameAndLooksUpWhatItSentBefore(tools: Bool, thinking: Bool) throws {
        let table = RepeatedTextCounts()
        var hitsBefore = 0
        for turns in 1...6 {
            let json = Self.conversation(turns: turns, tools: tools, thinking: thinking)
            #expect(try Self.count(json, table.scoped("team-a")) == Self.count(json), "\(turns) turns")
            let hits = table.lookups.hits
            // The system prompt and every turn but the newest were counted on an earlier request
            // (with thinking, the newest assistant's reasoning moves, so one piece may change).
            #expect(hits - hitsBefore >= max(0, 2 * turns - 3), "\(turns) turns: \(hits - hitsBefore) hits")
            hitsBefore = hits
        }
        #expect(table.lookups.misses > 0)
    }

    @Test func theSameRequestAgainIsAnsweredFromTheTableAlone() throws {
        let table = RepeatedTextCounts()
        let json = Self.conversation(turns: 4)
        let first = try Self.count(json, table.scoped("team-a"))
        let misses = table.lookups.misses
        #expect(try Self.count(json, table.scoped("team-a")) == first)
        #expect(table.lookups.misses == misses, "a repeated request had to count again")
        #expect(table.lookups.hits >= 7)
    }

    @Test func oneTeamsTextsAreNotLookedUpForAnother() throws {
        let table = RepeatedTextCounts()
        let json = Self.conversation(turns: 2)
        let first = try Self.count(json, table.scoped("team-a"))
        let (hits, misses) = table.lookups
        #expect(try Self.count(json, table.scoped("team-b")) == first)
        #expect(table.lookups.hits == hits)
        #expect(table.lookups.misses > misses)
    }

    @Test func shortTextsAreCountedWithoutTheTable() throws {
        let table = RepeatedTextCounts()
        let json = #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello."}]}"#
        #expect(try Self.count(json, table.scoped("team-a")) == Self.count(json))
        #expect(table.lookups.hits == 0 && table.lookups.misses == 0)
    }

    /// Agents send every tool call back with each turn: the short text that holds a call is
    /// looked up too, and answered from the table the next time; other short texts are not.
    @Test func shortTextsWithToolCallsAreLookedUp() throws {
        let table = RepeatedTextCounts()
        let json = #"{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"21 C"},{"role":"assistant","content":"","tool_calls":[{"id":"c2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"c2","content":"25 C"},{"role":"user","content":"Thanks."}]}"#
        let expected = try Self.count(json)
        #expect(try Self.count(json, table.scoped("team-a")) == expected)
        #expect(table.lookups.misses == 2, "one text per assistant turn with calls")
        #expect(table.lookups.hits == 0)
        #expect(try Self.count(json, table.scoped("team-a")) == expected)
        #expect(table.lookups.misses == 2)
        #expect(table.lookups.hits == 2)
    }

    /// Tool lists are rendered once per team: the same calls and schemas sent again are laid out
    /// from the table, with the estimate reasons their rendering gave, and never for another team.
    @Test func toolListsAreRenderedOncePerTeam() throws {
        let table = RepeatedTextCounts()
        let json = #"{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"not json"}}]},{"role":"tool","tool_call_id":"c1","content":"21 C"},{"role":"assistant","content":"","tool_calls":[{"id":"c2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},{"role":"tool","tool_call_id":"c2","content":"25 C"}],"tools":[{"type":"function","function":{"name":"weather","strict":true}}]}"#
        let expected = try Array(json.utf8).withUnsafeBytes { try Self.counter.countChat(requestBytes: $0) }
        #expect(expected.estimateReasons == ["tool call arguments are not a JSON object", "extra tool function fields"])
        func count(_ team: String) throws -> PromptCount {
            try Array(json.utf8).withUnsafeBytes { try Self.counter.countChat(requestBytes: $0, repeats: table.scoped(team)) }
        }
        #expect(try count("team-a") == expected)
        #expect(table.renderingLookups == (hits: 0, misses: 3))
        #expect(try count("team-a") == expected)
        #expect(table.renderingLookups == (hits: 3, misses: 3))
        #expect(try count("team-b") == expected)
        #expect(table.renderingLookups == (hits: 3, misses: 6))
    }

    /// The renderings kept are bounded (one for every 32 count slots, at least 16): a new list
    /// takes an old one's place, and every count stays right.
    @Test func renderingsKeptAreBounded() throws {
        let table = RepeatedTextCounts(slots: 64)
        for call in 0..<40 {
            let json = #"{"model":"m","messages":[{"role":"user","content":"Go."},{"role":"assistant","content":"","tool_calls":[{"id":"c\#(call)","type":"function","function":{"name":"step","arguments":"{\"n\":\#(call)}"}}]},{"role":"tool","tool_call_id":"c\#(call)","content":"done"}]}"#
            let expected = try Self.count(json)
            #expect(try Self.count(json, table.scoped("t")) == expected)
            #expect(table.renderingsKept <= 16)
        }
        #expect(table.renderingsKept == 16)
        #expect(table.renderingLookups == (hits: 0, misses: 40))
    }

    /// One slot for every text: each new text takes it, and a text is only ever answered with its own count.
    @Test func aTakenSlotNeverAnswersForAnotherText() throws {
        let table = RepeatedTextCounts(slots: 1, minimumBytes: 1)
        let tokenizer = try DeepSeekTokenizer.shared
        let texts = ["a", "ab", "b", "hello world", "hello world!", "你好", "a"] + (0..<5).map(Self.longText)
        for text in texts + texts.reversed() {
            let tokens = Array(text.utf8).withUnsafeBufferPointer { table.scoped("t").tokens(of: $0, tokenizer) }
            #expect(tokens == tokenizer.count(text), "\(text.prefix(20))")
        }
    }

    /// Every piece through the table, twice, on thousands of generated requests (markers inside
    /// text, escapes, every thinking mode), on both counting paths.
    @Test func randomRequestsCountTheSameThroughTheTable() throws {
        let table = RepeatedTextCounts(slots: 64, minimumBytes: 1)
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var generator = SplitMix64(seed: seed)
        for _ in 0..<1_000 {
            let json = RandomPlainChat.request(&generator)
            let expected = try Self.count(json)
            let request = try JSONValue.parse(json)
            for _ in 0..<2 {
                #expect(try Self.count(json, table.scoped("t")) == expected, "seed \(seed): \(json)")
                #expect(try Self.counter.countChat(request: request, repeats: table.scoped("t")).tokens == expected, "seed \(seed): \(json)")
            }
        }
        #expect(table.lookups.hits > 0)
    }
}
