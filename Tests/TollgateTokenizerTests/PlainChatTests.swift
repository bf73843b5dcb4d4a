import Testing
import TollgateTestSupport
import TollgateWire
@testable import TollgateTokenizer

/// The plain-request shortcut (turns recorded by the routing parse, then `countLoneUserTurn` or
/// `countTurns`) must give exactly the general renderer's count, and must refuse every request it
/// does not handle exactly.
@Suite struct PlainChatTests {
    static let counter = ChatPromptCounter(tokenizer: try! DeepSeekTokenizer.shared)

    private func plain(_ json: String) -> Int? {
        Self.counter.shortcutCount(json)
    }

    /// The routing parse of `json`, with a model added when it names none.
    static func routed(_ json: String) throws -> InferenceRequest {
        try ChatPromptCounter.namingAModel(json).withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat) }
    }

    private func general(_ json: String) throws -> Int {
        try Self.counter.countChat(request: JSONValue.parse(json)).tokens
    }

    @Test func theLayoutMarkersSplitCleanlyInTheShippedVocabulary() {
        let markers = Self.counter.markers
        for marker in [markers.bos, markers.eos, markers.user, markers.assistant, markers.thinkStart, markers.thinkEnd] {
            #expect(marker.splitsCleanly, "\(String(decoding: marker.bytes, as: UTF8.self))")
        }
        #expect(!Self.counter.tokenizer.splitsCleanly("<｜User"))
        #expect(!Self.counter.tokenizer.splitsCleanly("hello"))
        // The general path finds them in a rendered prompt by their common first byte.
        #expect(markers.clean.count == 6 && markers.cleanLead == UInt8(ascii: "<"))
    }

    @Test(arguments: [
        #"{"model":"m","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}"#,
        #"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
        #"{"messages":[]}"#,
        #" { "messages" : [ { "content" : null , "role" : "user" } ] , "tools" : [ ] } "#,
        #"{"thinking":{"type":"disabled","budget":1},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"reasoning_effort":"max","messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"reasoning_effort":"none","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yo","tool_calls":[]}]}"#,
        #"{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"assistant","content":"c","reasoning_content":"r"},{"role":"user","content":"d"},{"role":"assistant","content":null,"reasoning":"e"}]}"#,
        #"{"messages":[{"role":"user","content":"\u00e9\ud83d\ude00 \"q\" \\ \/ \n\t<\uff5cUser\uff5c>"}],"stream":true,"stream_options":{"include_usage":true},"n":1,"temperature":0.7e-1,"stop":["x",null,true,false,-0,{"k":[]}]}"#,
        #"{"messages":[{"role":"user","content":"<｜end▁of▁sentence｜><think>"},{"role":"system","content":"</think>"}]}"#,
        // Lone surrogates decode to U+FFFD on both paths.
        #"{"messages":[{"role":"user","content":"\ud83d"}]}"#,
        #"{"messages":[{"role":"user","content":"a\ude00b"}]}"#,
        #"{"messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"m\u0061x"}"#,
        #"{"reasoning_effort":"none","thinking":{"type":"enabled"},"messages":[{"role":"user","content":"Hi"}]}"#,
        // Developer turns: dropped before the last user turn in thinking mode, after turns merge,
        // so a dropped one still keeps the user turns around it apart.
        #"{"messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
        #"{"messages":[{"role":"user","content":"a"},{"role":"developer","content":"d"},{"role":"user","content":"b"}]}"#,
        #"{"messages":[{"role":"user","content":"a"},{"role":"developer","content":"d"},{"role":"assistant","content":"c"},{"role":"developer","content":"e"}]}"#,
        #"{"reasoning_effort":"none","messages":[{"role":"developer","content":"d"},{"role":"user","content":"a"},{"role":"developer","content":"e"}]}"#,
        #"{"messages":[{"role":"developer","content":"d"},{"role":"system","content":"s"},{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
    ])
    func plainRequestsCountLikeTheGeneralPath(_ json: String) throws {
        let count = try #require(plain(json), "refused a plain request")
        #expect(count == (try general(json)))
    }

    /// Tool schemas ride along on the shortcut: placed after the first system message's text (or
    /// in one put first), no reasoning dropped, and the general path's estimate reasons kept.
    @Test(arguments: [
        #"{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
        #"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"lookup","description":"Find é 数据","parameters":{"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer","default":3}},"required":["q"]}}}]}"#,
        #"{"messages":[{"role":"user","content":"a"},{"role":"system","content":"later system"},{"role":"assistant","content":"b","reasoning_content":"kept"},{"role":"user","content":"c"}],"tools":[{"type":"function","function":{"name":"f","parameters":null}}]}"#,
        #"{"messages":[{"role":"system","content":""},{"role":"user","content":"Hi"}],"tools":[{"function":{"name":"f","description":null}},{"type":"function","function":{"name":"g","strict":true}}],"reasoning_effort":"max"}"#,
        #"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"x","reasoning":"r"},{"role":"user","content":"y"}],"tools":[{"type":"function","function":{"name":"f"}}],"thinking":{"type":"disabled"}}"#,
        #"{"messages":[{"role":"system","content":"\nstarts with a newline"},{"role":"user","content":"Hi"}],"tools":[1,"x",null,{"function":{}}],"reasoning_effort":"low"}"#,
        #"{"messages":[],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
    ])
    func requestsWithToolSchemasCountLikeTheGeneralPath(_ json: String) throws {
        var body = Array(json.utf8)
        body.insert(contentsOf: #""model":"m","#.utf8, at: 1)
        let count = try body.withUnsafeBytes { bytes -> PromptCount? in
            let request = try InferenceRequest.parse(bytes, endpoint: .chat, recordingTurns: true)
            #expect(request.chatTurns?.tools != nil, "tools not recorded")
            return Self.counter.countTurns(try #require(request.chatTurns), thinking: request.thinking, body: bytes)
        }
        let expected = try Self.counter.countChat(request: JSONValue.parse(json))
        #expect(count == expected)
    }

    /// Agent traffic rides along too: assistants' tool calls rendered as DSML after their
    /// content, tool results merged into the user turn in their calls' order, with or without
    /// schemas, and the general path's estimate reasons kept.
    @Test(arguments: [
        #"{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Paris\", \"days\": 3, \"units\": null}"}}]},{"role":"tool","tool_call_id":"c1","content":"{\"temp\": 21}"}]}"#,
        // Results sent out of call order are laid out in call order; text between them stays put.
        #"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"","reasoning_content":"r","tool_calls":[{"id":"x","function":{"name":"f","arguments":"{}"}},{"id":"y","function":{"name":"g","arguments":"{\"q\":[1,2]}"}},{"id":"z","function":{"name":"h","arguments":"{}"}}]},{"role":"tool","tool_call_id":"z","content":"third"},{"role":"user","content":"between"},{"role":"tool","tool_call_id":"x","content":"first"},{"role":"tool","tool_call_id":"unknown","content":"?"},{"role":"tool","tool_call_id":"y","content":"second"},{"role":"assistant","content":"done"},{"role":"user","content":"next"}]}"#,
        // Schemas and no system message: the indices of calls and results move with the one put first.
        #"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"","tool_calls":[{"id":"1","function":{"name":"f","arguments":"{}"}},{"id":"2","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"2","content":"B"},{"role":"tool","tool_call_id":"1","content":"A"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"reasoning_effort":"max"}"#,
        #"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"a"},{"role":"assistant","content":"x","tool_calls":[{"id":"1","function":{"name":"f","arguments":"{}"}},{"id":"2","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"2","content":"B"},{"role":"tool","tool_call_id":"1","content":"A"}],"tools":[{"type":"function","function":{"name":"f"}}],"thinking":{"type":"disabled"}}"#,
        // Arguments that are not an object, an object instead of a string, calls without ids.
        #"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":"not json"}},{"function":{"name":"g","arguments":{"k":"v","n":1.5}}},{"id":"a"},7]},{"role":"tool","content":"r1"},{"role":"tool","content":"r2"}]}"#,
        // Escaped ids and names, the results' order taken from the latest assistant with calls.
        #"{"messages":[{"role":"assistant","content":"","tool_calls":[{"id":"\u0061","function":{"name":"f\u00e9","arguments":"{\"s\":\"\\u00e9\"}"}},{"id":"b","function":{"name":"g","arguments":"{}"}}]},{"role":"assistant","content":"no calls"},{"role":"tool","tool_call_id":"b","content":"B"},{"role":"tool","tool_call_id":"a","content":"A"},{"role":"system","content":"s"},{"role":"tool","tool_call_id":"b","content":"B2"},{"role":"tool","tool_call_id":"\u0061","content":"A2"}]}"#,
        // A tool result first, and non-string ids (no id on the general path too).
        #"{"messages":[{"role":"tool","tool_call_id":3,"content":""},{"role":"tool","tool_call_id":null,"content":"x"}],"reasoning_effort":"high"}"#,
        // Which of two ids wins does not matter: ids only order results, which keeps the count.
        #"{"messages":[{"role":"tool","content":"1","tool_call_id":"a","tool_call_id":"b"}]}"#,
        // tool_calls on other roles are ignored, as the general path does.
        #"{"messages":[{"role":"user","content":"u","tool_calls":[{"id":"a"}]},{"role":"assistant","content":"a","tool_calls":null}]}"#,
    ])
    func requestsWithToolCallsAndResultsCountLikeTheGeneralPath(_ json: String) throws {
        var body = Array(json.utf8)
        body.insert(contentsOf: #""model":"m","#.utf8, at: 1)
        let expected = try Self.counter.countChat(request: JSONValue.parse(json))
        // Without the table, then twice through it: the second time every tool list's rendering
        // (estimate reasons included) comes from the table (16 renderings fit).
        let table = RepeatedTextCounts(slots: 64, minimumBytes: 1)
        var lists = 0
        for repeats in [nil, table.scoped("t"), table.scoped("t")] {
            let count = try body.withUnsafeBytes { bytes -> PromptCount? in
                let request = try InferenceRequest.parse(bytes, endpoint: .chat, recordingTurns: true)
                let turns = try #require(request.chatTurns, "turns not recorded")
                lists = turns.toolCalls.count + (turns.tools == nil ? 0 : 1)
                return Self.counter.countTurns(turns, thinking: request.thinking, body: bytes, repeats: repeats)
            }
            #expect(count == expected)
        }
        let (hits, misses) = table.renderingLookups
        #expect(hits + misses == 2 * lists && hits >= lists, "\(lists) lists: \(hits) hits, \(misses) misses")
    }

    /// Content given as parts: text objects (members in any order, extra members ignored) and bare
    /// strings, joined by newlines, in every role, with the effort preamble before them, tools
    /// putting a system message first, and escapes in the texts.
    @Test(arguments: [
        #"{"messages":[{"role":"user","content":[{"type":"text","text":"part one"},{"type":"text","text":"part two"}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"text":"a","type":"text"},"b",{"type":"text","text":"","cache_control":{"type":"ephemeral"}}]}]}"#,
        #"{"messages":[{"role":"user","content":[]},{"role":"tool","content":[]},{"role":"tool","content":["r"]}]}"#,
        #"{"reasoning_effort":"max","messages":[{"role":"system","content":["\nstarts with a newline"]},{"role":"user","content":"x"}]}"#,
        #"{"reasoning_effort":"max","messages":[{"role":"system","content":[]},{"role":"system","content":["later"]},{"role":"user","content":["x"]}]}"#,
        #"{"messages":[{"role":"user","content":["a"]},{"role":"assistant","content":[{"type":"text","text":"b"}],"reasoning_content":"r","tool_calls":[{"id":"1","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":[{"type":"text","text":"res"}]}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
        #"{"messages":[{"role":"user","content":[{"type":"text","text":"\u00e9\n<\uff5cUser\uff5c>"},"a\n","\nb"]},{"role":"assistant","content":["<｜end▁of▁sentence｜>"]}],"thinking":{"type":"disabled"}}"#,
    ])
    func contentPartsCountLikeTheGeneralPath(_ json: String) throws {
        let count = try #require(Self.counter.shortcut(json), "turns not recorded")
        let expected = try Self.counter.countChat(request: JSONValue.parse(json))
        #expect(count == expected)
        #expect(count.exact)
    }

    @Test(arguments: [
        // Parts the general path estimates, or may read differently.
        #"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"t\u0065xt":"a","type":"text"}]}]}"#,
        #"{"messages":[{"role":"user","content":[{"type":"t\u0065xt","text":"a"}]}]}"#,
        #"{"messages":[{"role":"user","content":[null]}]}"#,
        #"{"messages":[{"role":"user","content":[["a"]]}]}"#,
        #"{"messages":[{"role":"user","content":{"type":"text","text":"a"}}]}"#,
        #"{"messages":[{"role":"tool","content":null,"tool_call_id":"a"}]}"#,
        #"{"messages":[{"role":"tool","tool_call_id":"a"}]}"#,
        #"{"messages":[{"role":"assistant","content":"","tool_calls":{"id":"a"}}]}"#,
        #"{"messages":[{"role":"assistant","content":"","tool_calls":[],"tool_calls":[{"id":"a"}]}]}"#,
        #"{"messages":[{"role":"critic","content":"Hi"}]}"#,
        #"{"messages":[{"role":"user","role":"system","content":"Hi"}]}"#,
        #"{"messages":[],"messages":[]}"#,
        // An escaped key may name what the general path reads (the routing parse refuses escaped
        // keys it reads itself: InferenceRequestTests).
        #"{"messages":[{"role":"user","content":"Hi"}],"t\u006fols":[{"type":"function","function":{"name":"f"}}]}"#,
        #"{"messages":[{"role":"user","c\u006ftent":"Hi"}]}"#,
        #"{"messages":[{"role":"us\u0065r","content":"Hi"}]}"#,
        #"{"messages":[{"role":"user","content":"Hi"}],"thinking":{"type":"disabled","type":"enabled"}}"#,
        #"{"messages":[{"role":"user","content":"Hi"}],"tools":[],"tools":[]}"#,
        #"{"messages":[{"role":"user","content":"Hi","content":"Yo"}]}"#,
        #"{"messages":[{"role":"assistant","content":"Hi","reasoning":"a","reasoning":"b"}]}"#,
        #"{"messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"low","reasoning_effort":"max"}"#,
        #"{"chat_template_kwargs":{"thinking":false,"thinking":true},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":[],"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{},"chat_template_kwargs":{},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"messages":[{"role":"user","content":"Hi"}]} x"#,
        #"{"messages":[{"role":"user","content":"Hi"}],"n":01}"#,
        #"{"messages":[{"content":"Hi"}]}"#,
        #"{"model":"m"}"#,
        #"[1]"#,
    ])
    func otherRequestsAreLeftToTheGeneralPath(_ json: String) {
        #expect(plain(json) == nil)
    }

    /// A lone user turn of plain ASCII skips the layout: its count must be the general path's in
    /// every thinking mode and effort, and the skip must be taken exactly when the turn is one
    /// (content a JSON string without escapes, ASCII, no `<`) and no effort changes the preamble.
    @Test func loneUserTurnsCountLikeTheGeneralPath() throws {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var g = SplitMix64(seed: seed)
        let plainScalars = Array("Say hello. 12345 it's!?>(){}[]-_:;,".unicodeScalars)
        let awkward = Array("\t\n\r<é\"\\/\u{1}".unicodeScalars)
        var taken = 0
        for _ in 0..<2_000 {
            let content = String(String.UnicodeScalarView((0..<Int.random(in: 0...24, using: &g)).map { _ in
                (Int.random(in: 0..<16, using: &g) == 0 ? awkward : plainScalars).randomElement(using: &g)!
            }))
            let thinking = [#","thinking":{"type":"disabled"}"#, #","thinking":{"type":"enabled"}"#, ""].randomElement(using: &g)!
            let effort = [#","reasoning_effort":"max""#, #","reasoning_effort":"low""#, ""].randomElement(using: &g)!
            let json = #"{"model":"m","messages":[{"role":"user","content":"# + Self.quoted(content) + "}]" + thinking + effort + "}"
            let bytes = Array(json.utf8)
            let (fast, shortcut) = try bytes.withUnsafeBytes { body in
                let request = try InferenceRequest.parse(body, endpoint: .chat, recordingTurns: true)
                let turns = try #require(request.chatTurns)
                return (Self.counter.countLoneUserTurn(turns, thinking: request.thinking, body: body),
                        Self.counter.countTurns(turns, thinking: request.thinking, body: body))
            }
            let expected = try Self.counter.countChat(request: JSONValue.parse(json))
            #expect(shortcut == expected, "seed \(seed): \(json)")
            if let fast { #expect(fast == expected, "seed \(seed): \(json)") }
            let plainASCII = content.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x80 && !Array(#"<"\"#.utf8).contains($0) }
            let defaultEffort = effort.isEmpty || thinking.contains("disabled")
            #expect((fast != nil) == (plainASCII && defaultEffort), "seed \(seed): \(json)")
            if fast != nil { taken += 1 }
        }
        #expect(taken > 200, "seed \(seed): only \(taken) of 2,000 took the lone-turn count")
    }

    /// `text` as a JSON string, escaped only where JSON requires it.
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"", "\\": out += "\\" + String(scalar)
            case _ where scalar.value < 0x20: out += "\\u00" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    @Test func invalidUTF8IsLeftToTheGeneralPath() {
        let bytes: [UInt8] = Array(#"{"model":"m","messages":[{"role":"user","content":""#.utf8) + [0xC3, 0x28] + Array(#""}]}"#.utf8)
        #expect((try? bytes.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat, recordingTurns: true) }) == nil)
    }

    @Test func turnsAreRecordedOnlyWhenAskedFor() throws {
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"}]}"#.utf8)
        let recorded = try body.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat, recordingTurns: true) }
        #expect(recorded.chatTurns?.turns.count == 1)
        let plain = try body.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat) }
        #expect(plain.chatTurns == nil)
    }

    /// vLLM clients set thinking mode through `chat_template_kwargs`: its two flags, read with
    /// Python's truth rules, override `thinking.type`; other kwargs do not change the layout. The
    /// routing parse must decide the mode as the renderer does, and the turns count like it.
    @Test(arguments: [
        #"{"chat_template_kwargs":{"thinking":false},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"enable_thinking":true},"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","reasoning_content":"r"},{"role":"user","content":"c"}]}"#,
        #"{"thinking":{"type":"disabled"},"chat_template_kwargs":{"thinking":"no","enable_thinking":false},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"thinking":0,"enable_thinking":""},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","reasoning_content":"r"},{"role":"user","content":"c"}]}"#,
        #"{"chat_template_kwargs":{"thinking":[0]},"reasoning_effort":"max","messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"thinking":{}},"reasoning_effort":"none","messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"thinking":-0.0e5,"enable_thinking":null},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"enable_thinking":{"a":1}},"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"custom":{"thinking":false}},"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":null,"messages":[{"role":"user","content":"Hi"}]}"#,
    ])
    func templateKwargsSetThinkingAsTheRendererDoes(_ json: String) throws {
        let count = try #require(Self.counter.shortcut(json), "refused \(json)")
        let request = try JSONValue.parse(json)
        #expect(count == (try Self.counter.countChat(request: request)))
        #expect(try Self.routed(json).thinking == ChatPromptCounter.thinkingMode(of: request))
    }

    /// The routing parse reads a template flag's truth from the raw value as Python would.
    @Test(arguments: [
        ("true", true), ("false", false), ("null", false), ("0", false), ("-0", false), ("0.0e10", false),
        ("1e-400", false), ("0.5", true), ("-3", true), ("1e400", true), (#""""#, false), (#"" ""#, true),
        (#""\u0000""#, true), ("[]", false), ("[ ]", false), ("[null]", true), ("{}", false), ("{ }", false),
        (#"{"a":0}"#, true),
    ])
    func templateFlagsAreTruthyAsInPython(_ literal: String, _ truth: Bool) throws {
        let read = try Array(literal.utf8).withUnsafeBytes { bytes in
            var scanner = JSONScanner(bytes)
            let truth = try scanner.readTruthiness()
            try scanner.expectEnd()
            return truth
        }
        #expect(read == truth, "\(literal)")
        #expect(try JSONValue.parse(literal).isTruthy == truth, "\(literal)")
    }

    /// Thousands of generated plain requests per run, with escapes, markers inside content, content
    /// as text parts, merged user turns, tool schemas, calls and results in and out of order, every thinking mode and
    /// random spacing: both paths must agree on each, estimate reasons included.
    static let emptyDeveloper = "developer message without content (the encoder refuses it)"

    @Test func randomPlainRequestsAgreeWithTheGeneralPath() throws {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var generator = SplitMix64(seed: seed)
        for _ in 0..<4_000 {
            let json = RandomPlainChat.request(&generator)
            let request = try JSONValue.parse(json)
            let expected = try Self.counter.countChat(request: request)
            // The one request the shortcut leaves to the general path: a developer turn without text
            // that the layout keeps, which vLLM's encoder refuses (the general path says so).
            guard let count = Self.counter.shortcut(json) else {
                #expect(expected.estimateReasons.contains(Self.emptyDeveloper), "seed \(seed): refused \(json)")
                continue
            }
            #expect(count == expected, "seed \(seed): \(json)")
            #expect(try Self.routed(json).thinking == ChatPromptCounter.thinkingMode(of: request), "seed \(seed): \(json)")
            if count != expected { return }
        }
    }
}

extension PlainChatTests {
    /// Keys written twice, on thousands of generated requests per run: the count (whichever path
    /// takes it) and the routing parse must read each as the same request written once with the
    /// last values, which is how vLLM's server reads it.
    @Test func randomRequestsWithKeysWrittenTwiceReadAsTheirLastValues() throws {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var generator = SplitMix64(seed: seed)
        for _ in 0..<2_000 {
            let (twice, once) = RandomPlainChat.requestWithRepeats(&generator)
            let general = try Self.counter.countChat(request: JSONValue.parse(twice))
            guard let expected = Self.counter.shortcut(once) else {
                #expect(general.estimateReasons.contains(Self.emptyDeveloper), "seed \(seed): refused \(once)")
                continue
            }
            if let shortcut = Self.counter.shortcut(twice) { #expect(shortcut == expected, "seed \(seed): \(twice)") }
            #expect(general == expected, "seed \(seed): \(twice)")
            let (read, last) = (try Self.routed(twice), try Self.routed(once))
            #expect(read.thinking == last.thinking && read.maxTokens == last.maxTokens, "seed \(seed): \(twice)")
            if general != expected { return }
        }
    }
}

/// Plain chat requests written as JSON by hand, so escapes and spacing vary.
enum RandomPlainChat {
    static let texts = [
        "", "Say hello.", "  leading and trailing  ", "line\nbreaks\r\n\n\nand\ttabs", "数字123456789 和中文",
        "こんにちは、世界", "안녕하세요", "مرحبا بالعالم", "Привет, мир", "नमस्ते दुनिया", "👩‍👩‍👧‍👦 🇫🇷 e\u{301}",
        "<｜User｜>", "<｜Assistant｜>x", "<think>inner</think>", "<｜end▁of▁sentence｜>", "<｜User", "｜>", "</",
        "func f() { return \"quoted\" }", "{\"json\": [1, 2.5e3, null]}", "\\ backslash / slash", "\u{0}\u{1f}",
        "\u{FFFF}\u{10FFFF}", " ", "\n", "  \n  ", "\r\nCRLF first", "\n\nleading blank line", ".\n", "<｜",
    ]

    static func request<G: RandomNumberGenerator>(_ g: inout G) -> String {
        object(members(&g), &g)
    }

    /// A plain request with some of its top-level keys written again, later, with other values;
    /// and the same request as Python's `json.loads` (so vLLM) reads it: each key in its first
    /// place, with its last value.
    static func requestWithRepeats<G: RandomNumberGenerator>(_ g: inout G) -> (twice: String, once: String) {
        var members = members(&g)
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            let first = Int.random(in: 0..<members.count, using: &g)
            let name = members[first].name
            members.insert((name, value(of: name, &g)), at: Int.random(in: (first + 1)...members.count, using: &g))
        }
        var once: [(name: String, value: String)] = []
        for member in members {
            if let at = once.firstIndex(where: { $0.name == member.name }) { once[at].value = member.value } else { once.append(member) }
        }
        return (object(members, &g), object(once, &g))
    }

    /// A plain request's top-level members, in random order.
    static func members<G: RandomNumberGenerator>(_ g: inout G) -> [(name: String, value: String)] {
        var names = ["messages"]
        if Bool.random(using: &g) { names.append("model") }
        if Int.random(in: 0..<5, using: &g) < 3 { names.append("thinking") }
        if Int.random(in: 0..<9, using: &g) < 7 { names.append("reasoning_effort") }
        if Int.random(in: 0..<3, using: &g) == 0 { names.append("chat_template_kwargs") }
        if Bool.random(using: &g) { names.append("tools") }
        if Bool.random(using: &g) { names.append("max_tokens") }
        if Bool.random(using: &g) { names.append("metadata") }
        names.shuffle(using: &g)
        return names.map { ($0, value(of: $0, &g)) }
    }

    /// A value for the top-level key `name`, as written.
    static func value<G: RandomNumberGenerator>(of name: String, _ g: inout G) -> String {
        switch name {
        case "messages":
            let messages = (0..<Int.random(in: 0...6, using: &g)).map { _ in message(&g) }
            return "[" + messages.joined(separator: space(&g) + "," + space(&g)) + "]"
        case "model":
            return string("deepseek-v4-flash", &g)
        case "thinking":
            return [#"{"type":"disabled"}"#, #"{"type":"enabled"}"#, "null"].randomElement(using: &g)!
        case "reasoning_effort":
            return string(["none", "low", "medium", "high", "max", "xhigh", "other"].randomElement(using: &g)!, &g)
        case "chat_template_kwargs":
            // vLLM's thinking flags, with values of every truth, and a kwarg of the engine's own.
            let values = ["true", "false", "null", "0", "1", "0.0", #""""#, #""x""#, "[]", "[0]", "{}"]
            var kwargs: [String] = []
            if Bool.random(using: &g) { kwargs.append(key("thinking", &g) + values.randomElement(using: &g)!) }
            if Bool.random(using: &g) { kwargs.append(key("enable_thinking", &g) + values.randomElement(using: &g)!) }
            if Bool.random(using: &g) { kwargs.append(key("custom", &g) + values.randomElement(using: &g)!) }
            kwargs.shuffle(using: &g)
            return Int.random(in: 0..<8, using: &g) == 0 ? "null" : "{" + kwargs.joined(separator: ",") + "}"
        case "tools":
            if Bool.random(using: &g) { return ["[]", "null", "[ ]"].randomElement(using: &g)! }
            return "[" + (0..<Int.random(in: 1...3, using: &g)).map { _ in tool(&g) }.joined(separator: ",") + "]"
        case "max_tokens":
            return "\(Int.random(in: 0...100_000, using: &g))"
        default:
            return #"{"a":[1,{"b":"\u00e9"}],"c":-1.5E+2}"#
        }
    }

    static func object<G: RandomNumberGenerator>(_ members: [(name: String, value: String)], _ g: inout G) -> String {
        space(&g) + "{" + members.map { key($0.name, &g) + $0.value }.joined(separator: ",") + "}" + space(&g)
    }

    /// A tool as clients write them: members in any order, optional description and parameters,
    /// sometimes an extra function field (which both paths report as an estimate).
    static func tool<G: RandomNumberGenerator>(_ g: inout G) -> String {
        var function = [key("name", &g) + string(["lookup", "send_mail", "数据", "f"].randomElement(using: &g)!, &g)]
        if Bool.random(using: &g) { function.append(key("description", &g) + string(text(&g), &g)) }
        switch Int.random(in: 0..<3, using: &g) {
        case 0: function.append(key("parameters", &g) + #"{"type":"object","properties":{"q":{"type":"string","description":"éé"},"n":{"type":"number","default":1.50}},"required":["q"]}"#)
        case 1: function.append(key("parameters", &g) + "null")
        default: break
        }
        if Int.random(in: 0..<6, using: &g) == 0 { function.append(key("strict", &g) + "true") }
        function.shuffle(using: &g)
        var members = [key("type", &g) + "\"function\"", key("function", &g) + "{" + function.joined(separator: ",") + "}"]
        members.shuffle(using: &g)
        return "{" + members.joined(separator: ",") + "}"
    }

    static let callIDs = ["call_1", "call_2", "call_3", "é", ""]

    static func message<G: RandomNumberGenerator>(_ g: inout G) -> String {
        let role = ["system", "system", "developer", "user", "user", "assistant", "assistant", "tool", "tool"].randomElement(using: &g)!
        var members = [key("role", &g) + "\"" + role + "\""]
        if role != "tool" && Int.random(in: 0..<8, using: &g) == 0 {
            members.append(key("content", &g) + "null")
        } else if Int.random(in: 0..<5, using: &g) == 0 {
            members.append(key("content", &g) + "[" + (0..<Int.random(in: 0...3, using: &g)).map { _ in part(&g) }.joined(separator: space(&g) + ",") + "]")
        } else {
            members.append(key("content", &g) + string(text(&g), &g))
        }
        if role == "tool" && Int.random(in: 0..<6, using: &g) > 0 {
            members.append(key("tool_call_id", &g) + string(callIDs.randomElement(using: &g)!, &g))
        }
        if role == "assistant" || Int.random(in: 0..<6, using: &g) == 0 {
            if Bool.random(using: &g) { members.append(key("reasoning_content", &g) + string(text(&g), &g)) }
            if Bool.random(using: &g) { members.append(key("reasoning", &g) + string(text(&g), &g)) }
            switch Int.random(in: 0..<4, using: &g) {
            case 0: members.append(key("tool_calls", &g) + ["[]", "null"].randomElement(using: &g)!)
            case 1: members.append(key("tool_calls", &g) + "[" + (0..<Int.random(in: 1...3, using: &g)).map { _ in call(&g) }.joined(separator: ",") + "]")
            default: break
            }
        }
        if Int.random(in: 0..<5, using: &g) == 0 { members.append(key("name", &g) + string("alice", &g)) }
        members.shuffle(using: &g)
        return "{" + members.joined(separator: ",") + "}"
    }

    /// A text part: a bare string, or a text object with its members in any order and sometimes an
    /// extra one.
    static func part<G: RandomNumberGenerator>(_ g: inout G) -> String {
        if Int.random(in: 0..<4, using: &g) == 0 { return string(text(&g), &g) }
        var members = [key("type", &g) + "\"text\"", key("text", &g) + string(text(&g), &g)]
        if Int.random(in: 0..<4, using: &g) == 0 { members.append(key("cache_control", &g) + #"{"type":"ephemeral"}"#) }
        members.shuffle(using: &g)
        return space(&g) + "{" + members.joined(separator: ",") + "}"
    }

    /// A tool call as clients send it back: an id from a small set (so results find their calls,
    /// in or out of order), and arguments as a JSON string, usually an object.
    static func call<G: RandomNumberGenerator>(_ g: inout G) -> String {
        var arguments: [String] = []
        for name in ["city", "n", "deep", "q"] where Bool.random(using: &g) {
            let value = [string(text(&g), &g), "-12.50", "[1,\"x\",null]", "{\"k\":true}", "null"].randomElement(using: &g)!
            arguments.append(key(name, &g) + value)
        }
        let object = "{" + arguments.joined(separator: ",") + "}"
        let written = ["{}", "not json", "[1]", object, object].randomElement(using: &g)!
        var function = [key("name", &g) + string(["lookup", "send_mail", "数据"].randomElement(using: &g)!, &g)]
        function.append(key("arguments", &g) + (Int.random(in: 0..<5, using: &g) == 0 ? object : string(written, &g)))
        function.shuffle(using: &g)
        var members = [key("type", &g) + "\"function\"", key("function", &g) + "{" + function.joined(separator: ",") + "}"]
        if Int.random(in: 0..<5, using: &g) > 0 { members.append(key("id", &g) + string(callIDs.randomElement(using: &g)!, &g)) }
        members.shuffle(using: &g)
        return "{" + members.joined(separator: ",") + "}"
    }

    static func text<G: RandomNumberGenerator>(_ g: inout G) -> String {
        (0..<Int.random(in: 1...3, using: &g)).map { _ in texts.randomElement(using: &g)! }.joined()
    }

    static func space<G: RandomNumberGenerator>(_ g: inout G) -> String {
        ["", "", " ", "\n  ", "\t"].randomElement(using: &g)!
    }

    static func key<G: RandomNumberGenerator>(_ name: String, _ g: inout G) -> String {
        space(&g) + "\"" + name + "\"" + space(&g) + ":" + space(&g)
    }

    /// A JSON string literal; each character is written raw or escaped at random. (Roles are
    /// written raw above: the shortcut leaves escaped role names to the general path.)
    static func string<G: RandomNumberGenerator>(_ value: String, _ g: inout G) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            let escape = Int.random(in: 0..<4, using: &g) == 0
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += escape ? "\\u000a" : "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "/": out += escape ? "\\/" : "/"
            case _ where scalar.value < 0x20: out += "\\u" + hex(scalar.value)
            case _ where escape && scalar.value >= 0x10000:
                let v = scalar.value - 0x10000
                out += "\\u" + hex(0xD800 + (v >> 10)) + "\\u" + hex(0xDC00 + (v & 0x3FF))
            case _ where escape: out += "\\u" + hex(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

extension ChatPromptCounter {
    /// The plain-request shortcut alone, as the gateway takes it: the routing parse records the
    /// turns (a model is added when the request names none: that parse requires one), then a lone
    /// user turn is counted as such and any other turns are laid out. Nil when the parse records
    /// no turns.
    func shortcutCount(_ json: String) -> Int? {
        shortcut(json)?.tokens
    }

    /// ``shortcutCount(_:)`` with whether the count is exact and why not.
    func shortcut(_ json: String) -> PromptCount? {
        Self.namingAModel(json).withUnsafeBytes { body in
            guard let request = try? InferenceRequest.parse(body, endpoint: .chat, recordingTurns: true),
                let turns = request.chatTurns
            else { return nil }
            return countLoneUserTurn(turns, thinking: request.thinking, body: body)
                ?? countTurns(turns, thinking: request.thinking, body: body)
        }
    }

    /// `json`'s bytes, with `"model":"m"` added when it names no model (the routing parse
    /// requires one; the count ignores it).
    static func namingAModel(_ json: String) -> [UInt8] {
        var bytes = Array(json.utf8)
        if !json.contains(#""model""#), let brace = bytes.firstIndex(of: UInt8(ascii: "{")) {
            bytes.insert(contentsOf: #""model":"m","#.utf8, at: brace + 1)
        }
        return bytes
    }
}
