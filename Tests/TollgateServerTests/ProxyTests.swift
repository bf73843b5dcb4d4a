import Foundation
import Testing
import TollgateEngineSim
import TollgateRouting

@Suite(.serialized) struct ProxyTests {
    // Room for the default reasoning (16 tokens) and some content.
    let chatBody = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}"#

    @Test func nonStreamingIsProxiedWithTargetAndRequestID() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(chatBody, headers: GatewayFixture.auth + [("x-request-id", "client-id-1")])
        #expect(response.status == 200)
        #expect(response.headers.first(name: "x-tollgate-target") == "flash-pool")
        #expect(response.headers.first(name: "x-request-id") == "client-id-1")
        let body = try json(response.body)
        // The client asked for the public name, whatever the engine calls itself.
        let choices = try #require(body["choices"] as? [[String: Any]])
        let message = try #require(choices.first?["message"] as? [String: Any])
        #expect((message["content"] as? String)?.isEmpty == false)
        // vLLM's `reasoning` reaches the client as `reasoning_content`.
        #expect(message["reasoning_content"] is String)
        #expect(message["reasoning"] == nil)
        let usage = try #require(body["usage"] as? [String: Any])
        #expect((usage["completion_tokens"] as? Int ?? 0) > 0)

        let generated = try await fixture.chat(chatBody)
        // Generated ids are UUID-shaped (llama.cpp's server refuses others).
        let id = try #require(generated.headers.first(name: "x-request-id"))
        #expect(UUID(uuidString: id) != nil)
    }

    @Test func streamHidesUsageChunkUnlessAsked() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let plain = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":5}"#)
        #expect(plain.status == 200, "\(plain.body)")
        #expect(plain.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
        #expect(plain.events.last == "[DONE]")
        let chunks = try plain.events.dropLast().map(json)
        #expect(!chunks.isEmpty)
        #expect(chunks.allSatisfy { ($0["choices"] as? [Any])?.isEmpty == false })
        // The gateway asked the engine for usage, which then writes `"usage":null` on every chunk;
        // this client did not ask, and sees no usage key at all, as from the engine directly.
        #expect(chunks.allSatisfy { $0["usage"] == nil }, "\(plain.events.prefix(2))")
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.contains { $0["reasoning_content"] is String })
        #expect(!deltas.contains { $0["reasoning"] != nil })

        let withUsage = try await fixture.chat(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5}"#)
        let last = try json(try #require(withUsage.events.dropLast().last))
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        let usage = try #require(last["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 5)
        #expect(withUsage.events.last == "[DONE]")
    }

    @Test func toolCallDeltasStreamThroughIntact() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","stream":true,"tool_choice":"required","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}"#
        let response = try await fixture.chat(body)
        #expect(response.status == 200)
        var name: String?
        var arguments = ""
        var finish: String?
        for event in response.events.dropLast() {
            let chunk = try json(event)
            guard let choice = (chunk["choices"] as? [[String: Any]])?.first else { continue }
            if let reason = choice["finish_reason"] as? String { finish = reason }
            let calls = (choice["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]] ?? []
            for call in calls {
                let function = call["function"] as? [String: Any]
                if let n = function?["name"] as? String { name = n }
                arguments += function?["arguments"] as? String ?? ""
            }
        }
        #expect(name == "get_weather")
        #expect(finish == "tool_calls")
        let parsed = try json(arguments)
        #expect(parsed["city"] is String)
    }

    @Test func failsOverToTheNextEndpointWhenRefused() async throws {
        let dead = try closedPort()
        let fixture = try await GatewayFixture.start(extraEndpointsFirst: ["http://127.0.0.1:\(dead)/v1"])
        defer { Task { await fixture.stop() } }
        for _ in 0..<4 {
            let response = try await fixture.chat(chatBody)
            #expect(response.status == 200)
            #expect(response.headers.first(name: "x-tollgate-target") == "flash-pool")
        }
        #expect(fixture.engineStats(0).requests == 4)
    }

    @Test func clientDisconnectAbortsTheEngineRequest() async throws {
        var slow = EngineSimConfiguration(model: "DeepSeek-V4-Flash")
        slow.prefillBaseMs = 1
        slow.decodeMsPerToken = 20
        let fixture = try await GatewayFixture.start(engines: [slow])
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"write a lot"}],"stream":true,"max_tokens":400}"#
        let partial = try await fixture.client.sendAndDisconnect(
            fixture.base + "/v1/chat/completions", body: body, headers: GatewayFixture.auth, afterParts: 2)
        #expect(partial.status == 200)
        // The gateway must close its upstream connection at once; the engine counts an abort.
        var aborts = 0
        for _ in 0..<50 {
            aborts = fixture.engineStats(0).aborts
            if aborts > 0 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(aborts == 1)
    }

    @Test func modelsHealthAndReadiness() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let models = try await fixture.client.send(.GET, fixture.base + "/v1/models", headers: GatewayFixture.auth)
        #expect(models.status == 200)
        let ids = (try json(models.body)["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids == ["deepseek-v4-flash"])
        let unauthenticated = try await fixture.client.send(.GET, fixture.base + "/v1/models")
        #expect(unauthenticated.status == 401)
        #expect(try await fixture.client.send(.GET, fixture.base + "/healthz").status == 200)
        #expect(try await fixture.client.send(.GET, fixture.base + "/readyz").status == 200)
    }

    /// A key limited to some models sees only those in `/v1/models`, as OpenAI lists only the
    /// models a key can reach.
    @Test func modelsListsOnlyWhatTheKeyMayUse() async throws {
        let proOnly = "sk-test-team-b-0123456789"
        let fixture = try await GatewayFixture.start(
            extraTargets: """
                  - name: pro-pool
                    kind: pool
                    engine: vllm
                    models: [deepseek-v4-pro]
                    endpoints: [http://127.0.0.1:\(try closedPort())/v1]

                """,
            extraTeams: """
                  - name: team-b
                    key_sha256: \(TeamKey.hex(TeamKey.hash(proOnly)))
                    models: [deepseek-v4-pro]

                """)
        defer { Task { await fixture.stop() } }
        func ids(_ key: String) async throws -> [String]? {
            let answer = try await fixture.client.send(.GET, fixture.base + "/v1/models", headers: [("authorization", "Bearer \(key)")])
            #expect(answer.status == 200)
            return (try json(answer.body)["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        }
        #expect(try await ids(GatewayFixture.key) == ["deepseek-v4-flash", "deepseek-v4-pro"])
        #expect(try await ids(proOnly) == ["deepseek-v4-pro"])
        let refused = try await fixture.chat(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#, headers: [("authorization", "Bearer \(proOnly)")])
        #expect(refused.status == 403)
    }
}
