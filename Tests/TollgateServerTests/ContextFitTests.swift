import Foundation
import NIOPosix
import Testing
import TollgateEngineSim
import TollgateTokenizer

/// Targets whose context (`max_model_len`) cannot hold a chat's prompt and its answer are not
/// tried; when none can, the gateway refuses as the engine would, and no engine is asked.
@Suite(.serialized) struct ContextFitTests {
    /// The pricing tests' book with a second pool at the same prices, so the book plays no part
    /// in where a request goes.
    static let book = PricingTests.book + """

              long-pool:
                kind: upstream
                models:
                  deepseek-v4-flash: {input_cache_hit: "0.10", input_cache_miss: "1.00", output: "2.00"}
        """

    /// `flash-pool` (engine 0) holds 300 tokens, `long-pool` (`long`) 4,000; the simulators
    /// themselves hold far more, so every refusal seen here is the gateway's.
    struct TwoPools {
        var fixture: GatewayFixture
        var long: EngineSimulator

        /// `smallEngineHolds`: the context of engine 0 itself (the simulator refuses as vLLM does).
        static func start(priceBook: String? = ContextFitTests.book, smallEngineHolds: Int = 131_072) async throws -> TwoPools {
            var engine = EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072, instant: true)
            let long = try await EngineSimulator.start(engine, host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton)
            let extra = """
                  - name: long-pool
                    kind: pool
                    engine: vllm
                    models: [{deepseek-v4-flash: DeepSeek-V4-Flash}]
                    max_model_len: 4000
                    endpoints: [http://127.0.0.1:\(long.port)/v1]

                """
            engine.maxModelLen = smallEngineHolds
            let fixture = try await GatewayFixture.start(
                engines: [engine], maxModelLen: 300, extraTargets: extra, priceBook: priceBook, adminToken: MetricsTests.adminToken)
            return TwoPools(fixture: fixture, long: long)
        }

        func stop() async {
            await fixture.stop()
            try? await long.shutdown()
        }

        /// Requests each engine received: (flash-pool, long-pool).
        var requests: (Int, Int) { (fixture.engineStats(0).requests, long.stats().requests) }

        /// `tollgate_context_skips_total` of each pool, from `/admin/metrics`: (flash-pool, long-pool).
        func skips() async throws -> (String?, String?) {
            let scrape = try await fixture.client.send(.GET, fixture.base + "/admin/metrics", headers: MetricsTests.admin)
            let values = MetricsTests.parse(scrape.body)
            return (values[#"tollgate_context_skips_total{target="flash-pool"}"#], values[#"tollgate_context_skips_total{target="long-pool"}"#])
        }
    }

    static func chat(_ content: String, maxTokens: Int?) -> String {
        #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"\#(content)"}]"#
            + (maxTokens.map { #","max_tokens":\#($0)"# } ?? "") + "}"
    }

    static func promptTokens(_ body: String) throws -> Int {
        let count = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8))
        #expect(count.exact)
        return count.tokens
    }

    @Test func aRequestGoesPastTheTargetsTooSmallForIt() async throws {
        let stack = try await TwoPools.start()
        defer { Task { await stack.stop() } }

        let short = Self.chat("hi", maxTokens: 16)
        #expect(try Self.promptTokens(short) + 16 <= 300)
        let first = try await stack.fixture.chat(short)
        #expect(first.status == 200)
        #expect(first.headers.first(name: "x-tollgate-target") == "flash-pool")

        // The prompt fits the small pool; with its answer it does not.
        let longAnswer = Self.chat("hi", maxTokens: 1_000)
        let second = try await stack.fixture.chat(longAnswer)
        #expect(second.status == 200, "\(second.body)")
        #expect(second.headers.first(name: "x-tollgate-target") == "long-pool")

        // Without max_tokens the prompt alone decides; about 1,000 tokens of text.
        let longPrompt = Self.chat(String(repeating: "the quick brown fox ", count: 250), maxTokens: nil)
        let prompt = try Self.promptTokens(longPrompt)
        #expect(prompt > 300 && prompt < 4_000)
        let third = try await stack.fixture.chat(longPrompt)
        #expect(third.status == 200, "\(third.body)")
        #expect(third.headers.first(name: "x-tollgate-target") == "long-pool")

        #expect(stack.requests == (1, 2))
        #expect(try await stack.skips() == ("2", "0"))
    }

    /// An answer that fits exactly is sent; one token more is not.
    @Test func theLimitCountsThePromptAndMaxTokensTogether() async throws {
        let stack = try await TwoPools.start()
        defer { Task { await stack.stop() } }
        let prompt = try Self.promptTokens(Self.chat("hi", maxTokens: 1))
        let exact = try await stack.fixture.chat(Self.chat("hi", maxTokens: 300 - prompt))
        #expect(exact.headers.first(name: "x-tollgate-target") == "flash-pool")
        let over = try await stack.fixture.chat(Self.chat("hi", maxTokens: 300 - prompt + 1))
        #expect(over.headers.first(name: "x-tollgate-target") == "long-pool")
    }

    @Test func whenNoTargetHoldsItTheGatewayRefusesAndNoEngineIsAsked() async throws {
        let stack = try await TwoPools.start()
        defer { Task { await stack.stop() } }

        let body = Self.chat("hi", maxTokens: 5_000)
        let prompt = try Self.promptTokens(body)
        let refused = try await stack.fixture.chat(body)
        #expect(refused.status == 400)
        #expect(refused.headers.first(name: "x-tollgate-target") == "none")
        let error = try #require(try json(refused.body)["error"] as? [String: Any])
        #expect(error["code"] as? String == "context_length_exceeded")
        #expect(error["param"] as? String == "messages")
        #expect(
            error["message"] as? String
                == "This model's maximum context length is 4000 tokens. However, you requested \(prompt + 5_000) tokens "
                + "(\(prompt) in the messages, 5000 in the completion). Please reduce the length of the messages or completion.")

        // A prompt over 32 KiB is counted off the event loop: the same refusal from there.
        let huge = Self.chat(String(repeating: "the quick brown fox ", count: 2_000), maxTokens: nil)
        #expect(huge.utf8.count > 32 * 1024)
        let hugePrompt = try Self.promptTokens(huge)
        let refusedHuge = try await stack.fixture.chat(huge)
        #expect(refusedHuge.status == 400)
        #expect(errorCode(refusedHuge.body) == "context_length_exceeded")
        #expect(refusedHuge.body.contains("your messages resulted in \(hugePrompt) tokens"), "\(refusedHuge.body)")

        #expect(stack.requests == (0, 0))
        #expect(try await stack.skips() == ("2", "2"))
        // The gateway goes on serving.
        #expect(try await stack.fixture.chat(Self.chat("hi", maxTokens: 4)).status == 200)
    }

    /// A count that is only an estimate (here an image part Tollgate cannot count) never refuses
    /// or skips: the engine, which knows, decides.
    @Test func anEstimatedCountLeavesTheDecisionToTheEngine() async throws {
        let stack = try await TwoPools.start()
        defer { Task { await stack.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"hi"}]}],"max_tokens":5000}"#
        let count = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(body.utf8))
        #expect(!count.exact)
        let response = try await stack.fixture.chat(body)
        #expect(response.status == 200, "\(response.body)")
        #expect(response.headers.first(name: "x-tollgate-target") == "flash-pool")
    }

    /// An engine that refuses a prompt as too long for its context is not the end: the next
    /// target configured with a longer context gets the request, priced or not. Here the count is
    /// an estimate, so the gateway itself did not skip the small pool.
    @Test(arguments: [true, false])
    func anEnginesContextRefusalMovesTheRequestToALongerTarget(priced: Bool) async throws {
        let stack = try await TwoPools.start(priceBook: priced ? Self.book : nil, smallEngineHolds: 300)
        defer { Task { await stack.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"hi"}]}],"max_tokens":1000,"stream":true}"#
        let response = try await stack.fixture.chat(body)
        #expect(response.status == 200, "\(response.body)")
        #expect(response.headers.first(name: "x-tollgate-target") == "long-pool")
        #expect(response.events.last == "[DONE]")
        #expect(stack.fixture.engineStats(0).badRequests == 1)
        #expect(stack.requests == (1, 1))
        #expect(try await stack.skips() == ("1", "0"))

        // Past the longest context the engine's refusal reaches the client, as before.
        let tooLong = try await stack.fixture.chat(body.replacingOccurrences(of: "\"max_tokens\":1000", with: "\"max_tokens\":200000"))
        #expect(tooLong.status == 400)
        #expect(errorCode(tooLong.body) == "context_length_exceeded")
        #expect(tooLong.body.contains("maximum context length is 131072"), "\(tooLong.body)")
    }

    static func completion(_ prompt: String, maxTokens: Int?, suffix: String? = nil) -> String {
        #"{"model":"deepseek-v4-flash","prompt":\#(prompt)"#
            + (suffix.map { #","suffix":"\#($0)""# } ?? "")
            + (maxTokens.map { #","max_tokens":\#($0)"# } ?? "") + "}"
    }

    static func completionTokens(_ body: String) throws -> PromptCount {
        try ChatPromptCounter(tokenizer: .shared).countCompletion(request: JSONValue.parse(Array(body.utf8)))
    }

    /// A completion is fitted like a chat, and each prompt of a batch on its own: the engine
    /// holds the prompts of a batch one by one, so their sum does not have to fit.
    @Test func aCompletionIsFittedByItsLongestPrompt() async throws {
        let stack = try await TwoPools.start()
        defer { Task { await stack.stop() } }
        let words = "\"" + String(repeating: "the quick brown fox ", count: 40) + "\""
        let one = try Self.completionTokens(Self.completion(words, maxTokens: 16))
        #expect(one.exact && one.tokens + 16 <= 300)

        // Three such prompts sum past the small pool's 300 tokens; each fits it.
        let batch = Self.completion("[\(words),\(words),\(words)]", maxTokens: 16)
        let batchCount = try Self.completionTokens(batch)
        #expect(batchCount.tokens == 3 * one.tokens && batchCount.longestPrompt == one.tokens)
        let batched = try await stack.fixture.completion(batch)
        #expect(batched.status == 200, "\(batched.body)")
        #expect(batched.headers.first(name: "x-tollgate-target") == "flash-pool")

        // One prompt too long with its answer goes past the small pool.
        let longer = try await stack.fixture.completion(Self.completion(words, maxTokens: 300 - one.tokens + 1))
        #expect(longer.status == 200, "\(longer.body)")
        #expect(longer.headers.first(name: "x-tollgate-target") == "long-pool")

        // A list of token ids is one prompt of that many tokens.
        let ids = "[" + Array(repeating: "100", count: 500).joined(separator: ",") + "]"
        let idPrompt = try await stack.fixture.completion(Self.completion(ids, maxTokens: 16))
        #expect(idPrompt.headers.first(name: "x-tollgate-target") == "long-pool")

        // None holds it: refused, naming the prompt, and no engine asked.
        let refused = try await stack.fixture.completion(Self.completion(words, maxTokens: 5_000))
        #expect(refused.status == 400)
        let error = try #require(try json(refused.body)["error"] as? [String: Any])
        #expect(error["code"] as? String == "context_length_exceeded")
        #expect(error["param"] as? String == "prompt")
        #expect((error["message"] as? String)?.contains("(\(one.tokens) in the messages, 5000 in the completion)") == true, "\(refused.body)")

        // A FIM suffix makes the count an estimate: the engine decides, so the small pool is tried.
        let fim = Self.completion(words, maxTokens: 300, suffix: "return x")
        #expect(try !Self.completionTokens(fim).exact)
        let fimResponse = try await stack.fixture.completion(fim)
        #expect(fimResponse.headers.first(name: "x-tollgate-target") == "flash-pool", "\(fimResponse.body)")

        #expect(stack.requests == (2, 2))
        #expect(try await stack.skips() == ("3", "1"))
    }

    /// An engine's refusal of a completion names the prompt, as the gateway's own refusal does.
    @Test func anEnginesRefusalOfACompletionNamesThePrompt() async throws {
        let stack = try await TwoPools.start(smallEngineHolds: 300)
        defer { Task { await stack.stop() } }
        // A FIM suffix makes the count an estimate, so the engines decide.
        let body = Self.completion("\"def f(x):\"", maxTokens: 200_000, suffix: "return x")
        let response = try await stack.fixture.completion(body)
        #expect(response.status == 400)
        let error = try #require(try json(response.body)["error"] as? [String: Any])
        #expect(error["code"] as? String == "context_length_exceeded")
        #expect(error["param"] as? String == "prompt")
        #expect(stack.requests == (1, 1))
    }

    /// Without a price book nothing is counted, so every target stays a candidate.
    @Test func withoutAPriceBookTheTargetsAreTriedInOrder() async throws {
        let stack = try await TwoPools.start(priceBook: nil)
        defer { Task { await stack.stop() } }
        let response = try await stack.fixture.chat(Self.chat("hi", maxTokens: 5_000))
        #expect(response.status == 200)
        #expect(response.headers.first(name: "x-tollgate-target") == "flash-pool")
    }
}
