import Foundation
import NIOHTTP1
import Testing
import TollgateEngineSim

@Suite(.serialized) struct ErrorTests {
    @Test func clientErrorsHaveEnvelopesAndStableCodes() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let cases: [(body: String, headers: [(String, String)], status: Int, code: String)] = [
            (#"{"model":"nope","messages":[]}"#, GatewayFixture.auth, 404, "model_not_found"),
            (#"{"model":"deepseek-v4-flash","messages":[}"#, GatewayFixture.auth, 400, "invalid_json"),
            (#"{"model":"deepseek-v4-flash","messages":"hi"}"#, GatewayFixture.auth, 400, "invalid_request"),
            (#"{"model":"deepseek-v4-flash","messages":[],"max_tokens":"9"}"#, GatewayFixture.auth, 400, "invalid_request"),
            (#"{"model":"deepseek-v4-flash","messages":[]}"#, [], 401, "invalid_api_key"),
            (#"{"model":"deepseek-v4-flash","messages":[]}"#, [("authorization", "Bearer wrong")], 401, "invalid_api_key"),
        ]
        for item in cases {
            let response = try await fixture.chat(item.body, headers: item.headers)
            #expect(response.status == item.status, "\(item.body)")
            #expect(errorCode(response.body) == item.code, "\(item.body): \(response.body)")
            let error = try json(response.body)["error"] as? [String: Any]
            #expect((error?["message"] as? String)?.isEmpty == false)
            #expect(error?["type"] is String)
            #expect(response.headers.first(name: "x-request-id") != nil)
            #expect(response.headers.first(name: "x-tollgate-target") != nil)
        }
        let unknownPath = try await fixture.client.send(.GET, fixture.base + "/v2/nothing")
        #expect(unknownPath.status == 404)
    }

    /// A 405 names the methods the path takes, in `Allow` (RFC 9110 requires it) and the message.
    @Test func aWrongMethodIs405WithTheAllowedOnes() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        for (method, path, allowed) in [
            (HTTPMethod.GET, "/v1/chat/completions", "POST"), (.PUT, "/v1/completions", "POST"), (.POST, "/v1/models", "GET"),
        ] {
            let response = try await fixture.client.send(method, fixture.base + path, headers: GatewayFixture.auth)
            #expect(response.status == 405, "\(method) \(path)")
            #expect(response.headers.first(name: "allow") == allowed, "\(method) \(path)")
            #expect(errorCode(response.body) == "method_not_allowed")
            #expect(response.body.contains("(allowed: \(allowed))"), "\(response.body)")
        }
        let served = try await fixture.client.send(.GET, fixture.base + "/v1/models", headers: GatewayFixture.auth)
        #expect(served.status == 200)
        #expect(served.headers.first(name: "allow") == nil)
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let fixture = try await GatewayFixture.start(maxBodyBytes: 4096)
        defer { Task { await fixture.stop() } }
        let big = String(repeating: "x", count: 10_000)
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"\#(big)"}]}"#)
        #expect(response.status == 413)
        #expect(errorCode(response.body) == "request_too_large")
    }

    @Test func defaultLimitAdmitsAMillionTokenPrompt() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        // About 1M tokens of English is ~4 MB; the engine's context check (131072) answers, not the size limit.
        let text = String(repeating: "word ", count: 900_000)
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"\#(text)"}],"max_tokens":1}"#)
        #expect(response.status == 400)
        #expect(errorCode(response.body) == "context_length_exceeded")
    }

    @Test func engineContextErrorPassesThroughNormalised() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":200000}"#)
        #expect(response.status == 400)
        #expect(errorCode(response.body) == "context_length_exceeded")
        let message = (try json(response.body)["error"] as? [String: Any])?["message"] as? String
        #expect(message?.contains("maximum context length is 131072 tokens") == true)
        #expect(response.headers.first(name: "x-tollgate-target") == "flash-pool")
    }

    @Test func unreachableEnginesAre502() async throws {
        let dead = try closedPort()
        let fixture = try await GatewayFixture.start(engines: [], extraEndpointsFirst: ["http://127.0.0.1:\(dead)/v1"])
        defer { Task { await fixture.stop() } }
        // The startup probe already marked the only endpoint down: nothing healthy is left.
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(response.status == 503)
        #expect(errorCode(response.body) == "no_healthy_target")
        #expect(try await fixture.client.send(.GET, fixture.base + "/readyz").status == 503)
    }

    @Test func engineThatStopsAcceptingIs502ThenNoHealthyTarget() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        try await fixture.setFaults(0) { $0.refuseConnections = true }
        let first = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#)
        #expect([502, 503].contains(first.status))
        #expect(["upstream_unreachable", "no_healthy_target"].contains(errorCode(first.body) ?? ""))
        let second = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(second.status == 503)
        #expect(errorCode(second.body) == "no_healthy_target")
    }

    @Test func stalledEngineIs504() async throws {
        var stalled = EngineSimConfiguration(model: "DeepSeek-V4-Flash", instant: true)
        stalled.faults.stallMs = 2000
        let fixture = try await GatewayFixture.start(engines: [stalled], firstByteMs: 200)
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(response.status == 504)
        #expect(errorCode(response.body) == "upstream_timeout")
    }

    @Test func engineServerErrorIs502WithEnvelope() async throws {
        var failing = EngineSimConfiguration(model: "DeepSeek-V4-Flash", instant: true)
        failing.faults.errorRate = 1
        let fixture = try await GatewayFixture.start(engines: [failing])
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(response.status == 502)
        #expect(errorCode(response.body) != nil)
    }

    @Test func errorAfterStreamStartIsAFinalSSEErrorEvent() async throws {
        var dropping = EngineSimConfiguration(model: "DeepSeek-V4-Flash", instant: true)
        dropping.faults.dropAfterChunks = 3
        let fixture = try await GatewayFixture.start(engines: [dropping])
        defer { Task { await fixture.stop() } }
        let response = try await fixture.chat(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":50}"#)
        #expect(response.status == 200)
        let events = response.events
        #expect(events.last == "[DONE]")
        let error = try json(events[events.count - 2])
        #expect((error["error"] as? [String: Any])?["code"] as? String == "upstream_disconnected")
    }
}
