import Foundation
import NIOCore
import Testing
import TollgateEngineSim
import TollgateHTTP
import NIOPosix

/// The timing model, the metrics it publishes, aborts and fault injection, over real HTTP.
@Suite("Engine simulator: timing model and faults")
struct TimingAndFaultTests {
    static let model = "deepseek-ai/DeepSeek-V4-Flash"

    static func modelled(_ change: (inout EngineSimConfiguration) -> Void = { _ in }) -> EngineSimConfiguration {
        var configuration = EngineSimConfiguration(
            model: model, outputTokens: 10, reasoningTokens: 0, prefillBaseMs: 5, prefillMsPer1kTokens: 0,
            decodeMsPerToken: 15, decodeSlowdownPerSeq: 0)
        change(&configuration)
        return configuration
    }

    static let streamBody = #"{"model":"deepseek-ai/DeepSeek-V4-Flash","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#

    @Test func secondRequestWaitsForTheOnlySlot() async throws {
        let fixture = try await SimFixture.start(Self.modelled { $0.maxNumSeqs = 1 })
        defer { Task { await fixture.stop() } }
        async let first = fixture.chat(Self.streamBody)
        // The first request must hold the slot before the second is sent (no fixed sleep: a busy
        // machine may take longer to deliver it).
        let holding = await fixture.eventually { fixture.simulator.stats().running == 1 }
        #expect(holding)
        async let second = fixture.chat(Self.streamBody.replacingOccurrences(of: "Hi", with: "Yo"))
        let (a, b) = try await (first, second)
        #expect(a.events.last == "[DONE]" && b.events.last == "[DONE]")
        let aEnd = try #require(a.firstByte).uptimeNanoseconds + UInt64((a.ended - a.firstByte!).nanoseconds)
        let bFirst = try #require(b.firstByte).uptimeNanoseconds
        // Ten tokens at 15 ms: the first stream decodes for about 135 ms. The second one's first
        // byte comes after the first one's end (a few ms of slack for scheduling).
        // (Not compared: the two times to first token. On a loaded machine the second client may
        // start sending late, near the first one's end, and then its own wait looks short.)
        #expect(bFirst + 5_000_000 >= aEnd)
        let stats = fixture.simulator.stats()
        #expect(stats.completed == 2 && stats.running == 0 && stats.waiting == 0)
    }

    @Test func timeToFirstTokenGrowsWithPromptLength() async throws {
        let fixture = try await SimFixture.start(Self.modelled { $0.prefillMsPer1kTokens = 100 })
        defer { Task { await fixture.stop() } }
        let short = try await fixture.chat(Self.streamBody)
        let long = try await fixture.chat(
            Self.streamBody.replacingOccurrences(of: "Hi", with: String(repeating: "long prompt ", count: 700)))
        // ~2,100 tokens more at 0.1 ms each: at least 150 ms later.
        let shortTTFT = try #require(short.firstByte) - short.started
        let longTTFT = try #require(long.firstByte) - long.started
        #expect(longTTFT - shortTTFT > .milliseconds(150))
    }

    @Test func metricsPublishLoadAndCounts() async throws {
        // 10 tokens at 100 ms: the first request holds the only slot for about a second, long
        // enough for the second to be seen waiting even on a busy machine.
        let fixture = try await SimFixture.start(Self.modelled { $0.maxNumSeqs = 1; $0.decodeMsPerToken = 100 })
        defer { Task { await fixture.stop() } }
        async let one = fixture.chat(Self.streamBody)
        let running = await fixture.eventually { fixture.simulator.stats().running == 1 }
        #expect(running)
        async let two = fixture.chat(Self.streamBody.replacingOccurrences(of: "Hi", with: "Yo"))
        let queued = await fixture.eventually { let s = fixture.simulator.stats(); return s.running == 1 && s.waiting == 1 }
        #expect(queued)
        let during = try await fixture.client.get("/metrics").body
        #expect(during.contains(#"vllm:num_requests_running{model_name="deepseek-ai/DeepSeek-V4-Flash"} 1.0"#))
        #expect(during.contains(#"vllm:num_requests_waiting{model_name="deepseek-ai/DeepSeek-V4-Flash"} 1.0"#))
        #expect(!during.contains(#"vllm:kv_cache_usage_perc{model_name="deepseek-ai/DeepSeek-V4-Flash"} 0.0"#))
        _ = try await (one, two)
        let after = try await fixture.client.get("/metrics")
        #expect(after.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
        let text = after.body
        #expect(text.contains(#"vllm:request_success_total{finished_reason="stop",model_name="deepseek-ai/DeepSeek-V4-Flash"} 2.0"#))
        #expect(text.contains(#"vllm:generation_tokens_total{model_name="deepseek-ai/DeepSeek-V4-Flash"} 20.0"#))
        #expect(text.contains(#"vllm:prompt_tokens_total{model_name="deepseek-ai/DeepSeek-V4-Flash"} 174.0"#))
        #expect(text.contains(#"vllm:num_requests_running{model_name="deepseek-ai/DeepSeek-V4-Flash"} 0.0"#))
        #expect(text.contains(#"vllm:kv_cache_usage_perc{model_name="deepseek-ai/DeepSeek-V4-Flash"} 0.0"#))
        #expect(text.contains(#"vllm:time_to_first_token_seconds_count{model_name="deepseek-ai/DeepSeek-V4-Flash"} 2"#))
        #expect(text.contains(#"vllm:e2e_request_latency_seconds_count{model_name="deepseek-ai/DeepSeek-V4-Flash"} 2"#))
    }

    @Test func clientDisconnectCountsAsAbort() async throws {
        let fixture = try await SimFixture.start(Self.modelled { $0.outputTokens = 200 })
        defer { Task { await fixture.stop() } }
        let partial = try await fixture.client.post("/v1/chat/completions", Self.streamBody, disconnectAfterParts: 2)
        #expect(partial.truncated)
        let aborted = await fixture.eventually { fixture.simulator.stats().aborts == 1 }
        #expect(aborted)
        let stats = fixture.simulator.stats()
        #expect(stats.running == 0 && stats.kvCacheTokens == 0 && stats.completed == 0)
        let metrics = try await fixture.client.get("/metrics").body
        #expect(metrics.contains(#"vllm:request_success_total{finished_reason="abort",model_name="deepseek-ai/DeepSeek-V4-Flash"} 1.0"#))
        let json = try await fixture.client.get("/sim/stats").json()
        #expect(json["aborts"] as? Int == 1)
        #expect(json["requests"] as? Int == 1)
    }

    @Test func fullQueueAnswers503() async throws {
        let fixture = try await SimFixture.start(Self.modelled { $0.maxNumSeqs = 1; $0.maxQueue = 0 })
        defer { Task { await fixture.stop() } }
        async let running = fixture.chat(Self.streamBody)
        // Wait until the first request holds the only slot (a fixed sleep is not enough on a busy machine).
        let holding = await fixture.eventually { fixture.simulator.stats().running == 1 }
        #expect(holding)
        let refused = try await fixture.chat(Self.streamBody)
        #expect(refused.status == 503)
        #expect(try refused.json()["object"] as? String == "error")
        #expect(try await running.status == 200)
        #expect(fixture.simulator.stats().rejected == 1)
    }

    @Test func errorRateOneAnswers500AndHalfFailsEveryOther() async throws {
        var configuration = EngineSimConfiguration(model: Self.model, instant: true)
        configuration.faults.errorRate = 1
        let fixture = try await SimFixture.start(configuration)
        defer { Task { await fixture.stop() } }
        let failed = try await fixture.chat(ResponseShapeTests.hello)
        #expect(failed.status == 500)
        #expect(try failed.json()["type"] as? String == "InternalServerError")
        try await fixture.simulator.setFaults(EngineSimFaults(errorRate: 0.5))
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await fixture.chat(ResponseShapeTests.hello).status) }
        #expect(statuses.filter { $0 == 500 }.count == 2)
        #expect(fixture.simulator.stats().injectedErrors == 3)
    }

    @Test func refusingConnectionsClosesThePortUntilLifted() async throws {
        let fixture = try await SimFixture.start(EngineSimConfiguration(model: Self.model, instant: true))
        defer { Task { await fixture.stop() } }
        #expect(try await fixture.chat(ResponseShapeTests.hello).status == 200)
        try await fixture.simulator.setFaults(EngineSimFaults(refuseConnections: true))
        do {
            _ = try await fixture.chat(ResponseShapeTests.hello)
            Issue.record("a refused engine answered")
        } catch let error as UpstreamError {
            #expect(error.kind == .connectFailed)
        }
        try await fixture.simulator.setFaults(EngineSimFaults())
        #expect(try await fixture.chat(ResponseShapeTests.hello).status == 200)
    }

    /// An engine that reports no usage, instant and paced: no `usage` in a body, none in a stream
    /// (not even the `null` of chunks), and the client's `include_usage` gets no usage chunk.
    @Test(arguments: [true, false])
    func omittedUsageLeavesEveryUsageOut(instant: Bool) async throws {
        let fixture = try await SimFixture.start(
            EngineSimConfiguration(model: Self.model, outputTokens: 4, instant: instant, prefillBaseMs: 1, decodeMsPerToken: 1))
        defer { Task { await fixture.stop() } }
        #expect(try await fixture.chat(ResponseShapeTests.hello).json()["usage"] != nil)
        let set = try await fixture.client.post("/sim/faults", #"{"omit_usage":true}"#)
        #expect(try set.json()["omit_usage"] as? Bool == true)
        let answer = try await fixture.chat(ResponseShapeTests.hello)
        #expect(answer.status == 200)
        #expect(try answer.json()["usage"] == nil)
        #expect(try (answer.json()["choices"] as? [Any])?.count == 1)
        let stream = try await fixture.chat(
            #"{"model":"\#(Self.model)","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(stream.events.last == "[DONE]")
        #expect(stream.events.count > 2)
        #expect(!stream.body.contains("usage"))
        try await fixture.simulator.setFaults(EngineSimFaults())
        #expect(try await fixture.chat(ResponseShapeTests.hello).json()["usage"] != nil)
    }

    @Test func faultsChangeOverHTTPWithTimedRefusal() async throws {
        let fixture = try await SimFixture.start(EngineSimConfiguration(model: Self.model, instant: true))
        defer { Task { await fixture.stop() } }
        let set = try await fixture.client.post("/sim/faults", #"{"unhealthy":true,"stall_ms":50}"#)
        #expect(set.status == 200)
        #expect(try set.json()["unhealthy"] as? Bool == true)
        #expect(try await fixture.client.get("/health").status == 503)
        let stalled = try await fixture.chat(ResponseShapeTests.hello)
        #expect(stalled.status == 200)
        #expect(stalled.ended - stalled.started >= .milliseconds(50))
        let bad = try await fixture.client.post("/sim/faults", #"{"error_rate":2}"#)
        #expect(bad.status == 400)
        let unknown = try await fixture.client.post("/sim/faults", #"{"explode":true}"#)
        #expect(unknown.status == 400)

        let refuse = try await fixture.client.post("/sim/faults", #"{"refuse_connections":true,"refuse_for_ms":300}"#)
        #expect(refuse.status == 200)
        await #expect(throws: UpstreamError.self) { try await fixture.client.get("/health") }
        let back = await fixture.eventually(3) { !fixture.simulator.faults().refuseConnections }
        #expect(back)
        // The flag drops just before the socket listens again: retry the first connection briefly.
        var answer = try? await fixture.client.get("/sim/faults")
        let deadline = ContinuousClock.now.advanced(by: .seconds(3))
        while answer == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            answer = try? await fixture.client.get("/sim/faults")
        }
        let faults = try #require(answer).json()
        #expect(faults["refuse_connections"] as? Bool == false)
        #expect(faults["stall_ms"] as? Int == 50)
    }

    @Test func dropAfterChunksCutsTheStream() async throws {
        for instant in [true, false] {
            var configuration = Self.modelled { $0.instant = instant }
            configuration.faults.dropAfterChunks = 3
            let fixture = try await SimFixture.start(configuration)
            let response = try await fixture.chat(Self.streamBody)
            #expect(response.status == 200)
            #expect(response.truncated)
            #expect(response.events.count == 3)
            #expect(!response.events.contains("[DONE]"))
            let aborted = await fixture.eventually { fixture.simulator.stats().aborts == 1 }
            #expect(aborted, "instant: \(instant)")
            await fixture.stop()
        }
    }

    @Test func invalidConfigurationIsRefused() async throws {
        await #expect(throws: EngineSimError.self) {
            _ = try await EngineSimulator.start(
                EngineSimConfiguration(maxNumSeqs: 0), host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton)
        }
    }
}
