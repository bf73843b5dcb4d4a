import Logging
import NIOCore
import NIOPosix
import Testing
import TollgateEngineSim
import TollgateHTTP
import TollgateRouting

@testable import TollgateServer

/// Health probes against a real simulator over loopback, one round at a time, so each round's
/// verdict is known: an endpoint changes state only after the configured run of probes.
@Suite struct HealthProbeTests {
    /// A prober for one simulator, with the simulator's `unhealthy` fault to make `/health` 503.
    struct Probed {
        let engine: EngineSimulator
        let endpoint: Endpoint
        let prober: HealthProber
        let client: UpstreamClient

        static func start(_ thresholds: ProbeThresholds) async throws -> Probed {
            let engine = try await EngineSimulator.start(
                EngineSimConfiguration(model: "DeepSeek-V4-Flash", instant: true), host: "127.0.0.1", port: 0,
                group: MultiThreadedEventLoopGroup.singleton)
            let configuration = try GatewayConfiguration.parse(
                """
                targets:
                  - name: flash-pool
                    kind: pool
                    engine: vllm
                    models: [deepseek-v4-flash]
                    endpoints: [http://127.0.0.1:\(engine.port)/v1]
                """, file: "<test>")
            let client = UpstreamClient(configuration: UpstreamClientConfiguration(connectTimeout: .milliseconds(500)))
            var logger = Logger(label: "tollgate-test")
            logger.logLevel = .critical
            let prober = HealthProber(
                targets: configuration.targets, client: client, eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                timeout: .seconds(5), thresholds: thresholds, logger: logger)
            return Probed(engine: engine, endpoint: configuration.targets[0].endpoints[0], prober: prober, client: client)
        }

        func setUnhealthy(_ unhealthy: Bool) async throws {
            var faults = engine.faults()
            faults.unhealthy = unhealthy
            try await engine.setFaults(faults)
        }

        /// Runs `rounds` probe rounds and returns whether the endpoint was up after each.
        func probe(_ rounds: Int) async -> [Bool] {
            var states: [Bool] = []
            for _ in 0..<rounds {
                await prober.probeAll()
                states.append(endpoint.isHealthy)
            }
            return states
        }

        func stop() async {
            client.shutdown()
            try? await engine.shutdown()
        }
    }

    @Test func anEndpointGoesDownAfterItsRunOfFailedProbesAndBackAfterItsRunOfGoodOnes() async throws {
        let probed = try await Probed.start(ProbeThresholds(unhealthyAfter: 3, healthyAfter: 2))
        defer { Task { await probed.stop() } }
        #expect(await probed.probe(1) == [true])
        try await probed.setUnhealthy(true)
        #expect(await probed.probe(4) == [true, true, false, false])
        try await probed.setUnhealthy(false)
        #expect(await probed.probe(3) == [false, true, true])
        // A good probe between failed ones starts the count again.
        try await probed.setUnhealthy(true)
        #expect(await probed.probe(2) == [true, true])
        try await probed.setUnhealthy(false)
        #expect(await probed.probe(1) == [true])
        try await probed.setUnhealthy(true)
        #expect(await probed.probe(3) == [true, true, false])
    }

    @Test func theFirstProbeDecidesAlone() async throws {
        let probed = try await Probed.start(ProbeThresholds(unhealthyAfter: 5, healthyAfter: 5))
        defer { Task { await probed.stop() } }
        try await probed.setUnhealthy(true)
        // At start nothing else is known: an engine already down is not sent traffic for five rounds.
        #expect(await probed.probe(1) == [false])
        try await probed.setUnhealthy(false)
        #expect(await probed.probe(5) == [false, false, false, false, true])
    }

    @Test func anEndpointTheProxyMarkedDownNeedsItsRunOfGoodProbes() async throws {
        let probed = try await Probed.start(ProbeThresholds(unhealthyAfter: 2, healthyAfter: 2))
        defer { Task { await probed.stop() } }
        // Many good probes before the refused connection do not count toward coming back.
        #expect(await probed.probe(3) == [true, true, true])
        #expect(probed.endpoint.markDown())
        #expect(!probed.endpoint.markDown(), "already down: no change to report")
        #expect(await probed.probe(2) == [false, true])
    }

    @Test func thresholdsAndTimeoutAreReadAndChecked() throws {
        let base = """
            targets:
              - name: flash-pool
                kind: pool
                engine: vllm
                models: [deepseek-v4-flash]
                endpoints: [http://127.0.0.1:9/v1]

            """
        let defaults = try GatewayConfiguration.parse(base, file: "<test>")
        #expect(defaults.probeThresholds == ProbeThresholds(unhealthyAfter: 2, healthyAfter: 1))
        #expect(defaults.probeTimeoutMs == 2000, "the larger of connect_ms (2000) and 1 s")
        let set = try GatewayConfiguration.parse(
            base + "health: {interval_ms: 500, timeout_ms: 250, unhealthy_after: 4, healthy_after: 3}\n", file: "<test>")
        #expect(set.probeThresholds == ProbeThresholds(unhealthyAfter: 4, healthyAfter: 3))
        #expect(set.probeTimeoutMs == 250)
        for (bad, reason) in [("unhealthy_after: 0", "unhealthy_after"), ("healthy_after: 101", "healthy_after"), ("timeout_ms: 0", "timeout_ms")] {
            #expect {
                try GatewayConfiguration.parse(base + "health: {\(bad)}\n", file: "gateway.yaml")
            } throws: { error in
                let text = "\(error)"
                return text.contains("gateway.yaml:7") && text.contains(reason)
            }
        }
    }
}
