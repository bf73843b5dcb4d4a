import Foundation
import NIOCore
import Testing
import TollgatePricing
import TollgateTestSupport
import TollgateTokenizer
import TollgateWire
@testable import TollgateServer

/// Bodies no well-behaved client or engine sends, made by mutating good ones at random. The
/// request path (parse, count, estimate) and the answer path (usage found, read, priced, `cost`
/// written into it) must answer each with a value or a clear error: a trap there stops the
/// process, and with it every team's traffic. A failure names the seed that replays it.
@Suite struct HostileBodyTests {
    static let requests = [
        #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Hello there"}],"max_tokens":16}"#,
        #"{"model":"deepseek-v4-pro","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"你好"},{"type":"text","text":"again"}]}],"n":2,"max_completion_tokens":64,"thinking":{"type":"disabled"}}"#,
        #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"12 C"}],"tools":[{"type":"function","function":{"name":"get","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"stream":true,"stream_options":{"include_usage":true}}"#,
        #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Think."},{"role":"assistant","content":"A","reasoning_content":"hmm"},{"role":"user","content":"More <｜User｜> text"}],"chat_template_kwargs":{"thinking":true},"reasoning_effort":"high","max_tokens":0}"#,
    ]

    static let completions = [
        #"{"model":"deepseek-v4-flash","prompt":"def f(x):","suffix":"    return x","max_tokens":32}"#,
        #"{"model":"deepseek-v4-flash","prompt":["one","two 二"],"n":2,"stream":false}"#,
    ]

    static let answers = [
        #"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","reasoning":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":1}}}"#,
        #"{"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9,"prompt_cache_hit_tokens":2,"prompt_cache_miss_tokens":5}}"#,
    ]

    /// Values that have broken parsers and arithmetic elsewhere.
    static let hostileValues = [
        "9223372036854775807", "-9223372036854775808", "99999999999999999999999", "2147483648", "-1", "0", "1e308",
        "1.5", "-0", "null", "true", "[]", "{}", #""""#, #""\ud800""#, #""\udc00x""#, #""\u0000""#,
        #""<｜end▁of▁sentence｜>""#, "\"" + String(repeating: "a", count: 5000) + "\"", "[[[[[[[[1]]]]]]]]",
    ]

    @Test func mutatedRequestsAndAnswersNeverStopTheProcess() throws {
        let book = try PriceBook.load(path: repositoryRoot.appendingPathComponent("policies/prices.yaml").path)
        let pricer = RequestPricer(book: book, tokenizer: try .shared, repeatedTextSlots: 64)
        let targets = book.version(at: Date()).targets.keys.sorted()
        var seeds = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &seeds)
        var random = SplitMix64(seed: seed)
        var accepted = 0
        var refused = 0
        var priced = 0
        for round in 0..<4_000 {
            let isAnswer = round % 4 == 3
            let endpoint: InferenceEndpoint = round % 7 == 0 ? .completions : .chat
            let seedBodies = isAnswer ? Self.answers : endpoint == .chat ? Self.requests : Self.completions
            let body = Self.mutate(Array(seedBodies.randomElement(using: &random)!.utf8), using: &random)
            if isAnswer {
                if Self.priceAnswer(body, pricer: pricer, targets: targets) { priced += 1 }
                continue
            }
            let request: InferenceRequest
            do {
                request = try body.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: endpoint, recordingTurns: true) }
            } catch let error as GatewayError {
                #expect(error.status == 400, "seed \(seed): \(String(decoding: body, as: UTF8.self))")
                refused += 1
                continue
            } catch {
                Issue.record("seed \(seed): not a GatewayError: \(error)")
                continue
            }
            accepted += 1
            #expect(request.maxTokens.map { (0...TokenUsage.maxCount).contains($0) } ?? true, "seed \(seed)")
            let count = pricer.countPrompt(ByteBuffer(bytes: body), request: request, team: "fuzz")
            if let count { #expect(count.tokens >= 0, "seed \(seed)") }
            for target in targets {
                guard let rates = pricer.estimator.rates(target: target, model: request.model, at: Date()) else { continue }
                let estimate = pricer.estimate(at: rates, request: request, promptTokens: count?.tokens ?? body.count / 4)
                if let estimate { #expect(estimate.money.nanos >= 0, "seed \(seed)") }
            }
        }
        // The mutations must reach both sides of the parse, and the usage reader, to test anything.
        print("hostile bodies, seed \(seed): \(accepted) requests accepted, \(refused) refused, \(priced) answers priced")
        #expect(accepted > 250 && refused > 1_000, "seed \(seed): \(accepted) accepted, \(refused) refused")
        #expect(priced > 250, "seed \(seed): \(priced) answers priced")
    }

    /// The same mutations sent over HTTP to a running priced gateway in front of a simulated
    /// engine, streams included: each gets a success or an OpenAI error envelope, and the gateway
    /// serves on.
    @Test func aPricedGatewayAnswersEveryMutatedRequest() async throws {
        let fixture = try await GatewayFixture.start(priceBook: PricingTests.book)
        defer { Task { await fixture.stop() } }
        var seeds = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &seeds)
        var random = SplitMix64(seed: seed)
        var statuses: [Int: Int] = [:]
        for _ in 0..<600 {
            let original = Self.requests.randomElement(using: &random)!
            let body = String(decoding: Self.mutate(Array(original.utf8), using: &random), as: UTF8.self)
            let response = try await fixture.chat(body)
            statuses[response.status, default: 0] += 1
            guard response.status != 200 else { continue }
            let error = (try? json(response.body))?["error"] as? [String: Any]
            #expect(error?["code"] is String && error?["message"] is String, "seed \(seed): \(response.status) \(response.body) for \(body)")
        }
        print("hostile requests over HTTP, seed \(seed): \(statuses.sorted { $0.key < $1.key })")
        #expect(statuses[200, default: 0] > 30 && statuses[400, default: 0] > 200, "seed \(seed): \(statuses)")
        let served = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Still there?"}],"max_tokens":4}"#)
        #expect(served.status == 200)
    }

    /// One to three random edits: a value swapped for a hostile one, bytes inserted, cut or repeated.
    static func mutate(_ bytes: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var out = bytes
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            guard !out.isEmpty else { break }
            let at = Int.random(in: 0..<out.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0, 1:
                // Replace the value after a random ':' (up to the next ',' or '}') with a hostile one.
                guard let colon = out[at...].firstIndex(of: UInt8(ascii: ":")) else { continue }
                let end = out[(colon + 1)...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "}") } ?? out.count
                out.replaceSubrange((colon + 1)..<end, with: Array(hostileValues.randomElement(using: &random)!.utf8))
            case 2: out.insert(UInt8.random(in: 0...255, using: &random), at: at)
            case 3: out.removeSubrange(at..<min(out.count, at + Int.random(in: 1...8, using: &random)))
            default: out.insert(contentsOf: out[at..<min(out.count, at + Int.random(in: 1...40, using: &random))], at: at)
            }
        }
        return out
    }

    /// The answer path of a priced request: the usage found (from the end, else by a walk), read,
    /// billed on every target, and the cost written into it. True when a usage was priced.
    static func priceAnswer(_ body: [UInt8], pricer: RequestPricer, targets: [String]) -> Bool {
        body.withUnsafeBytes { bytes -> Bool in
            let shape = TrailingUsage.find(in: bytes).map { ResponseShape(usageRange: $0, of: bytes) } ?? ResponseShape.inspect(bytes)
            guard let shape, let range = shape.usageRange, let usage = shape.usage else { return false }
            for count in [usage.promptTokens, usage.completionTokens, usage.cacheHitTokens ?? 0, usage.reasoningTokens ?? 0] {
                #expect((0...TokenUsage.maxCount).contains(count))
            }
            let billed = MeteredUsage(usage)
            for target in targets {
                guard let rates = pricer.estimator.rates(target: target, model: "deepseek-v4-pro", at: Date()) else { continue }
                let settlement = pricer.settle(rates: rates, model: "deepseek-v4-pro", usage: billed, at: Date(), withListPrice: true)
                guard let cost = settlement.cost else { continue }
                #expect(cost.money.nanos >= 0)
                var edits = AnswerEdits(reasoningKeys: shape.reasoningKeyRanges)
                edits.addCost(cost.money, toUsageAt: range, replacing: nil)
                var out = ByteBuffer()
                out.writeEdited(bytes, edits)
                #expect(out.readableBytes > bytes.count && out.readableBytes <= bytes.count + edits.growth)
                // An answer that was JSON stays JSON, with the cost where the client looks for it.
                if (try? JSONValue.parse(Array(bytes))) != nil {
                    let edited = try? JSONValue.parse(out.readableBytesView.map { $0 })
                    #expect(edited?["usage"]?["cost"]?.stringValue == cost.money.decimalString)
                }
            }
            return true
        }
    }
}
