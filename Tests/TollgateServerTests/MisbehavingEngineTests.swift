import Foundation
import Synchronization
import Testing
import TollgateTestSupport
import TollgateTokenizer

/// Answers no well-behaved engine sends, from a ``ScriptedEngine`` over loopback: the gateway must
/// serve on, bill what it can count, and never pass on a usage it does not believe.
@Suite(.serialized) struct MisbehavingEngineTests {
    static let request = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Tell me more."}],"max_tokens":12}"#
    static let streamRequest = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Tell me more."}],"max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}"#
    static let answerText = "Here is more about it."

    /// A priced gateway whose only endpoint is `engine`.
    static func gateway(
        before engine: ScriptedEngine, maxAnswerBytes: Int? = nil, speaking protocol: String = "vllm"
    ) async throws -> GatewayFixture {
        let port = try await engine.start()
        return try await GatewayFixture.start(
            engines: [], extraEndpointsFirst: ["http://127.0.0.1:\(port)/v1"], maxAnswerBytes: maxAnswerBytes, priceBook: PricingTests.book,
            engine: `protocol`)
    }

    static func chunk(_ content: String) -> String {
        #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[{"index":0,"delta":{"content":""#
            + content + #""},"finish_reason":null}]}"#
    }

    static func body(usage: String) -> String {
        #"{"id":"cmpl-1","object":"chat.completion","created":1,"model":"DeepSeek-V4-Flash","choices":[{"index":0,"message":{"role":"assistant","content":""#
            + answerText + #""},"finish_reason":"stop"}],"usage":"# + usage + "}"
    }

    /// Counts an engine cannot have meant: the client gets Tollgate's count in their place, marked
    /// estimated, with the cost of that count, and the engine's numbers go nowhere.
    @Test(arguments: [
        #"{"prompt_tokens":-5,"completion_tokens":7,"total_tokens":2}"#,
        #"{"prompt_tokens":9000000000000000000,"completion_tokens":7,"total_tokens":7}"#,
        #"{"prompt_tokens":"many","completion_tokens":7}"#,
        "null",
        "[]",
    ])
    func aUsageNotBelievedIsReplacedByTollgatesCount(usage: String) async throws {
        let engine = ScriptedEngine()
        engine.answer(body: Self.body(usage: usage))
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(Self.request.utf8)).tokens
        let completion = try DeepSeekTokenizer.shared.count(Self.answerText)

        let response = try await fixture.chat(Self.request)
        #expect(response.status == 200)
        let usageKeys = response.body.split(separator: "\"usage\"", omittingEmptySubsequences: false).count - 1
        #expect(usageKeys == 1, "\(response.body)")
        let answer = try json(response.body)
        let billed = try #require(answer["usage"] as? [String: Any], "\(response.body)")
        #expect(billed["estimated"] as? Bool == true)
        #expect(billed["prompt_tokens"] as? Int == prompt)
        #expect(billed["completion_tokens"] as? Int == completion)
        #expect(billed["total_tokens"] as? Int == prompt + completion)
        #expect(billed["cost"] as? String == PricingTests().expectedCost(prompt: prompt, completion: completion))
        #expect((answer["choices"] as? [[String: Any]])?.count == 1)
    }

    /// The same in a stream: one usage chunk, Tollgate's, where the engine's was.
    @Test func aStreamedUsageNotBelievedIsReplacedByTollgatesCount() async throws {
        let engine = ScriptedEngine()
        let chunk = #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
        let usageChunk = #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":3,"total_tokens":2}}"#
        engine.answer(contentType: "text/event-stream", body: "data: \(chunk)\n\ndata: \(chunk)\n\ndata: \(usageChunk)\n\ndata: [DONE]\n\n")
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(Self.streamRequest.utf8)).tokens

        let response = try await fixture.chat(Self.streamRequest)
        #expect(response.status == 200)
        #expect(response.events.last == "[DONE]")
        let usages = try response.events.dropLast().compactMap { try json($0)["usage"] as? [String: Any] }
        #expect(usages.count == 1, "\(response.events)")
        let usage = try #require(usages.first)
        #expect(usage["estimated"] as? Bool == true)
        #expect(usage["prompt_tokens"] as? Int == prompt)
        // Without a believable usage a vLLM stream's completion is its content events, one token each.
        #expect(usage["completion_tokens"] as? Int == 2)
        #expect(usage["cost"] as? String == PricingTests().expectedCost(prompt: prompt, completion: 2))
        #expect(try json(response.events[response.events.count - 2])["id"] as? String == "cmpl-1")
    }

    /// Tollgate's own count never bills more than the request allowed the engine to generate:
    /// `max_tokens` for each of its `n` choices, however long the text it counted.
    @Test func tollgatesOwnCountStopsAtMaxTokensTimesChoices() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let long = String(repeating: "and more words ", count: 20)
        #expect(try DeepSeekTokenizer.shared.count(long) > 24)

        engine.answer(body: Self.body(usage: "null").replacingOccurrences(of: Self.answerText, with: long))
        let twoChoices = Self.request.replacingOccurrences(of: #""max_tokens":12"#, with: #""max_tokens":12,"n":2"#)
        let whole = try await fixture.chat(twoChoices)
        let usage = try #require(try json(whole.body)["usage"] as? [String: Any], "\(whole.body)")
        #expect(usage["estimated"] as? Bool == true)
        #expect(usage["completion_tokens"] as? Int == 24)

        // A stream's events, one token each, and the opening role event that carries none.
        let role = Self.chunk("").replacingOccurrences(of: #""delta":{"#, with: #""delta":{"role":"assistant","#)
        let events = ([role] + (0..<12).map { _ in Self.chunk("x") }).map { "data: \($0)\n\n" }.joined()
        engine.answer(contentType: "text/event-stream", body: events + "data: [DONE]\n\n")
        let stream = try await fixture.chat(Self.streamRequest)
        let usageEvent = try #require(stream.events.dropLast().last)
        let streamed = try #require(try json(usageEvent)["usage"] as? [String: Any], "\(stream.events)")
        #expect(streamed["estimated"] as? Bool == true)
        #expect(streamed["completion_tokens"] as? Int == 12)
    }

    /// The usage chunk Tollgate adds to a stream without one looks like the stream's own chunks:
    /// a completions stream's object and id prefix, and the engine's id and model where Tollgate
    /// parses the chunks (llama.cpp).
    @Test(arguments: ["vllm", "llamacpp"])
    func theUsageChunkTollgateAddsIsShapedLikeTheStream(engineKind: String) async throws {
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine, speaking: engineKind)
        defer { Task { await fixture.stop(); await engine.stop() } }
        func addedUsageChunk(_ response: TestResponse) throws -> [String: Any] {
            #expect(response.events.last == "[DONE]")
            let chunk = try json(try #require(response.events.dropLast().last))
            #expect((chunk["usage"] as? [String: Any])?["estimated"] as? Bool == true, "\(response.events)")
            return chunk
        }
        let parsed = engineKind == "llamacpp"

        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk("Hi"))\n\ndata: [DONE]\n\n")
        let chat = try addedUsageChunk(try await fixture.chat(Self.streamRequest))
        #expect(chat["object"] as? String == "chat.completion.chunk")
        #expect((chat["id"] as? String).map { parsed ? $0 == "cmpl-1" : $0.hasPrefix("chatcmpl-") } == true, "\(chat)")
        #expect(chat["model"] as? String == (parsed ? "DeepSeek-V4-Flash" : "deepseek-v4-flash"))

        let text = #"{"id":"cmpl-7","object":"text_completion","created":1,"model":"DeepSeek-V4-Flash","choices":[{"index":0,"text":"Hi","logprobs":null,"finish_reason":null}]}"#
        engine.answer(contentType: "text/event-stream", body: "data: \(text)\n\ndata: [DONE]\n\n")
        let completion = try addedUsageChunk(try await fixture.completion(
            #"{"model":"deepseek-v4-flash","prompt":"Say","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#))
        #expect(completion["object"] as? String == "text_completion")
        #expect((completion["id"] as? String).map { parsed ? $0 == "cmpl-7" : $0.hasPrefix("cmpl-") } == true, "\(completion)")
    }

    /// Reasoning the gateway counts itself (a llama.cpp stream, an answer without a usage) is
    /// counted apart from the content: the completion holds both, and the bill says how much of it
    /// was reasoning, in OpenAI's `completion_tokens_details`, as an engine would.
    @Test func reasoningTollgateCountsIsBilledAsReasoning() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine, speaking: "llamacpp")
        defer { Task { await fixture.stop(); await engine.stop() } }
        let thought = "The user wants more. I should think about what to add."
        let reasoning = try DeepSeekTokenizer.shared.count(thought)
        let content = try DeepSeekTokenizer.shared.count(Self.answerText)
        let roomy = Self.streamRequest.replacingOccurrences(of: #""max_tokens":12"#, with: #""max_tokens":200"#)

        let thinking = Self.chunk("").replacingOccurrences(of: #""content":"""#, with: #""reasoning_content":"\#(thought)""#)
        engine.answer(contentType: "text/event-stream", body: "data: \(thinking)\n\ndata: \(Self.chunk(Self.answerText))\n\ndata: [DONE]\n\n")
        let stream = try await fixture.chat(roomy)
        let usageEvent = try #require(stream.events.dropLast().last)
        let streamed = try #require(try json(usageEvent)["usage"] as? [String: Any], "\(stream.events)")
        #expect(streamed["estimated"] as? Bool == true)
        #expect(streamed["completion_tokens"] as? Int == reasoning + content)
        #expect((streamed["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int == reasoning, "\(streamed)")

        let answered = Self.body(usage: "null").replacingOccurrences(
            of: #""role":"assistant","#, with: #""role":"assistant","reasoning_content":"\#(thought)","#)
        engine.answer(body: answered)
        let whole = try await fixture.chat(Self.request.replacingOccurrences(of: #""max_tokens":12"#, with: #""max_tokens":200"#))
        let billed = try #require(try json(whole.body)["usage"] as? [String: Any], "\(whole.body)")
        #expect(billed["completion_tokens"] as? Int == reasoning + content)
        #expect((billed["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int == reasoning, "\(billed)")
    }

    /// The DeepSeek API sends the usage on the stream's last content chunk, with its
    /// `finish_reason`, rather than in a chunk of its own: that usage gets the cost too.
    @Test func aUsageOnTheLastContentChunkCarriesTheCost() async throws {
        let engine = ScriptedEngine()
        let last = #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":2,"prompt_cache_hit_tokens":3,"prompt_cache_miss_tokens":8,"total_tokens":13}}"#
        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk("Hi"))\n\ndata: \(last)\n\ndata: [DONE]\n\n")
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }

        let response = try await fixture.chat(Self.streamRequest)
        #expect(response.events.count == 3, "\(response.events)")
        let usages = try response.events.dropLast().compactMap { try json($0)["usage"] as? [String: Any] }
        #expect(usages.count == 1, "\(response.events)")
        #expect(usages.first?["cost"] as? String == PricingTests().expectedCost(prompt: 11, hit: 3, completion: 2))
        #expect(usages.first?["estimated"] == nil)
    }

    /// A usage that already has a `cost` (another gateway's, upstream) gets Tollgate's in its
    /// place: one `cost` key, not two for the client to choose from.
    @Test func anUpstreamCostIsReplacedNotRepeated() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let expected = PricingTests().expectedCost(prompt: 9, completion: 7)

        engine.answer(body: Self.body(usage: #"{"prompt_tokens":9,"cost":"123.45","completion_tokens":7,"total_tokens":16}"#))
        let whole = try await fixture.chat(Self.request)
        #expect(whole.body.components(separatedBy: #""cost""#).count == 2, "\(whole.body)")
        #expect((try json(whole.body)["usage"] as? [String: Any])?["cost"] as? String == expected)

        let usageChunk = #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16,"cost":0.5}}"#
        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk("Hi"))\n\ndata: \(usageChunk)\n\ndata: [DONE]\n\n")
        let stream = try await fixture.chat(Self.streamRequest)
        let usageEvent = try #require(stream.events.dropLast().last)
        #expect(usageEvent.components(separatedBy: #""cost""#).count == 2, "\(usageEvent)")
        #expect((try json(usageEvent)["usage"] as? [String: Any])?["cost"] as? String == expected)
    }

    /// An error body nested far deeper than any engine writes is read without recursion running
    /// the stack out: the client gets a 502 in an OpenAI envelope, and the gateway
    /// serves the next request.
    @Test func aDeeplyNestedErrorBodyGetsAnEnvelope() async throws {
        let engine = ScriptedEngine()
        let depth = 200_000
        engine.answer(status: 500, body: String(repeating: #"{"error":"#, count: depth) + #""deep""# + String(repeating: "}", count: depth))
        let fixture = try await Self.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }

        let response = try await fixture.chat(Self.request)
        #expect(response.status == 502)
        #expect(errorCode(response.body) == "upstream_error", "\(response.body.prefix(200))")

        engine.answer(body: Self.body(usage: #"{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}"#))
        #expect(try await fixture.chat(Self.request).status == 200)
    }

    /// More than `limits.max_answer_bytes` is never held: a whole answer gets 502
    /// `upstream_answer_too_large`; in a stream, one event without its end, or the text of a
    /// llama.cpp stream that Tollgate must count, ends the stream with that error. A stream of many
    /// events within the limit each is not refused for its length.
    @Test func anAnswerPastTheLimitIsCutOff() async throws {
        let limit = 4_096
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine, maxAnswerBytes: limit)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let long = String(repeating: "x", count: limit)

        engine.answer(body: Self.body(usage: "null").replacingOccurrences(of: Self.answerText, with: long))
        let whole = try await fixture.chat(Self.request)
        #expect(whole.status == 502)
        #expect(errorCode(whole.body) == "upstream_answer_too_large", "\(whole.body)")

        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk("Hi"))\n\ndata: \(Self.chunk(long))")
        let unended = try await fixture.chat(Self.streamRequest)
        #expect(unended.status == 200)
        try #require(unended.events.count == 3, "\(unended.events)")
        #expect(try json(unended.events[0])["choices"] != nil)
        #expect(errorCode(unended.events[1]) == "upstream_answer_too_large", "\(unended.events)")
        #expect(unended.events.last == "[DONE]")

        let events = (0..<40).map { _ in "data: \(Self.chunk(String(repeating: "y", count: 200)))\n\n" }.joined()
        engine.answer(contentType: "text/event-stream", body: events + "data: [DONE]\n\n")
        let many = try await fixture.chat(Self.streamRequest)
        #expect(many.events.count == 42, "\(many.events.suffix(3))")  // 40, the usage Tollgate adds, [DONE]
        #expect(many.events.allSatisfy { errorCode($0) == nil })
    }

    @Test func aLlamaCppStreamWhoseTextPassesTheLimitIsCutOff() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Self.gateway(before: engine, maxAnswerBytes: 4_096, speaking: "llamacpp")
        defer { Task { await fixture.stop(); await engine.stop() } }
        let events = (0..<40).map { _ in "data: \(Self.chunk(String(repeating: "y", count: 200)))\n\n" }.joined()
        engine.answer(contentType: "text/event-stream", body: events + "data: [DONE]\n\n")
        let response = try await fixture.chat(Self.streamRequest)
        #expect(response.status == 200)
        // 4,096 bytes of text is 20 events of 200; the 21st passes it and is not sent.
        try #require(response.events.count == 22, "\(response.events.suffix(3))")
        #expect(errorCode(response.events[20]) == "upstream_answer_too_large", "\(response.events.suffix(3))")
        #expect(response.events.last == "[DONE]")
    }

    /// An engine whose `/health` answer trickles a byte at a time never trips an idle timeout; the
    /// probe's own deadline ends it, so the gateway starts, and later probe rounds still bring
    /// back an engine that was down.
    @Test func aTricklingHealthAnswerDoesNotStopTheProbes() async throws {
        let trickler = ScriptedEngine(healthTrickles: true)
        let port = try await trickler.start()
        let started = ContinuousClock.now
        // Polled, not awaited: a start that never ends must fail the test, not hang it.
        let starting = Task { try await GatewayFixture.start(extraEndpointsFirst: ["http://127.0.0.1:\(port)/v1"]) }
        let box = Mutex<Result<GatewayFixture, any Error>?>(nil)
        Task { let result = await starting.result; box.withLock { $0 = result } }
        while box.withLock({ $0 }) == nil && started.duration(to: .now) < .seconds(15) { try await Task.sleep(for: .milliseconds(50)) }
        let gateway = try #require(try box.withLock { $0 }?.get(), "the gateway did not start within 15 s")
        defer { Task { await gateway.stop(); await trickler.stop() } }
        #expect(started.duration(to: .now) < .seconds(5))
        let body = Self.request
        #expect(try await gateway.chat(body).status == 200)

        // The simulator refuses connections: the proxy marks it down itself; only a probe round
        // marks it up again once it listens.
        try await gateway.setFaults(0) { $0.refuseConnections = true }
        let refused = try await gateway.chat(body)
        #expect(refused.status == 502 && errorCode(refused.body) == "upstream_unreachable", "\(refused.body)")
        try await gateway.setFaults(0) { $0.refuseConnections = false }
        var status = 0
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while status != 200 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            status = try await gateway.chat(body).status
        }
        #expect(status == 200, "the simulator was not brought back up")
    }
}
