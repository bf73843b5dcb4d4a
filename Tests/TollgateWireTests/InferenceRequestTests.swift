import Testing

@testable import TollgateWire

@Suite struct InferenceRequestTests {
    func parse(_ json: String, _ endpoint: InferenceEndpoint = .chat) throws(GatewayError) -> InferenceRequest {
        var bytes = Array(json.utf8)
        let count = bytes.count
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(GatewayError) in
            try InferenceRequest.parse(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), endpoint: endpoint)
        }
    }

    func rewritten(_ json: String, served: String?) throws -> String {
        let bytes = Array(json.utf8)
        let request = try parse(json)
        // Applied the way the gateway's `ByteBufferAllocator.spliced` applies them: in order.
        var out: [UInt8] = []
        var cursor = 0
        for splice in request.rewrite(servedModel: served, forceUsage: true) {
            #expect(splice.range.lowerBound >= cursor, "splices must be sorted and must not overlap")
            out += bytes[cursor..<splice.range.lowerBound] + splice.replacement
            cursor = splice.range.upperBound
        }
        return String(decoding: out + bytes[cursor...], as: UTF8.self)
    }

    @Test func readsRoutingFields() throws {
        let request = try parse(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":64,"thinking":{"type":"disabled"}}"#)
        #expect(request.model == "deepseek-v4-flash")
        #expect(request.stream)
        #expect(!request.clientWantsUsage)
        #expect(request.maxTokens == 64)
        #expect(!request.thinking)
        #expect(!request.needsBeta)
    }

    @Test func thinkingIsOffWhenEitherFieldSaysSoInAnyOrder() throws {
        let effortFirst = try parse(
            #"{"model":"m","reasoning_effort":"none","thinking":{"type":"enabled"},"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(!effortFirst.thinking)
        let typeFirst = try parse(
            #"{"model":"m","thinking":{"type":"disabled"},"reasoning_effort":"high","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(!typeFirst.thinking)
        #expect(try parse(#"{"model":"m","thinking":{"type":"enabled"},"messages":[]}"#).thinking)
    }

    /// A completion's prompt is raw text: no template opens a thinking block, whatever it asks.
    @Test func aCompletionNeverThinks() throws {
        #expect(!(try parse(#"{"model":"m","prompt":"p"}"#, .completions).thinking))
        #expect(!(try parse(#"{"model":"m","prompt":"p","thinking":{"type":"enabled"}}"#, .completions).thinking))
        #expect(try parse(#"{"model":"m","messages":[]}"#).thinking)
    }

    @Test func recordsTheTurnsOfAPlainChatAsRangesOfTheBody() throws {
        let json = #"{"model":"m","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"assistant","content":null,"reasoning_content":"r"},{"role":"user","content":"hi"}],"reasoning_effort":"max"}"#
        let bytes = Array(json.utf8)
        let request = try bytes.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat, recordingTurns: true) }
        let chat = try #require(request.chatTurns)
        func text(_ t: ChatTurns.Text?) -> String? { t.map { String(decoding: bytes[$0.range], as: UTF8.self) } }
        #expect(chat.turns.map(\.role) == [.system, .assistant, .user])
        #expect(text(chat.turns[0].content) == #"Be \"brief\"."#)
        #expect(chat.turns[0].content?.form == .escaped)
        #expect(chat.turns[1].content == nil)
        #expect(text(chat.turns[1].reasoning) == "r")
        #expect(text(chat.turns[2].content) == "hi")
        #expect(chat.turns[2].content?.form == .plain)
        #expect(chat.reasoningEffort == "max")
        // Completions requests have no turns to record.
        let prompt = Array(#"{"model":"m","prompt":"hi"}"#.utf8)
        #expect(try prompt.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .completions, recordingTurns: true) }.chatTurns == nil)
    }

    /// Content given as parts is kept as the list's range; walking it gives each text as written.
    @Test func recordsTextPartsAsTheirListAndWalksTheirTexts() throws {
        let list = #"[{"type":"text","text":"a"}, "b\n", {"text":"c","type":"text","extra":[1]}]"#
        let bytes = Array(#"{"model":"m","messages":[{"role":"user","content":\#(list)}]}"#.utf8)
        try bytes.withUnsafeBytes { body in
            let chat = try #require(try InferenceRequest.parse(body, endpoint: .chat, recordingTurns: true).chatTurns)
            let content = try #require(chat.turns.first?.content)
            #expect(content.form == .parts)
            #expect(String(decoding: bytes[content.range], as: UTF8.self) == list)
            var scanner = JSONScanner(body, offset: content.range.lowerBound)
            var texts: [(String, ChatTurns.Text.Form)] = []
            let walked = try ChatTurns.walkTextParts(&scanner) { texts.append((String(decoding: bytes[$0.range], as: UTF8.self), $0.form)) }
            #expect(walked.allText && walked.range == content.range)
            #expect(texts.map(\.0) == ["a", #"b\n"#, "c"])
            #expect(texts.map(\.1) == [.plain, .escaped, .plain])
        }
        // An image part leaves the request to the general path.
        let image = Array(#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#.utf8)
        #expect(try image.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: .chat, recordingTurns: true) }.chatTurns == nil)
    }

    @Test func prefixCompletionAndFIMNeedBeta() throws {
        let prefix = try parse(
            #"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"```py","prefix":true}]}"#)
        #expect(prefix.needsBeta)
        // The role is compared as written, escapes decoded only when present.
        let escapedRole = try parse(
            #"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assist\u0061nt","content":"x","prefix":true}]}"#)
        #expect(escapedRole.needsBeta)
        let userPrefix = try parse(#"{"model":"m","messages":[{"role":"user","content":"a","prefix":true}]}"#)
        #expect(!userPrefix.needsBeta)
        let fim = try parse(#"{"model":"m","prompt":"def f(","suffix":"return x"}"#, .completions)
        #expect(fim.needsBeta)
    }

    /// A key written twice reads as the engine's parser (Python's `json.loads`) reads it: the last
    /// value wins, whole. Each body below must read like the one holding only its last value.
    @Test(arguments: [
        (#"{"model":"a","model":"b","messages":[]}"#, #"{"model":"b","messages":[]}"#),
        (#"{"model":"m","stream":true,"stream":null,"messages":[]}"#, #"{"model":"m","stream":null,"messages":[]}"#),
        (#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"stream_options":null,"messages":[]}"#,
         #"{"model":"m","stream":true,"stream_options":null,"messages":[]}"#),
        (#"{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_usage":null},"messages":[]}"#,
         #"{"model":"m","stream":true,"stream_options":{"include_usage":null},"messages":[]}"#),
        (#"{"model":"m","max_tokens":5,"max_tokens":null,"messages":[]}"#, #"{"model":"m","messages":[]}"#),
        (#"{"model":"m","max_completion_tokens":5,"max_completion_tokens":null,"max_tokens":9,"messages":[]}"#,
         #"{"model":"m","max_tokens":9,"messages":[]}"#),
        (#"{"model":"m","thinking":{"type":"disabled"},"thinking":{},"messages":[]}"#, #"{"model":"m","thinking":{},"messages":[]}"#),
        (#"{"model":"m","thinking":{"type":"disabled","type":null},"messages":[]}"#, #"{"model":"m","thinking":{"type":null},"messages":[]}"#),
        (#"{"model":"m","reasoning_effort":"none","reasoning_effort":"high","messages":[]}"#,
         #"{"model":"m","reasoning_effort":"high","messages":[]}"#),
        (#"{"model":"m","chat_template_kwargs":{"thinking":false},"chat_template_kwargs":{},"messages":[]}"#,
         #"{"model":"m","chat_template_kwargs":{},"messages":[]}"#),
        (#"{"model":"m","messages":[{"role":"assistant","content":"a","prefix":true}],"messages":[{"role":"user","content":"b"}]}"#,
         #"{"model":"m","messages":[{"role":"user","content":"b"}]}"#),
        (#"{"model":"m","messages":[{"role":"assistant","content":"a","prefix":true,"prefix":null}]}"#,
         #"{"model":"m","messages":[{"role":"assistant","content":"a"}]}"#),
        (#"{"model":"m","messages":[{"role":"assistant","content":"a","role":"user","prefix":true}]}"#,
         #"{"model":"m","messages":[{"role":"user","content":"a","prefix":true}]}"#),
    ])
    func aKeyWrittenTwiceReadsAsTheEnginesParserReadsIt(twice: String, last: String) throws {
        func fields(_ r: InferenceRequest) -> [String] {
            [r.model, "\(r.stream)", "\(r.clientWantsUsage)", "\(r.maxTokens ?? -1)", "\(r.thinking)", "\(r.needsBeta)"]
        }
        #expect(fields(try parse(twice)) == fields(try parse(last)))
    }

    @Test func aSuffixWrittenTwiceReadsAsTheLastOne() throws {
        #expect(!(try parse(#"{"model":"m","prompt":"p","suffix":"s","suffix":null}"#, .completions).needsBeta))
        #expect(try parse(#"{"model":"m","prompt":"p","suffix":null,"suffix":"s"}"#, .completions).needsBeta)
    }

    /// The engine's parser decodes escaped keys: one the gateway reads, written with escapes,
    /// could carry a value the gateway never saw (billed as one model, served as another).
    @Test(arguments: [
        (#"{"model":"deepseek-v4-flash","mod\u0065l":"deepseek-v4-pro","messages":[]}"#, "model", "'model'"),
        (#"{"model":"m","str\u0065am":true,"messages":[]}"#, "stream", "'stream'"),
        (#"{"model":"m","max_tok\u0065ns":9,"messages":[]}"#, "max_tokens", "'max_tokens'"),
        (#"{"model":"m","messages":[],"m\u0065ssages":[{"role":"assistant","content":"x","prefix":true}]}"#, "messages", "'messages'"),
        (#"{"model":"m","stream":true,"stream_options":{"include\u005fusage":false},"messages":[]}"#, "stream_options",
         "'stream_options.include_usage'"),
        (#"{"model":"m","thinking":{"typ\u0065":"disabled"},"messages":[]}"#, "thinking", "'thinking.type'"),
        (#"{"model":"m","chat_template_kwargs":{"enable\u005fthinking":false},"messages":[]}"#, "chat_template_kwargs",
         "'chat_template_kwargs.enable_thinking'"),
        (#"{"model":"m","messages":[{"r\u006fle":"user","content":"a"}]}"#, "messages", "'messages.role'"),
        (#"{"model":"m","prompt":"p","s\u0075ffix":"s"}"#, "suffix", "'suffix'"),
    ])
    func aKeyTheGatewayReadsWrittenWithEscapesIsRefused(json: String, param: String, named: String) {
        let endpoint: InferenceEndpoint = json.contains("prompt") ? .completions : .chat
        #expect {
            _ = try parse(json, endpoint)
        } throws: { error in
            guard let error = error as? GatewayError else { return false }
            return error.status == 400 && error.code == "invalid_request" && error.param == param
                && error.message.contains(named)
        }
    }

    @Test func otherKeysMayBeWrittenWithEscapes() throws {
        let request = try parse(
            #"{"model":"m","t\u006fols":[],"x\u0079z":1,"messages":[{"role":"user","c\u006fntent":"a"}],"stream_options":{"c\u006fntinuous":1}}"#)
        #expect(request.model == "m")
    }

    @Test func malformedJSONIsInvalidJSON() {
        for body in [#"{"model": "x""#, #"{"model":"x",}"#, "nope", #"{"model":"\x"}"#, "{\"model\":\"a\u{1}\"}"] {
            #expect(throws: GatewayError.self) { try parse(body) }
            do { _ = try parse(body) } catch { #expect(error.code == "invalid_json", "\(body)") }
        }
    }

    @Test func wrongTypesAreInvalidRequest() {
        let cases = [
            #"{"model":1,"messages":[]}"#: "model",
            #"{"model":"m","messages":"hi"}"#: "messages",
            #"{"model":"m","messages":[],"stream":"yes"}"#: "stream",
            #"{"model":"m","messages":[],"max_tokens":"10"}"#: "max_tokens",
            // Beyond 2^31 - 1 no engine could honour it, and the estimate priced from it could
            // overflow: refused before it reaches the pricer.
            #"{"model":"m","messages":[],"max_tokens":2147483648}"#: "max_tokens",
            #"{"model":"m","messages":[],"max_completion_tokens":100000000000000000}"#: "max_completion_tokens",
            #"{"model":"m","messages":[],"max_tokens":-1}"#: "max_tokens",
            #"{"messages":[]}"#: "model",
            #"[1,2]"#: nil,
        ] as [String: String?]
        for (body, param) in cases {
            do {
                _ = try parse(body)
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.status == 400)
                #expect(error.code == "invalid_request", "\(body)")
                #expect(error.param == param, "\(body)")
            }
        }
    }

    @Test func theLargestMaxTokensIsAccepted() throws {
        #expect(try parse(#"{"model":"m","messages":[],"max_tokens":2147483647}"#).maxTokens == 2_147_483_647)
    }

    /// A batched completions request generates `n` completions for each of its prompts.
    @Test func aBatchOfPromptsMultipliesTheChoices() throws {
        func choices(_ json: String) throws -> Int { try parse(json, .completions).choices }
        #expect(try choices(#"{"model":"m","prompt":"one"}"#) == 1)
        #expect(try choices(#"{"model":"m","prompt":["one","two","three"],"n":2}"#) == 6)
        #expect(try choices(#"{"model":"m","prompt":[[1,2],[3]]}"#) == 2)
        #expect(try choices(#"{"model":"m","prompt":[1,2,3],"n":4}"#) == 4, "token ids are one prompt")
        // vLLM refuses an empty batch; priced as one prompt, it would have been sent on anyway.
        #expect(throws: GatewayError.invalidRequest("'prompt' must not be an empty array.", param: "prompt")) {
            try parse(#"{"model":"m","prompt":[]}"#, .completions)
        }
        #expect(try choices(#"{"model":"m","prompt":["a","b"],"n":2147483647}"#) == 2_147_483_647, "capped")
    }

    /// `n` choices each generate up to `max_tokens`: the estimate multiplies by it.
    @Test func readsTheNumberOfChoices() throws {
        #expect(try parse(#"{"model":"m","messages":[]}"#).choices == 1)
        #expect(try parse(#"{"model":"m","messages":[],"n":3}"#).choices == 3)
        #expect(try parse(#"{"model":"m","messages":[],"n":3,"n":null}"#).choices == 1)
        for (body, param) in [
            (#"{"model":"m","messages":[],"n":0}"#, "n"), (#"{"model":"m","messages":[],"n":"2"}"#, "n"),
            (#"{"model":"m","messages":[],"n":2.5}"#, "n"), (#"{"model":"m","messages":[],"\u006e":2}"#, "n"),
        ] {
            #expect(throws: GatewayError.self, "\(body)") { try parse(body) }
            do { _ = try parse(body) } catch { #expect(error.code == "invalid_request" && error.param == param, "\(body)") }
        }
    }

    @Test func rewriteKeepsEverythingElse() throws {
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hé \"q\""}],"stream":true,"tools":[{"type":"function"}],"x_unknown":{"a":[1,2]}}"#
        let out = try rewritten(body, served: "DeepSeek-V4-Flash")
        #expect(out == #"{"model":"DeepSeek-V4-Flash","messages":[{"role":"user","content":"hé \"q\""}],"stream":true,"tools":[{"type":"function"}],"x_unknown":{"a":[1,2]},"stream_options":{"include_usage":true}}"#)
    }

    @Test func rewriteForcesUsageInExistingStreamOptions() throws {
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":false}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":false}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":false}}"#)
        // Blank inside the braces is still an empty object.
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{ }}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true }}"#)
        // Written twice, the engine reads the last: that is the one made to ask for usage.
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"stream_options":{}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}"#)
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"stream_options":null}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"stream_options":null,"stream_options":{"include_usage":true}}"#)
        let nonStream = #"{"model":"m","messages":[]}"#
        #expect(try rewritten(nonStream, served: nil) == nonStream)
    }

    /// vLLM sends `continuous_usage_stats` only with `include_usage`: a client that asked for the
    /// one without the other gets no usage, also when Tollgate asks the engine for it.
    @Test func continuousUsageIsTurnedOffForAClientThatDidNotAskForUsage() throws {
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":true}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":false}}"#)
        #expect(
            try rewritten(#"{"model":"m","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":true,"include_usage":false}}"#, served: nil)
                == #"{"model":"m","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":true}}"#)
        let asked = #"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}"#
        #expect(try rewritten(asked, served: nil) == asked)
    }
}

@Suite struct ResponseShapeTests {
    func shape(_ json: String) -> ResponseShape? {
        Array(json.utf8).withUnsafeBytes { ResponseShape.inspect($0) }
    }

    @Test func findsUsageChunk() throws {
        let chunk = try #require(shape(#"{"id":"x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"prompt_cache_hit_tokens":2}}"#))
        #expect(chunk.isUsageOnlyChunk)
        let bytes = Array(#"{"id":"x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"prompt_cache_hit_tokens":2}}"#.utf8)
        let usage = bytes.withUnsafeBytes { TokenUsage.parse(UnsafeRawBufferPointer(rebasing: $0[chunk.usageRange!])) }
        #expect(usage == TokenUsage(promptTokens: 5, completionTokens: 7, cacheHitTokens: 2))
        let content = try #require(shape(#"{"choices":[{"index":0,"delta":{"content":"usage"}}],"usage":null}"#))
        #expect(!content.isUsageOnlyChunk)
    }

    @Test func usageCountsOutsideTheLedgersRangeAreNotBelieved() throws {
        func usage(_ json: String) -> TokenUsage? {
            Array(json.utf8).withUnsafeBytes { TokenUsage.parse($0) }
        }
        #expect(usage(#"{"prompt_tokens":2147483647,"completion_tokens":0}"#) == TokenUsage(promptTokens: 2_147_483_647, completionTokens: 0))
        // The two basic counts out of range: no usage, so Tollgate counts the tokens itself.
        #expect(usage(#"{"prompt_tokens":5,"completion_tokens":2147483648}"#) == nil)
        #expect(usage(#"{"prompt_tokens":-5,"completion_tokens":7}"#) == nil)
        #expect(usage(#"{"prompt_tokens":5,"completion_tokens":99999999999999999999999}"#) == nil)
        // A detail out of range is dropped; the basic counts stand.
        #expect(
            usage(#"{"prompt_tokens":5,"completion_tokens":7,"prompt_cache_hit_tokens":9223372036854775807,"completion_tokens_details":{"reasoning_tokens":-1}}"#)
                == TokenUsage(promptTokens: 5, completionTokens: 7))
        // So is a cache count above the prompt, which no engine can mean: the prompt bills as misses
        // (what the estimate assumes), not as all hits, the cheapest reading of a broken split.
        #expect(usage(#"{"prompt_tokens":5,"completion_tokens":7,"prompt_cache_hit_tokens":6}"#) == TokenUsage(promptTokens: 5, completionTokens: 7))
        #expect(
            usage(#"{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":9}}"#)
                == TokenUsage(promptTokens: 5, completionTokens: 7))
        #expect(
            usage(#"{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":5}}"#)
                == TokenUsage(promptTokens: 5, completionTokens: 7, cacheHitTokens: 5))
    }

    @Test func renamesOnlyReasoningKeysOfMessagesAndDeltas() throws {
        let json = #"{"choices":[{"delta":{"reasoning":"think \"reasoning\":"}},{"message":{"reasoning":"a","reasoning_content":"a"}}],"reasoning":1}"#
        let found = try #require(shape(json))
        // Only the delta's key: the message has reasoning_content, and the top-level key is no choice's.
        let delta = try #require(json.utf8.firstRange(of: #""reasoning""#.utf8))
        let start = json.utf8.distance(from: json.utf8.startIndex, to: delta.lowerBound)
        #expect(found.reasoningKeyRanges == [start..<start + 11])
    }

    @Test func normalisesFlatEngineErrors() {
        let flat = Array(#"{"object":"error","message":"This model's maximum context length is 1024 tokens.","type":"BadRequestError","param":null,"code":400}"#.utf8)
        let error = flat.withUnsafeBytes { UpstreamErrorBody.normalise(status: 400, body: $0, endpoint: .chat) }
        #expect(error.code == "context_length_exceeded")
        #expect(error.status == 400)
        #expect(error.param == "messages")
        let completion = flat.withUnsafeBytes { UpstreamErrorBody.normalise(status: 400, body: $0, endpoint: .completions) }
        #expect(completion.code == "context_length_exceeded" && completion.param == "prompt")
        let nested = Array(#"{"error":{"message":"Authentication Fails","type":"authentication_error","code":"invalid_api_key"}}"#.utf8)
        let auth = nested.withUnsafeBytes { UpstreamErrorBody.normalise(status: 401, body: $0, endpoint: .chat) }
        #expect(auth == GatewayError(status: 401, type: "authentication_error", code: "invalid_api_key", message: "Authentication Fails"))
        let server = Array("oops".utf8).withUnsafeBytes { UpstreamErrorBody.normalise(status: 500, body: $0, endpoint: .chat) }
        #expect(server.status == 502)
    }

    @Test func errorEnvelopeEscapes() throws {
        let error = GatewayError.invalidRequest("bad \"x\"\n", param: "p")
        let json = String(decoding: error.envelope, as: UTF8.self)
        #expect(json == #"{"error":{"message":"bad \"x\"\n","type":"invalid_request_error","param":"p","code":"invalid_request"}}"#)
    }

    @Test func sseEventBoundaries() {
        let stream = Array("data: {\"a\":1}\n\ndata: [DONE]\n\n".utf8)
        stream.withUnsafeBytes { bytes in
            let first = SSE.eventEnd(in: bytes, from: 0)
            #expect(first == 15)
            #expect(SSE.eventEnd(in: bytes, from: first!) == stream.count)
            let event = UnsafeRawBufferPointer(rebasing: bytes[0..<first!])
            #expect(SSE.dataPayload(of: event) == 6..<13)
            #expect(SSE.isDone(UnsafeRawBufferPointer(rebasing: bytes[first!...])))
        }
        Array("data: {\"a\"".utf8).withUnsafeBytes { #expect(SSE.eventEnd(in: $0, from: 0) == nil) }
    }

    /// The end marker with or without the space, and nothing after it but its line end.
    @Test func sseDoneMarker() {
        for done in ["data: [DONE]\n\n", "data:[DONE]\r\n\r\n", "data: [DONE]"] {
            Array(done.utf8).withUnsafeBytes { #expect(SSE.isDone($0), "\(done)") }
        }
        for other in ["data: [DONE]x\n\n", "data:  [DONE]\n\n", "data: [DONE", ": [DONE]\n\n"] {
            Array(other.utf8).withUnsafeBytes { #expect(!SSE.isDone($0), "\(other)") }
        }
    }

    /// Events read by the SSE rules: data lines joined with newlines, one space after the colon
    /// dropped, every line end, the stream's byte-order mark dropped, other lines kept.
    @Test func sseFieldsFollowTheSpecification() {
        func fields(_ event: String) -> SSE.Fields? {
            Array(event.utf8).withUnsafeBytes { SSE.fields(of: $0) }
        }
        #expect(fields(": ping\nevent: m\rdata:{\"a\":\r\ndata:  1}\nid: 2\n\n") == SSE.Fields(
            data: Array("{\"a\":\n 1}".utf8), otherLines: Array(": ping\nevent: m\nid: 2\n".utf8)))
        #expect(fields("\u{FEFF}data: x\n\n") == SSE.Fields(data: Array("x".utf8), otherLines: []))
        #expect(fields("\ndata\n\n") == SSE.Fields(data: [], otherLines: []))
        #expect(fields(": only a comment\n\n") == nil)
        // `database: x` is a field named `database`, not data.
        #expect(fields("database: x\n\n") == nil)
    }

    /// An event that came in parts is searched from where the last search stopped, and a blank
    /// line split between the parts is still found, in each of the three forms.
    @Test(arguments: ["\n\n", "\r\n\r\n", "\r\r"])
    func anEventInPartsIsFoundWhereverItsEndIsSplit(terminator: String) {
        let event = Array("data: {\"a\":1}\(terminator)".utf8)
        let eventStart = 7  // the previous event's bytes come first
        let stream = Array(repeating: UInt8(ascii: "x"), count: eventStart) + event
        for split in (eventStart + 1)..<stream.count {
            stream.withUnsafeBytes { bytes in
                let before = UnsafeRawBufferPointer(rebasing: bytes[..<split])
                #expect(SSE.eventEnd(in: before, from: eventStart) == nil || split == stream.count)
                #expect(SSE.eventEnd(in: bytes, from: eventStart, searchedTo: split) == stream.count, "split at \(split)")
            }
        }
    }
}
