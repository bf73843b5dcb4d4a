import Foundation
import Testing
import TollgateTestSupport

/// Valid SSE and HTTP that engines seldom send, from a ``ScriptedEngine`` over loopback: the
/// client's stream stays well framed, and the engine's usage is read, priced or hidden as in the
/// usual `data: <json>\n\n` events. Answers the gateway cannot read are refused, not passed on.
@Suite(.serialized) struct StreamFramingTests {
    typealias Engine = MisbehavingEngineTests
    static let chunk = Engine.chunk("Hi")
    static let usageChunk = #"{"id":"cmpl-1","object":"chat.completion.chunk","created":1,"model":"DeepSeek-V4-Flash","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#
    static let withoutUsage = Engine.streamRequest.replacingOccurrences(of: #","stream_options":{"include_usage":true}"#, with: "")

    /// The data of each event the client received, read by the SSE rules: data lines joined,
    /// other lines left out.
    func eventData(_ response: TestResponse) -> [String] {
        response.body.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").compactMap { event in
            let data = event.split(separator: "\n").filter { $0.hasPrefix("data:") }.map { line in
                line.dropFirst(5).hasPrefix(" ") ? line.dropFirst(6) : line.dropFirst(5)
            }
            return data.isEmpty ? nil : data.joined(separator: "\n")
        }
    }

    /// The usages a client received, each as an object.
    func usages(_ response: TestResponse) throws -> [[String: Any]] {
        try eventData(response).filter { $0 != "[DONE]" }.compactMap { try json($0)["usage"] as? [String: Any] }
    }

    func occurrences(of marker: String, in body: String) -> Int {
        body.components(separatedBy: marker).count - 1
    }

    /// An engine that ends its stream without the last event's blank line: the event is forwarded
    /// whole, and nothing Tollgate writes after it joins its line.
    @Test func aLastEventWithoutItsBlankLineIsForwardedWhole() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }

        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata: \(Self.usageChunk)")
        let usageLast = try await fixture.chat(Engine.streamRequest)
        #expect(usageLast.body.hasSuffix("\n\ndata: [DONE]\n\n"), "\(usageLast.body)")
        let usages = try usages(usageLast)
        #expect(usages.count == 1, "\(usageLast.body)")
        #expect(usages.first?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 5))
        #expect(usages.first?["estimated"] == nil)

        for end in ["data: [DONE]", "data: [DONE]\n", "data: [DONE]\r\n"] {
            engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata: \(Self.usageChunk)\n\n\(end)")
            let doneLast = try await fixture.chat(Self.withoutUsage)
            #expect(occurrences(of: "[DONE]", in: doneLast.body) == 1, "\(doneLast.body)")
            #expect(doneLast.body.hasSuffix("data: [DONE]\n\n"), "\(doneLast.body)")
            #expect(!doneLast.body.contains("usage"), "\(doneLast.body)")
        }
    }

    /// `data:[DONE]` without the space ends the stream like `data: [DONE]`: Tollgate's count goes
    /// before it, and no second end marker follows.
    @Test func doneWithoutASpaceEndsTheStream() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }

        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata:[DONE]\n\n")
        let response = try await fixture.chat(Engine.streamRequest)
        #expect(occurrences(of: "[DONE]", in: response.body) == 1, "\(response.body)")
        #expect(response.body.hasSuffix("\n\ndata:[DONE]\n\n"), "\(response.body)")
        let usages = try usages(response)
        #expect(usages.count == 1, "\(response.body)")
        #expect(usages.first?["estimated"] as? Bool == true)
    }

    /// Comments, `event:`/`id:` lines and data in several lines are valid SSE: the usage in such
    /// an event is priced for a client that asked for it and hidden from one that did not, and
    /// no second usage of Tollgate's count is added.
    @Test(arguments: [
        "event: message\nid: 4\nretry: 1000\ndata: \(usageChunk)\n\n",
        ": ping\ndata: \(usageChunk)\n\n",
        "data: \(usageChunk)\nid: 5\r\n\r\n",
        "data: \(usageChunk.replacingOccurrences(of: #","usage":"#, with: ",\ndata: \"usage\":"))\n\n",
    ])
    func aUsageEventWithOtherLinesIsRead(usageEvent: String) async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\n" + usageEvent + "data: [DONE]\n\n")

        let asked = try await fixture.chat(Engine.streamRequest)
        let usages = try usages(asked)
        #expect(usages.count == 1, "\(asked.body)")
        #expect(usages.first?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 5), "\(asked.body)")
        #expect(usages.first?["estimated"] == nil)
        // Lines beside the data go out with it.
        if usageEvent.contains("id: ") { #expect(asked.body.contains("\nid: "), "\(asked.body)") }

        let notAsked = try await fixture.chat(Self.withoutUsage)
        #expect(!notAsked.body.contains("usage"), "\(notAsked.body)")
        #expect(eventData(notAsked).last == "[DONE]")
    }

    /// JSON allows a tab or a newline before a value: `"usage":\t{...}` is a usage like any other.
    @Test func whitespaceBeforeTheUsageValueIsJSONs() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let tabbed = Self.usageChunk.replacingOccurrences(of: #""usage":"#, with: "\"usage\":\t")
        let nullTabbed = Self.chunk.replacingOccurrences(of: "}]}", with: "}],\"usage\" :\tnull}")
        engine.answer(contentType: "text/event-stream", body: "data: \(nullTabbed)\n\ndata: \(tabbed)\n\ndata: [DONE]\n\n")

        let asked = try await fixture.chat(Engine.streamRequest)
        let usages = try usages(asked)
        #expect(usages.count == 1, "\(asked.body)")
        #expect(usages.first?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 5))
        let notAsked = try await fixture.chat(Self.withoutUsage)
        #expect(!notAsked.body.contains("usage"), "\(notAsked.body)")
    }

    /// An engine's error event is no generated token: Tollgate's count of a stream without a
    /// usage does not bill it.
    @Test func anErrorEventIsNotCountedAsAToken() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let error = #"{"error":{"message":"engine overloaded","type":"server_error","code":null}}"#
        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata: \(error)\n\ndata: [DONE]\n\n")

        let response = try await fixture.chat(Engine.streamRequest)
        let usages = try usages(response)
        #expect(usages.first?["estimated"] as? Bool == true, "\(response.body)")
        #expect(usages.first?["completion_tokens"] as? Int == 1)
    }

    /// An engine that sends a second, different usage after the usage chunk: the bill follows
    /// the last one, the one the client reads last, and each usage shown carries its own cost.
    @Test func theBillFollowsTheLastUsage() async throws {
        let engine = ScriptedEngine()
        let port = try await engine.start()
        let fixture = try await GatewayFixture.start(
            engines: [], extraEndpointsFirst: ["http://127.0.0.1:\(port)/v1"], priceBook: PricingTests.book, adminToken: MetricsTests.adminToken)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let later = Self.chunk.replacingOccurrences(of: "}]}", with: #"}],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}}"#)
        engine.answer(contentType: "text/event-stream", body: "data: \(Self.usageChunk)\n\ndata: \(later)\n\ndata: [DONE]\n\n")

        let response = try await fixture.chat(Engine.streamRequest)
        let usages = try usages(response)
        #expect(usages.map { $0["completion_tokens"] as? Int } == [5, 7], "\(response.body)")
        #expect(usages.last?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 7))
        #expect(usages.first?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 5))

        let scrape = try await fixture.client.send(.GET, fixture.base + "/admin/metrics", headers: MetricsTests.admin)
        let values = MetricsTests.parse(scrape.body)
        #expect(values["tollgate_cost_total{target=\"flash-pool\",currency=\"USD\"}"] == PricingTests().expectedCost(prompt: 10, completion: 7), "\(scrape.body)")
        #expect(values["tollgate_tokens_total{target=\"flash-pool\",kind=\"completion\"}"] == "7")
    }

    /// A usage chunk that leaves `choices` out is a usage chunk all the same: hidden from a client
    /// that did not ask for the usage.
    @Test func aUsageChunkWithoutChoicesIsHiddenToo() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        for choices in [#""choices":[],"#, "", #""choices":null,"#] {
            let usageChunk = Self.usageChunk.replacingOccurrences(of: #""choices":[],"#, with: choices)
            engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata: \(usageChunk)\n\ndata: [DONE]\n\n")
            let notAsked = try await fixture.chat(Self.withoutUsage)
            #expect(!notAsked.body.contains("usage"), "\(notAsked.body)")
            #expect(eventData(notAsked).count == 2, "\(notAsked.body)")
            let asked = try await fixture.chat(Engine.streamRequest)
            #expect(try usages(asked).first?["cost"] as? String == PricingTests().expectedCost(prompt: 10, completion: 5), "\(asked.body)")
        }
    }

    /// Tollgate asks engines for answers without a content coding; one that comes coded anyway,
    /// or that is neither JSON nor the asked-for stream (a proxy's HTML page), is a 502 in the
    /// OpenAI envelope rather than bytes the client cannot read under a JSON content type.
    @Test func anAnswerTheGatewayCannotReadIsRefused() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }

        let gzipped = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\n\u{1F}\u{7F}\u{08}\u{00}"
        engine.answer(with: Array(gzipped.utf8))
        let coded = try await fixture.chat(Engine.request)
        #expect(engine.lastHeaders.first(name: "accept-encoding") == "identity")
        #expect(coded.status == 502)
        #expect(errorCode(coded.body) == "upstream_unreadable_answer", "\(coded.body)")
        #expect(coded.body.contains("content-encoding 'gzip'"), "\(coded.body)")

        engine.answer(contentType: "text/html", body: "<html>Bad gateway</html>")
        let html = try await fixture.chat(Engine.request)
        #expect(html.status == 502)
        #expect(errorCode(html.body) == "upstream_unreadable_answer", "\(html.body)")

        // A body the engine cut short (its length framing says it ended), or one that is no JSON.
        for body in [String(Engine.body(usage: #"{"prompt_tokens":9,"completion_tokens":7}"#).prefix(60)), "oops"] {
            engine.answer(body: body)
            let unread = try await fixture.chat(Engine.request)
            #expect(unread.status == 502, "\(unread.body)")
            #expect(errorCode(unread.body) == "upstream_unreadable_answer", "\(unread.body)")
        }

        engine.answer(contentType: "text/event-stream", body: "data: \(Self.chunk)\n\ndata: [DONE]\n\n")
        #expect(try await fixture.chat(Engine.request).status == 502)
        // The same stream, asked for, is served.
        #expect(try await fixture.chat(Engine.streamRequest).status == 200)
    }

    /// An engine's own rate limit keeps its `retry-after` on the way to the client, whose SDK
    /// waits that long before it retries.
    @Test func anEnginesRetryAfterIsPassedOn() async throws {
        let engine = ScriptedEngine()
        let fixture = try await Engine.gateway(before: engine)
        defer { Task { await fixture.stop(); await engine.stop() } }
        let body = #"{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#
        let limited = "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 7\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
        engine.answer(with: Array(limited.utf8))

        let response = try await fixture.chat(Engine.request)
        #expect(response.status == 429)
        #expect(response.headers.first(name: "retry-after") == "7")
        #expect(errorCode(response.body) == "rate_limit_exceeded")
    }
}
