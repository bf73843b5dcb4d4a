import Testing
@testable import TollgateTokenizer

/// The chat layout of vLLM's DeepSeek V4 encoder, case by case (docs/TOKENIZER.md).
@Suite struct ChatPromptCounterTests {
    static let counter = ChatPromptCounter(tokenizer: try! DeepSeekTokenizer.shared)

    private func render(_ json: String) throws -> (text: String, reasons: [String]) {
        try Self.counter.render(chatRequest: JSONValue.parse(json))
    }

    @Test func thinkingModeIsTheDefault() throws {
        let r = try render(#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#)
        // Thinking with no effort named gets the `high` preamble (vLLM 0.33.0's glue).
        #expect(r.text == "<｜begin▁of▁sentence｜>" + ChatRenderer.effortHigh + "Be brief.<｜User｜>Hi<｜Assistant｜><think>")
        #expect(r.reasons.isEmpty)
        let count = try Self.counter.countChat(requestJSON: Array(#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#.utf8))
        #expect(count == PromptCount(tokens: Self.counter.tokenizer.count(r.text), exact: true))
        // BOS, "Be brief." pieces, User, "Hi", Assistant, <think>: the special tokens are single ids.
        #expect(Self.counter.tokenizer.encode(r.text).first == 0)
    }

    @Test(arguments: [
        #"{"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"reasoning_effort":"none","messages":[{"role":"user","content":"Hi"}]}"#,
        #"{"chat_template_kwargs":{"thinking":false},"messages":[{"role":"user","content":"Hi"}]}"#,
    ])
    func chatModeClosesThinking(_ json: String) throws {
        #expect(try render(json).text == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>")
    }

    @Test(arguments: [
        (#""max""#, ChatRenderer.effortMax), (#""high""#, ChatRenderer.effortHigh), (#""xhigh""#, ChatRenderer.effortHigh),
        (#""medium""#, ""), (#""low""#, ""), (#""minimal""#, ""), ("null", ChatRenderer.effortHigh), ("7", ChatRenderer.effortHigh),
    ])
    func effortPicksThePreambleAfterBOS(_ effort: String, _ preamble: String) throws {
        let r = try render(#"{"reasoning_effort":\#(effort),"messages":[{"role":"user","content":"Hi"}]}"#)
        #expect(r.text == "<｜begin▁of▁sentence｜>" + preamble + "<｜User｜>Hi<｜Assistant｜><think>")
        // Chat mode has no preamble whatever the effort.
        let chat = try render(#"{"reasoning_effort":\#(effort),"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#)
        #expect(chat.text == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>")
    }

    @Test func aTrailingSystemMessageOpensGeneration() throws {
        let r = try render(#"{"reasoning_effort":"low","messages":[{"role":"user","content":"Hi"},{"role":"system","content":"Be brief."}]}"#)
        #expect(r.text == "<｜begin▁of▁sentence｜><｜User｜>HiBe brief.<｜Assistant｜><think>")
        let beforeAssistant = try render(
            #"{"reasoning_effort":"low","messages":[{"role":"system","content":"S"},{"role":"assistant","content":"A"},{"role":"user","content":"U"}]}"#)
        #expect(beforeAssistant.text
            == "<｜begin▁of▁sentence｜>S<｜Assistant｜></think>A<｜end▁of▁sentence｜><｜User｜>U<｜Assistant｜><think>")
    }

    @Test func earlierReasoningIsDroppedWithoutTools() throws {
        let json = #"""
            {"messages":[{"role":"user","content":"1+1?"},
             {"role":"assistant","content":"2","reasoning_content":"easy"},
             {"role":"user","content":"2+2?"}]}
            """#
        #expect(try render(json).text
            == "<｜begin▁of▁sentence｜>" + ChatRenderer.effortHigh
                + "<｜User｜>1+1?<｜Assistant｜></think>2<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>")
    }

    @Test func toolsKeepReasoningAndRenderSchemasAndCalls() throws {
        let json = #"""
            {"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "messages":[{"role":"system","content":"Sys"},{"role":"user","content":"Paris?"},
              {"role":"assistant","content":"","reasoning_content":"need tool","tool_calls":[
                {"id":"b","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\", \"days\": 2, \"x\": [1.0, null]}"}},
                {"id":"a","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Lyon\"}"}}]},
              {"role":"tool","tool_call_id":"a","content":"sunny"},
              {"role":"tool","tool_call_id":"b","content":"rain"},
              {"role":"user","content":"Thanks"}]}
            """#
        let r = try render(json)
        let schema = #"{"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}"#
        let d = "｜DSML｜"
        let expected = "<｜begin▁of▁sentence｜>" + ChatRenderer.effortHigh + "Sys\n\n" + ChatRenderer.toolsBlock(schema)
            + "<｜User｜>Paris?<｜Assistant｜><think>"
            + "need tool</think>\n\n<\(d)tool_calls>\n"
            + "<\(d)invoke name=\"get_weather\">\n"
            + "<\(d)parameter name=\"city\" string=\"true\">Paris</\(d)parameter>\n"
            + "<\(d)parameter name=\"days\" string=\"false\">2</\(d)parameter>\n"
            + "<\(d)parameter name=\"x\" string=\"false\">[1.0, null]</\(d)parameter>\n</\(d)invoke>\n"
            + "<\(d)invoke name=\"get_weather\">\n<\(d)parameter name=\"city\" string=\"true\">Lyon</\(d)parameter>\n</\(d)invoke>\n"
            + "</\(d)tool_calls><｜end▁of▁sentence｜>"
            + "<｜User｜><tool_result>rain</tool_result>\n\n<tool_result>sunny</tool_result>\n\nThanks<｜Assistant｜><think>"
        #expect(r.text == expected)
        #expect(r.reasons.isEmpty)
    }

    @Test func toolsWithoutSystemMessageGetALeadingSystemBlock() throws {
        let r = try render(#"{"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"x"}]}"#)
        #expect(r.text.hasPrefix("<｜begin▁of▁sentence｜>" + ChatRenderer.effortHigh + "\n\n## Tools\n"))
        #expect(r.text.contains(#"{"name": "f", "description": null, "parameters": null}"#))
    }

    @Test func contentPartsAndEstimates() throws {
        let parts = try render(#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#)
        #expect(parts.text == "<｜begin▁of▁sentence｜>" + ChatRenderer.effortHigh + "<｜User｜>a\nb<｜Assistant｜><think>")
        #expect(parts.reasons.isEmpty)
        let image = try Self.counter.countChat(request: JSONValue.parse(
            #"{"messages":[{"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#))
        #expect(!image.exact)
        #expect(image.estimateReasons == ["non-text content parts not counted"])
        #expect(throws: ChatPromptCounter.RequestError.self) { try Self.counter.countChat(request: JSONValue.parse("{}")) }
        // vLLM would print the name the Python way (`None`): not a count to call exact.
        let unnamed = try Self.counter.countChat(request: JSONValue.parse(
            #"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":null,"arguments":"{}"}}]},{"role":"user","content":"b"}]}"#))
        #expect(unnamed.estimateReasons == ["tool call without a string name"])
        // The encoder refuses a developer turn without text that it keeps ("Invalid message for
        // role developer"): the engine will not run the request, so its count is no exact one, on
        // either path. In thinking mode one before the last user turn is dropped first: exact.
        for content in [#""""#, "null", "[]", #"[{"type":"text","text":""}]"#] {
            let developer = #"{"role":"developer","content":\#(content)}"#
            for (messages, mode, kept) in [
                (#"{"role":"user","content":"a"},\#(developer)"#, "", true),
                (#"\#(developer),{"role":"user","content":"a"}"#, #","thinking":{"type":"disabled"}"#, true),
                (#"\#(developer),{"role":"user","content":"a"}"#, "", false),
            ] {
                let counted = try Self.counter.countChat(requestJSON: Array(#"{"messages":[\#(messages)]\#(mode)}"#.utf8))
                #expect(counted.exact == !kept, "\(messages) \(mode)")
                #expect(counted.estimateReasons == (kept ? ["developer message without content (the encoder refuses it)"] : []), "\(messages)")
            }
        }
        let spoken = try Self.counter.countChat(requestJSON: Array(#"{"messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"a"}]}"#.utf8))
        #expect(spoken.exact)
    }

    /// Python's `json.loads`, which is how vLLM reads a request, keeps one member per key: in its
    /// first place, with its last value. So do requests, tool schemas and call arguments here.
    @Test func aKeyWrittenTwiceKeepsItsFirstPlaceAndItsLastValue() throws {
        #expect(PythonJSON.dumps(try JSONValue.parse(#"{"a": 1, "b": 2, "a": 3}"#)) == #"{"a": 3, "b": 2}"#)
        // Keys compare as code points: a precomposed and a decomposed é are two keys to Python.
        let accents = "{\"\u{E9}\": 1, \"e\u{301}\": 2}"
        #expect(PythonJSON.dumps(try JSONValue.parse(accents)) == accents)
        // Long objects (indexed by key) alike.
        let keys = (0..<40).map { "\"k\($0)\": \($0)" }
        let long = "{" + (keys + [#""k3": 99"#, #""k39": null"#, #""k0": [1]"#]).joined(separator: ", ") + "}"
        var expected = keys
        expected[0] = #""k0": [1]"#
        expected[3] = #""k3": 99"#
        expected[39] = #""k39": null"#
        #expect(PythonJSON.dumps(try JSONValue.parse(long)) == "{" + expected.joined(separator: ", ") + "}")
    }

    @Test func aRequestWithKeysWrittenTwiceCountsAsItsLastValues() throws {
        let twice = #"""
            {"thinking":{"type":"disabled"},"thinking":{"type":"enabled"},
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"a":{"type":"number"}}}}}],
             "messages":[{"role":"user","content":"first","content":"the second one"},
              {"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\": 1, \"b\": 2, \"a\": 3}"}}]},
              {"role":"tool","tool_call_id":"c","content":"ok"}]}
            """#
        let once = #"""
            {"thinking":{"type":"enabled"},
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"integer"}}}}}],
             "messages":[{"role":"user","content":"the second one"},
              {"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\": 3, \"b\": 2}"}}]},
              {"role":"tool","tool_call_id":"c","content":"ok"}]}
            """#
        #expect(try render(twice).text == render(once).text)
        #expect(try render(twice).text.contains(#"<｜User｜>the second one<｜Assistant｜>"#))
        #expect(try Self.counter.countChat(requestJSON: Array(twice.utf8)) == Self.counter.countChat(requestJSON: Array(once.utf8)))
    }

    @Test func completionsCountThePromptAsIs() throws {
        let t = Self.counter.tokenizer
        let plain = try Self.counter.countCompletion(request: JSONValue.parse(#"{"prompt":"def f(x):"}"#))
        #expect(plain == PromptCount(tokens: t.count("def f(x):"), exact: true))
        let batch = try Self.counter.countCompletion(request: JSONValue.parse(#"{"prompt":["a b", [1, 2, 3]]}"#))
        #expect(batch.tokens == t.count("a b") + 3)
        #expect(batch.longestPrompt == 3)  // each prompt of a batch must fit a context on its own
        let ids = try Self.counter.countCompletion(request: JSONValue.parse(#"{"prompt":[1, 2, 3, 4]}"#))
        #expect(ids.tokens == 4 && ids.longestPrompt == 4)  // a list of ids is one prompt
        #expect(plain.longestPrompt == plain.tokens)
        let fim = try Self.counter.countCompletion(request: JSONValue.parse(#"{"prompt":"def f(x):","suffix":"return y"}"#))
        #expect(fim.tokens == t.count("<｜fim▁begin｜>def f(x):<｜fim▁hole｜>return y<｜fim▁end｜>"))
        #expect(!fim.exact)
    }

    @Test(arguments: [
        ("1", "1"), ("-0", "0"), ("1.0", "1.0"), ("0.1", "0.1"), ("1e16", "1e+16"), ("1e15", "1000000000000000.0"),
        ("0.0001", "0.0001"), ("0.00001", "1e-05"), ("-2.5E-7", "-2.5e-07"), ("123.456", "123.456"), ("1E2", "100.0"),
        ("12345678901234567890", "12345678901234567890"), ("1.5e300", "1.5e+300"), ("0.0", "0.0"),
    ])
    func pythonFloatRepr(_ input: String, _ python: String) {
        #expect(PythonJSON.number(input) == python)
    }

    @Test func pythonStringEscapes() {
        #expect(PythonJSON.dumps(.string("a\"b\\c\n\t\u{01}é中\u{7F}")) == "\"a\\\"b\\\\c\\n\\t\\u0001é中\u{7F}\"")
        #expect(PythonJSON.dumps(.string("\u{1F}\u{08}\u{0C}\r")) == #""\u001f\b\f\r""#)
        #expect(PythonJSON.dumps(.object([JSONMember(key: "k", value: .array([]))])) == "{\"k\": []}")
    }
}
