import Foundation
import NIOHTTP1
import Testing
import TollgateEngineSim
import TollgateMoney
import TollgatePricing
import TollgateTokenizer
import TollgateWire

/// Prices on the request path: the estimate header and the actual `cost` in the usage.
@Suite(.serialized) struct PricingTests {
    /// 1.00 USD per 1M prompt tokens (1,000 nano-USD each), 2.00 per 1M output tokens.
    static let book = """
        currency: USD
        list_price_target: flash-pool
        expected_output_tokens:
          deepseek-v4-flash: {thinking: 100, chat: 50}
        versions:
          - id: test-v1
            effective_from: "2026-01-01T00:00:00Z"
            targets:
              flash-pool:
                kind: upstream
                models:
                  deepseek-v4-flash: {input_cache_hit: "0.10", input_cache_miss: "1.00", output: "2.00"}
        """

    func expectedCost(prompt: Int, hit: Int = 0, completion: Int) -> String {
        Money(nanos: Int64(hit * 100 + (prompt - hit) * 1000 + completion * 2000), currency: "USD").decimalString
    }

    /// With thinking on and off. The simulator speaks vLLM, which always sends a `reasoning` key
    /// (null without thinking), so both walk the whole answer; an answer without that key (read
    /// from the end, `TrailingUsage`) is covered by tests/python/test_real_engine.py.
    @Test(arguments: ["", #","thinking":{"type":"disabled"}"#])
    func nonStreamingCarriesEstimateAndActualCost(thinking: String) async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"How much is this?"}],"max_tokens":8"#
            + thinking + "}"
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8))
        #expect(prompt.exact)
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: 8))
        #expect(response.headers.first(name: "x-tollgate-currency") == "USD")
        let usage = try #require(try json(response.body)["usage"] as? [String: Any])
        let reportedPrompt = try #require(usage["prompt_tokens"] as? Int)
        let completion = try #require(usage["completion_tokens"] as? Int)
        #expect(usage["cost"] as? String == expectedCost(prompt: reportedPrompt, completion: completion))
        let message = try #require((try json(response.body)["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        #expect(message["reasoning"] == nil)
        #expect((message["reasoning_content"] as? String != nil) == thinking.isEmpty)
    }

    /// Without `max_tokens` the estimate takes the book's expected output for the request's mode,
    /// which vLLM clients set through `chat_template_kwargs` (overriding `thinking.type`).
    @Test(arguments: [
        ("", 100),
        (#","chat_template_kwargs":{"thinking":false}"#, 50),
        (#","thinking":{"type":"disabled"}"#, 50),
        (#","thinking":{"type":"disabled"},"chat_template_kwargs":{"enable_thinking":true}"#, 100),
        (#","chat_template_kwargs":{"enable_thinking":true},"reasoning_effort":"none""#, 50),
    ])
    func theEstimateTakesTheDefaultOutputOfTheRequestsMode(fields: String, output: Int) async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Think about it."}]"# + fields + "}"
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(request: JSONValue.parse(body))
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: output))
    }

    /// A completion's prompt has no template to open a thinking block: without `max_tokens` it is
    /// estimated at the chat-mode output, whatever `thinking` it sends.
    @Test(arguments: ["", #","thinking":{"type":"enabled"}"#])
    func aCompletionIsEstimatedInChatMode(fields: String) async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","prompt":"def add(a, b):""# + fields + "}"
        let response = try await fixture.completion(body)
        #expect(response.status == 200, "\(response.body)")
        let prompt = try ChatPromptCounter(tokenizer: .shared).countCompletion(request: JSONValue.parse(body))
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: 50))
    }

    /// A batch of completions prompts is estimated as every prompt's answer, and billed as the
    /// engine's usage over all of them.
    @Test func aBatchOfCompletionsIsEstimatedAndBilledForEveryPrompt() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","prompt":["def add(a, b):","def sub(a, b):","def mul(a, b):"],"max_tokens":5,"ignore_eos":true}"#
        let response = try await fixture.completion(body)
        #expect(response.status == 200, "\(response.body)")
        let prompt = try ChatPromptCounter(tokenizer: .shared).countCompletion(request: JSONValue.parse(body))
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: 15))
        let answer = try json(response.body)
        #expect((answer["choices"] as? [[String: Any]])?.map { $0["index"] as? Int } == [0, 1, 2])
        let usage = try #require(answer["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 15)
        #expect(usage["cost"] as? String == expectedCost(prompt: try #require(usage["prompt_tokens"] as? Int), completion: 15))
    }

    @Test func streamUsageChunkCarriesCost() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":6}"#)
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") != nil)
        let last = try json(try #require(response.events.dropLast().last))
        let usage = try #require(last["usage"] as? [String: Any])
        let prompt = try #require(usage["prompt_tokens"] as? Int)
        #expect(usage["completion_tokens"] as? Int == 6)
        #expect(usage["cost"] as? String == expectedCost(prompt: prompt, completion: 6))
    }

    /// A `max_tokens` no engine could honour would price to more nano-units than 64 bits hold:
    /// it is refused like any bad field, and the gateway goes on serving.
    @Test func aMaxTokensBeyondAnyContextIsRefusedAndTheGatewayKeepsServing() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        for field in ["max_tokens", "max_completion_tokens"] {
            let response = try await fixture.chat(
                #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"\#(field)":9000000000000000000}"#)
            #expect(response.status == 400)
            let error = try #require(try json(response.body)["error"] as? [String: Any])
            #expect(error["code"] as? String == "invalid_request")
            #expect(error["param"] as? String == field)
            #expect((error["message"] as? String)?.contains("2147483647") == true, "\(error)")
        }
        let served = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#)
        #expect(served.status == 200)
    }

    /// `n` choices each generate up to `max_tokens`: the estimate reserves all of them, and the
    /// bill is the engine's usage over all of them.
    @Test func theEstimateCoversEveryChoice() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Three ways, please."}],"n":3,"max_tokens":5}"#
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8))
        #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: 15))
        let answer = try json(response.body)
        #expect((answer["choices"] as? [Any])?.count == 3)
        let usage = try #require(answer["usage"] as? [String: Any])
        let completion = try #require(usage["completion_tokens"] as? Int)
        #expect(completion > 5 && completion <= 15)
        #expect(usage["cost"] as? String == expectedCost(prompt: try #require(usage["prompt_tokens"] as? Int), completion: completion))
    }

    /// An engine that reports no usage still gets every request billed: the client's answer gains
    /// Tollgate's own count, marked estimated, with its cost (a body from the answer's own text,
    /// a stream from its events).
    @Test func anAnswerWithoutUsageIsBilledFromTollgatesCount() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        try await fixture.setFaults(0) { $0.omitUsage = true }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Tell me more."}],"max_tokens":12}"#
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8)).tokens
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        let answer = try json(response.body)
        let message = try #require((answer["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        let generated = (message["reasoning_content"] as? String ?? "") + (message["content"] as? String ?? "")
        #expect(!generated.isEmpty)
        let usage = try #require(answer["usage"] as? [String: Any], "\(response.body)")
        #expect(usage["estimated"] as? Bool == true)
        #expect(usage["prompt_tokens"] as? Int == prompt)
        // The text counted again (reasoning and answer apart) can come to more than the 12 tokens
        // the engine generated; the bill stops at `max_tokens`.
        #expect(usage["completion_tokens"] as? Int == min(12, try DeepSeekTokenizer.shared.count(generated)))
        #expect(usage["cost"] as? String == expectedCost(prompt: prompt, completion: try #require(usage["completion_tokens"] as? Int)))

        let stream = try await fixture.chat(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Tell me more."}],"max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}"#)
        let last = try json(try #require(stream.events.dropLast().last))
        let streamed = try #require(last["usage"] as? [String: Any], "\(stream.events)")
        #expect(streamed["estimated"] as? Bool == true)
        #expect((streamed["completion_tokens"] as? Int ?? 0) > 0)
        #expect(streamed["cost"] as? String == expectedCost(prompt: prompt, completion: try #require(streamed["completion_tokens"] as? Int)))
    }

    /// The two modules agree on the bound that keeps prices inside 64 bits.
    @Test func theWireAndThePricerShareOneTokenBound() {
        #expect(TokenUsage.maxCount == MeterTokens.maxPerMeter)
    }

    @Test func aBookMissingATargetsPriceIsRefusedAtStart() async throws {
        let incomplete = Self.book.replacingOccurrences(of: "flash-pool:", with: "other-pool:")
            .replacingOccurrences(of: "list_price_target: flash-pool", with: "list_price_target: other-pool")
        await #expect(throws: (any Error).self) {
            let fixture = try await GatewayFixture.start(engines: [], extraEndpointsFirst: ["http://127.0.0.1:1/v1"], priceBook: incomplete)
            await fixture.stop()
        }
    }

    /// Long system prompts and histories come back with every turn; the gateway looks up what it
    /// counted before (`RepeatedTextCounts`). The estimate must stay the exact count: for the same
    /// request again, for the conversation one turn longer, and for one long enough to be counted
    /// off the event loop.
    @Test func repeatedHistoriesAreEstimatedFromTheExactCount() async throws {
        let fixture = try await GatewayFixture.start(priceBook: Self.book)
        defer { Task { await fixture.stop() } }
        func conversation(turns: Int, length: Int) -> String {
            func message(_ role: String, _ text: String) -> String {
                #"{"role":"\#(role)","content":"\#(text)"}"#
            }
            var messages = [message("system", String(repeating: "You answer briefly. ", count: length / 20))]
            for turn in 1...turns {
                messages.append(message("user", "Question \(turn): " + String(repeating: "what is \(turn)? ", count: length / 12)))
                if turn < turns {
                    messages.append(message("assistant", "Answer \(turn): " + String(repeating: "它是 \(turn)。", count: length / 10)))
                }
            }
            return #"{"model":"deepseek-v4-flash","messages":[\#(messages.joined(separator: ","))],"max_tokens":8}"#
        }
        for body in [conversation(turns: 3, length: 2_000), conversation(turns: 3, length: 2_000), conversation(turns: 4, length: 2_000),
                     conversation(turns: 4, length: 12_000), conversation(turns: 5, length: 12_000)] {
            let response = try await fixture.chat(body)
            #expect(response.status == 200)
            let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8))
            #expect(response.headers.first(name: "x-tollgate-cost-estimate") == expectedCost(prompt: prompt.tokens, completion: 8),
                    "\(body.utf8.count) bytes")
        }
    }

    /// `GET /admin/stats` shows how well the table of repeated texts works: a long conversation
    /// sent once misses, sent again hits and adds no miss; short requests are neither.
    @Test func adminStatsCountTheTableOfRepeatedTexts() async throws {
        let token = "admin-token-for-stats"
        let fixture = try await GatewayFixture.start(priceBook: Self.book, adminToken: token)
        defer { Task { await fixture.stop() } }
        func table() async throws -> [String: Any]? {
            let response = try await fixture.client.send(.GET, fixture.base + "/admin/stats", headers: [("authorization", "Bearer \(token)")])
            #expect(response.status == 200)
            #expect(response.headers.first(name: "cache-control") == "no-store")
            let body = try json(response.body)
            #expect(body["object"] as? String == "stats")
            return body["repeated_texts"] as? [String: Any]
        }
        let empty = try #require(try await table())
        #expect(empty["slots"] as? Int == 16_384)
        #expect(empty["minimum_bytes"] as? Int == 1_024)
        #expect(empty["hits"] as? Int == 0 && empty["misses"] as? Int == 0)
        let noRenderings = try #require(empty["renderings"] as? [String: Any])
        #expect(noRenderings["capacity"] as? Int == 512 && noRenderings["kept"] as? Int == 0)
        #expect(noRenderings["hits"] as? Int == 0 && noRenderings["misses"] as? Int == 0)

        #expect(try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Hi"}]}"#).status == 200)
        let history = String(repeating: "The same long system prompt, sent with every turn. ", count: 60)
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"system","content":"\#(history)"},{"role":"user","content":"Hi"}],"max_tokens":8}"#
        #expect(try await fixture.chat(body).status == 200)
        let first = try #require(try await table())
        let misses = try #require(first["misses"] as? Int)
        #expect(misses > 0)
        #expect(first["hits"] as? Int == 0)
        #expect(try await fixture.chat(body).status == 200)
        let second = try #require(try await table())
        #expect(second["misses"] as? Int == misses)
        #expect((second["hits"] as? Int ?? 0) >= 1)

        // An agent's tool call, sent again with the next turn, is rendered once.
        let call = #"{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"found"}"#
        let agent = #"{"model":"deepseek-v4-flash","messages":[{"role":"system","content":"\#(history)"},{"role":"user","content":"Find x."},\#(call),{"role":"user","content":"Thanks."}],"max_tokens":8}"#
        for _ in 0..<2 { #expect(try await fixture.chat(agent).status == 200) }
        let renderings = try #require(try await table()?["renderings"] as? [String: Any])
        #expect(renderings["kept"] as? Int == 1)
        #expect(renderings["hits"] as? Int == 1 && renderings["misses"] as? Int == 1)

        // A team key is not an admin token.
        let refused = try await fixture.client.send(.GET, fixture.base + "/admin/stats", headers: GatewayFixture.auth)
        #expect(refused.status == 401)
        #expect(errorCode(refused.body) == "invalid_admin_token")

        // Without a price book there is no table.
        let unpriced = try await GatewayFixture.start(adminToken: token)
        defer { Task { await unpriced.stop() } }
        let stats = try await unpriced.client.send(.GET, unpriced.base + "/admin/stats", headers: [("authorization", "Bearer \(token)")])
        #expect(stats.status == 200)
        #expect(try json(stats.body)["repeated_texts"] is NSNull)
    }

    /// Prices change without a restart: `POST /admin/price-book/reload` puts an edited book in
    /// force for the requests that follow. An edit that fails a check (a negative price, another
    /// currency, a missing file) is refused with file, line and reason, and the running book keeps
    /// pricing every request.
    @Test func aReloadedBookPricesTheNextRequestsAndARefusedOneChangesNothing() async throws {
        let token = "admin-token-for-reloads"
        let admin = [("authorization", "Bearer \(token)")]
        let fixture = try await GatewayFixture.start(priceBook: Self.book, adminToken: token)
        defer { Task { await fixture.stop() } }
        let path = try #require(fixture.gateway.configuration.priceBookPath)
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"How much now?"}],"max_tokens":8}"#
        let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8)).tokens
        func priced() async throws -> (estimate: String?, cost: String?, usage: [String: Any]) {
            let response = try await fixture.chat(body)
            #expect(response.status == 200)
            let usage = try #require(try json(response.body)["usage"] as? [String: Any])
            return (response.headers.first(name: "x-tollgate-cost-estimate"), usage["cost"] as? String, usage)
        }
        func shown() async throws -> [String: Any] {
            let response = try await fixture.client.send(.GET, fixture.base + "/admin/price-book", headers: admin)
            #expect(response.status == 200)
            return try json(response.body)
        }
        func reload() async throws -> TestResponse {
            try await fixture.client.send(.POST, fixture.base + "/admin/price-book/reload", headers: admin)
        }

        #expect(try await priced().estimate == expectedCost(prompt: prompt, completion: 8))
        let before = try await shown()
        #expect(before["object"] as? String == "price_book" && before["in_force"] as? String == "test-v1")
        #expect(before["file"] as? String == path && before["currency"] as? String == "USD")
        #expect(before["last_refusal"] is NSNull)

        // A second version, already in effect, doubles every price.
        let doubled = Self.book + """

              - id: test-v2
                effective_from: "2026-06-01T00:00:00Z"
                targets:
                  flash-pool:
                    kind: upstream
                    models:
                      deepseek-v4-flash: {input_cache_hit: "0.20", input_cache_miss: "2.00", output: "4.00"}
            """
        try doubled.write(toFile: path, atomically: true, encoding: .utf8)
        let accepted = try await reload()
        #expect(accepted.status == 200)
        let loaded = try json(accepted.body)
        #expect(loaded["in_force"] as? String == "test-v2")
        #expect((loaded["versions"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["test-v1", "test-v2"])
        func doubledCost(prompt: Int, completion: Int) -> String {
            Money(nanos: Int64(prompt * 2000 + completion * 4000), currency: "USD").decimalString
        }
        let after = try await priced()
        #expect(after.estimate == doubledCost(prompt: prompt, completion: 8))
        let completion = try #require(after.usage["completion_tokens"] as? Int)
        let reportedPrompt = try #require(after.usage["prompt_tokens"] as? Int)
        #expect(after.cost == doubledCost(prompt: reportedPrompt, completion: completion))

        // Each refused edit names the file, the line and the reason; test-v2 keeps pricing.
        let negative = doubled.replacingOccurrences(of: #"output: "4.00""#, with: #"output: "-4.00""#)
        let negativeLine = try #require(negative.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("-4.00") }) + 1
        let otherCurrency = doubled.replacingOccurrences(of: "currency: USD", with: "currency: EUR")
        // test-v1 has priced requests: under its id the book must keep saying what they cost.
        let pastChanged = doubled.replacingOccurrences(of: #"output: "2.00""#, with: #"output: "2.50""#)
        let pastLine = try #require(pastChanged.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("id: test-v1") }) + 1
        for (text, expected) in [
            (negative, "\(path):\(negativeLine):"), (otherCurrency, "\(path):1: currency is EUR but the running book's is USD"),
            (pastChanged, "\(path):\(pastLine): version 'test-v1' differs from the running one"),
            (nil, "\(path): cannot read the file"),
        ] {
            if let text { try text.write(toFile: path, atomically: true, encoding: .utf8) } else { try FileManager.default.removeItem(atPath: path) }
            let refused = try await reload()
            #expect(refused.status == 422)
            #expect(errorCode(refused.body) == "invalid_price_book")
            let message = try #require((try json(refused.body)["error"] as? [String: Any])?["message"] as? String)
            #expect(message.contains(expected), "\(message)")
            let shownAfter = try await shown()
            #expect(shownAfter["in_force"] as? String == "test-v2")
            // The book shown says the file on disk was refused, and why.
            let lastRefusal = try #require(shownAfter["last_refusal"] as? [String: Any])
            #expect((lastRefusal["reason"] as? String)?.contains(expected) == true)
            #expect(lastRefusal["at"] is String)
            #expect(try await priced().estimate == doubledCost(prompt: prompt, completion: 8))
        }

        // A good file again clears the refusal.
        try doubled.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await reload().status == 200)
        #expect(try await shown()["last_refusal"] is NSNull)

        // Only the admin token reloads; GET is the only other method.
        let teamKey = try await fixture.client.send(.POST, fixture.base + "/admin/price-book/reload", headers: GatewayFixture.auth)
        #expect(teamKey.status == 401)
        let wrongMethod = try await fixture.client.send(.GET, fixture.base + "/admin/price-book/reload", headers: admin)
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers.first(name: "allow") == "POST")

        // A gateway without a price book has none to show or reload.
        let unpriced = try await GatewayFixture.start(adminToken: token)
        defer { Task { await unpriced.stop() } }
        for (method, route) in [(HTTPMethod.GET, "/admin/price-book"), (.POST, "/admin/price-book/reload")] {
            let response = try await unpriced.client.send(method, unpriced.base + route, headers: admin)
            #expect(response.status == 404)
            #expect(errorCode(response.body) == "price_book_not_configured")
        }
    }
}
