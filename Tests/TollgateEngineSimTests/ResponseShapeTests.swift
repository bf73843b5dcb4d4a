import Foundation
import Testing
import TollgateEngineSim

/// Response shapes over real HTTP: what a vLLM engine serving DeepSeek V4 sends.
@Suite("Engine simulator: response shapes")
struct ResponseShapeTests {
    static let model = "deepseek-ai/DeepSeek-V4-Flash"
    static let hello = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","messages":[{"role":"user","content":"Hello there, how are you?"}]}"#

    static func instant(_ change: (inout EngineSimConfiguration) -> Void = { _ in }) -> EngineSimConfiguration {
        var configuration = EngineSimConfiguration(model: model, instant: true)
        change(&configuration)
        return configuration
    }

    @Test func nonStreamingChatHasReasoningContentAndUsage() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(Self.hello)
        #expect(response.status == 200)
        #expect(response.headers.first(name: "content-type") == "application/json")
        let body = try response.json()
        #expect(body["object"] as? String == "chat.completion")
        #expect(body["model"] as? String == Self.model)
        #expect((body["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "stop")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant")
        let content = try #require(message["content"] as? String)
        let reasoning = try #require(message["reasoning"] as? String)
        #expect(content.split(separator: " ").count == 64)
        #expect(reasoning.split(separator: " ").count == 16)
        #expect(message["reasoning_content"] == nil)
        let usage = try #require(body["usage"] as? [String: Any])
        let prompt = try #require(usage["prompt_tokens"] as? Int)
        // "Hello there, how are you?" is 25 bytes: 7 text tokens + 4 per message + 3 frame, and 79
        // for the effort preamble a thinking request without `reasoning_effort` gets.
        #expect(prompt == 93)
        #expect(usage["completion_tokens"] as? Int == 80)
        #expect(usage["total_tokens"] as? Int == prompt + 80)
        #expect((usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int == 16)

        // Deterministic: the same request gets the same text.
        let again = try await fixture.chat(Self.hello).json()
        let againContent = ((again["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        #expect(againContent == content)
        #expect(fixture.simulator.stats().completed == 2)
    }

    @Test func thinkingDisabledHasNoReasoning() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        for body in [
            #"{"model":"deepseek-ai/DeepSeek-V4-Flash","thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#,
            #"{"model":"deepseek-ai/DeepSeek-V4-Flash","reasoning_effort":"none","messages":[{"role":"user","content":"Hi"}]}"#,
        ] {
            let response = try await fixture.chat(body).json()
            let message = try #require(((response["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])
            #expect(message["reasoning"] is NSNull)
            let usage = try #require(response["usage"] as? [String: Any])
            #expect((usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int == 0)
            #expect(usage["completion_tokens"] as? Int == 64)
        }
    }

    @Test func deepSeekStyleUsesReasoningContentAndCountsCacheHits() async throws {
        let fixture = try await SimFixture.start(
            Self.instant {
                $0.reasoningField = .reasoningContent
                $0.deepSeekUsage = true
            })
        defer { Task { await fixture.stop() } }
        let system = String(repeating: "You are a careful assistant. ", count: 40)
        func body(_ question: String) -> String {
            #"{"model":"deepseek-ai/DeepSeek-V4-Flash","messages":[{"role":"system","content":"\#(system)"},{"role":"user","content":"\#(question)"}]}"#
        }
        let first = try await fixture.chat(body("What is a ledger?")).json()
        let message = try #require(((first["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])
        #expect(message["reasoning_content"] is String)
        #expect(message["reasoning"] == nil)
        let firstUsage = try #require(first["usage"] as? [String: Any])
        #expect(firstUsage["prompt_cache_hit_tokens"] as? Int == 0)
        #expect(firstUsage["prompt_cache_miss_tokens"] as? Int == firstUsage["prompt_tokens"] as? Int)

        let second = try await fixture.chat(body("And what is a budget?")).json()
        let usage = try #require(second["usage"] as? [String: Any])
        let hit = try #require(usage["prompt_cache_hit_tokens"] as? Int)
        let miss = try #require(usage["prompt_cache_miss_tokens"] as? Int)
        #expect(hit > 0 && hit % 64 == 0)
        #expect(hit + miss == usage["prompt_tokens"] as? Int)
        #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == hit)
    }

    @Test func streamWithoutUsageOption() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
        #expect(response.events.last == "[DONE]")
        let chunks = response.chunks
        #expect(chunks.count == response.events.count - 1)
        #expect(chunks.allSatisfy { $0["usage"] == nil })
        #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1)
        #expect(Set(chunks.compactMap { $0["created"] as? Int }).count == 1)
        #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        #expect(deltas.filter { $0["reasoning"] != nil }.count == 16)
        #expect(deltas.filter { ($0["content"] as? String)?.isEmpty == false }.count == 64)
        let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == ["stop"])
        #expect((chunks.last?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
    }

    @Test func streamWithUsageOptionEndsWithUsageChunk() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","stream":true,"stream_options":{"include_usage":true},"max_tokens":20,"messages":[{"role":"user","content":"Hi"}]}"#
        let response = try await fixture.chat(body)
        let chunks = response.chunks
        #expect(response.events.last == "[DONE]")
        let last = try #require(chunks.last)
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        let usage = try #require(last["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 20)
        #expect(chunks.dropLast().allSatisfy { $0["usage"] is NSNull })
        let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == ["length"])
    }

    @Test func maxTokensCutsWithLength() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","max_tokens":30,"messages":[{"role":"user","content":"Hi"}]}"#
        let response = try await fixture.chat(body).json()
        let choice = try #require((response["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "length")
        let usage = try #require(response["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 30)
        let content = try #require((choice["message"] as? [String: Any])?["content"] as? String)
        #expect(content.split(separator: " ").count == 14)
    }

    @Test func namedToolChoiceAnswersWithToolCall() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let tools = #"[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1},"detailed":{"type":"boolean"}},"required":["location"]}}},{"type":"function","function":{"name":"other","parameters":{"type":"object","properties":{}}}}]"#
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","tools":\#(tools),"tool_choice":{"type":"function","function":{"name":"get_weather"}},"messages":[{"role":"user","content":"Weather in Paris?"}]}"#
        let response = try await fixture.chat(body).json()
        let choice = try #require((response["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["content"] is NSNull)
        let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
        #expect((call["id"] as? String)?.hasPrefix("chatcmpl-tool-") == true)
        #expect(call["type"] as? String == "function")
        let function = try #require(call["function"] as? [String: Any])
        #expect(function["name"] as? String == "get_weather")
        let arguments = try jsonObject(try #require(function["arguments"] as? String))
        #expect(arguments["location"] is String)
        #expect(["celsius", "fahrenheit"].contains(arguments["unit"] as? String ?? ""))
        #expect((arguments["days"] as? Int ?? 0) >= 1)
        #expect(arguments["detailed"] is Bool)

        // Streamed: a first delta with id, type and name, then argument fragments.
        let streamBody = body.replacingOccurrences(of: #""tool_choice""#, with: #""stream":true,"tool_choice""#)
            .replacingOccurrences(of: #"{"type":"function","function":{"name":"get_weather"}}"#, with: #""required""#)
        let stream = try await fixture.chat(streamBody)
        let calls = stream.chunks.compactMap {
            (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]]
        }.compactMap(\.first)
        let first = try #require(calls.first)
        #expect((first["id"] as? String)?.hasPrefix("chatcmpl-tool-") == true)
        #expect(first["type"] as? String == "function")
        #expect((first["function"] as? [String: Any])?["name"] as? String == "get_weather")
        #expect((first["function"] as? [String: Any])?["arguments"] as? String == "")
        #expect(calls.count > 2)
        let joined = calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined()
        #expect(try jsonObject(joined)["location"] is String)
        let finishes = stream.chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == ["tool_calls"])
        #expect(stream.events.last == "[DONE]")
    }

    @Test func autoToolChoiceAnswersWithText() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"Hi"}]}"#
        let choice = try #require((try await fixture.chat(body).json()["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "stop")
        #expect(((choice["message"] as? [String: Any])?["tool_calls"] as? [Any])?.isEmpty == true)
    }

    @Test func contextLengthErrorIsVLLMShaped() async throws {
        let fixture = try await SimFixture.start(Self.instant { $0.maxModelLen = 100 })
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","max_tokens":90,"messages":[{"role":"user","content":"Hello there, how are you?"}]}"#
        let response = try await fixture.chat(body)
        #expect(response.status == 400)
        #expect(
            response.body
                == #"{"object":"error","message":"This model's maximum context length is 100 tokens. However, you requested 183 tokens (93 in the messages, 90 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#
        )
        #expect(fixture.simulator.stats().badRequests == 1)
    }

    @Test func unknownModelAndBadJSON() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let unknown = try await fixture.chat(#"{"model":"nope","messages":[]}"#)
        #expect(unknown.status == 404)
        #expect(try unknown.json()["type"] as? String == "NotFoundError")
        let broken = try await fixture.chat(#"{"model":"#)
        #expect(broken.status == 400)
        #expect(try broken.json()["object"] as? String == "error")
    }

    @Test func completionsAndFIM() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let plain = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"def add(a, b):","max_tokens":8}"#)
        let body = try plain.json()
        #expect(body["object"] as? String == "text_completion")
        #expect((body["id"] as? String)?.hasPrefix("cmpl-") == true)
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "length")
        #expect((choice["text"] as? String)?.split(separator: " ").count == 8)
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == 5)  // 14 bytes → 4, plus BOS
        #expect(usage["completion_tokens_details"] == nil)

        let fim = try await fixture.client.post(
            "/v1/completions",
            #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"def add(a, b):","suffix":"    return c","stream":true,"stream_options":{"include_usage":true},"max_tokens":5}"#)
        let chunks = fim.chunks
        #expect(chunks.allSatisfy { $0["object"] as? String == "text_completion" })
        #expect(chunks.filter { ($0["choices"] as? [[String: Any]])?.first?["text"] is String }.count == 5)
        let fimUsage = try #require(chunks.last?["usage"] as? [String: Any])
        #expect(fimUsage["prompt_tokens"] as? Int == 4 + 3 + 4)  // prompt + suffix + BOS and FIM markers
        #expect(fim.events.last == "[DONE]")

        // Without max_tokens a completion stops at 16 tokens, vLLM's default for this endpoint,
        // and the context check counts those 16.
        let unbounded = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"def add(a, b):","ignore_eos":true}"#)
        let unboundedChoice = try #require((try unbounded.json()["choices"] as? [[String: Any]])?.first)
        #expect(unboundedChoice["finish_reason"] as? String == "length")
        #expect((unboundedChoice["text"] as? String)?.split(separator: " ").count == 16)
    }

    /// A batch of prompts is answered prompt by prompt, `n` choices each, as vLLM answers it; each
    /// prompt must fit the context on its own, and the usage sums them all.
    @Test func aBatchOfPromptsGetsChoicesForEachPrompt() async throws {
        let fixture = try await SimFixture.start(Self.instant { $0.maxModelLen = 20 })
        defer { Task { await fixture.stop() } }
        // Two prompts of 14 bytes: 5 tokens each (4 and BOS); each with 15 of answer fits 20.
        let batch = try await fixture.client.post(
            "/v1/completions",
            #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":["def add(a, b):","def sub(a, b):"],"n":2,"max_tokens":15,"ignore_eos":true}"#)
        #expect(batch.status == 200, "\(batch.body)")
        let body = try batch.json()
        let choices = try #require(body["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1, 2, 3])
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == 10)
        #expect(usage["completion_tokens"] as? Int == 60)

        // A list of id lists is a batch too; one prompt too long is refused.
        let ids = "[" + Array(repeating: "[1,2,3]", count: 3).joined(separator: ",") + ",[" + Array(repeating: "7", count: 10).joined(separator: ",") + "]]"
        let refused = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":\#(ids),"max_tokens":10}"#)
        #expect(refused.status == 400)
        #expect(refused.body.contains("you requested 21 tokens (11 in the messages, 10 in the completion)"), "\(refused.body)")

        let tooMany = "[" + Array(repeating: #""a""#, count: 40).joined(separator: ",") + "]"
        let bounded = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":\#(tooMany),"n":128,"max_tokens":1}"#)
        #expect(bounded.status == 400)
        #expect(bounded.body.contains("at most 4096 choices"), "\(bounded.body)")
    }

    @Test func aCompletionWithoutMaxTokensNeedsRoomForSixteen() async throws {
        let fixture = try await SimFixture.start(Self.instant { $0.maxModelLen = 20 })
        defer { Task { await fixture.stop() } }
        // 14 bytes: 5 prompt tokens in the simulator's approximation; 5 + 16 > 20.
        let refused = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"def add(a, b):"}"#)
        #expect(refused.status == 400)
        #expect(refused.body.contains("you requested 21 tokens (5 in the messages, 16 in the completion)"), "\(refused.body)")
        let fits = try await fixture.client.post(
            "/v1/completions", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"def add(a, b):","max_tokens":15}"#)
        #expect(fits.status == 200)
    }

    @Test func severalChoicesAndLogprobs() async throws {
        let fixture = try await SimFixture.start(Self.instant())
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","n":2,"logprobs":true,"top_logprobs":2,"max_tokens":20,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"Hi"}]}"#
        let response = try await fixture.chat(body).json()
        let choices = try #require(response["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1])
        let logprobs = try #require((choices[0]["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
        #expect(logprobs.count == 20)
        #expect((logprobs[0]["top_logprobs"] as? [Any])?.count == 2)
        #expect((logprobs[0]["logprob"] as? Double ?? 1) <= 0)
        #expect((response["usage"] as? [String: Any])?["completion_tokens"] as? Int == 40)
    }

    /// A served model name with a quote and a backslash is escaped once in `/metrics`, as the
    /// text format asks (it used to be escaped twice).
    @Test func metricsEscapeTheModelNameOnce() async throws {
        let fixture = try await SimFixture.start(Self.instant { $0.model = #"org/odd"name\x"# })
        defer { Task { await fixture.stop() } }
        let text = try await fixture.client.get("/metrics").body
        #expect(text.contains(#"vllm:num_requests_running{model_name="org/odd\"name\\x"} 0.0"#), "\(text)")
    }

    @Test func modelsHealthTokenizeAndVersion() async throws {
        let fixture = try await SimFixture.start(Self.instant { $0.maxModelLen = 131_072 })
        defer { Task { await fixture.stop() } }
        let models = try await fixture.client.get("/v1/models").json()
        let entry = try #require((models["data"] as? [[String: Any]])?.first)
        #expect(entry["id"] as? String == Self.model)
        #expect(entry["max_model_len"] as? Int == 131_072)
        #expect(entry["object"] as? String == "model")
        #expect(try await fixture.client.get("/health").status == 200)

        let tokenized = try await fixture.client.post("/tokenize", #"{"messages":[{"role":"user","content":"Hello there, how are you?"}]}"#).json()
        #expect(tokenized["count"] as? Int == 93)  // equals usage.prompt_tokens of the same chat
        #expect((tokenized["tokens"] as? [Int])?.count == 93)
        let low = try await fixture.client.post(
            "/tokenize", #"{"reasoning_effort":"low","messages":[{"role":"user","content":"Hello there, how are you?"}]}"#
        ).json()
        #expect(low["count"] as? Int == 14)  // no preamble at low effort
        #expect(tokenized["max_model_len"] as? Int == 131_072)
        let prompt = try await fixture.client.post("/tokenize", #"{"model":"deepseek-ai/DeepSeek-V4-Flash","prompt":"abcdefgh"}"#).json()
        #expect(prompt["count"] as? Int == 3)
        #expect(try await fixture.client.get("/nope").status == 404)
    }
}
