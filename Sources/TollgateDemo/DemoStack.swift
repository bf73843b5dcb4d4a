import Foundation
import Logging
import NIOCore
import NIOPosix
import TollgateEngineSim
import TollgateLedger
import TollgateRouting
import TollgateServer
import TollgateWire

/// The one-command demo: simulated engines (two V4-Flash, one V4-Pro, one standing in for the
/// DeepSeek API) and a gateway in front of them, all in this process.
public final class DemoStack: Sendable {
    public struct Options: Sendable {
        public var port: Int
        public var host: String
        /// Simulated engines answer without modelled delay (for overhead benchmarks).
        public var instant: Bool
        /// The Flash pool is a real OpenAI-compatible engine at this base URL (llama.cpp server).
        public var realFlashBaseURL: String?
        /// The team key, when keys come from the configuration (no ledger).
        public var demoKey: String?
        /// Prices requests (required with a ledger).
        public var priceBookPath: String?

        public init(
            port: Int, host: String = "127.0.0.1", instant: Bool = false, realFlashBaseURL: String? = nil,
            demoKey: String? = nil, priceBookPath: String? = nil
        ) {
            self.port = port
            self.host = host
            self.instant = instant
            self.realFlashBaseURL = realFlashBaseURL
            self.demoKey = demoKey
            self.priceBookPath = priceBookPath
        }
    }

    /// A simulated engine of the stack, by role.
    public struct Engine: Sendable {
        public var name: String
        public var baseURL: String
        public var simulator: EngineSimulator
    }

    public let engines: [Engine]
    public let gateway: GatewayServer

    private init(engines: [Engine], gateway: GatewayServer) {
        self.engines = engines
        self.gateway = gateway
    }

    /// Starts the engines on free loopback ports, then the gateway on `options.port`.
    /// With a `ledger` (its services running), keys, budgets and usage live in PostgreSQL.
    public static func start(
        _ options: Options, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, ledger: Ledger? = nil, logger: Logger
    ) async throws -> DemoStack {
        func simulator(_ name: String, model: String, maxModelLen: Int, deepSeekStyle: Bool) async throws -> Engine {
            var config = EngineSimConfiguration(model: model, maxModelLen: maxModelLen, instant: options.instant)
            if deepSeekStyle {
                config.reasoningField = .reasoningContent
                config.deepSeekUsage = true
                config.aliases = ["deepseek-v4-pro"]
            }
            let sim = try await EngineSimulator.start(config, host: "127.0.0.1", port: 0, group: group)
            return Engine(name: name, baseURL: "http://127.0.0.1:\(sim.port)/v1", simulator: sim)
        }
        var engines: [Engine] = []
        do {
            if options.realFlashBaseURL == nil {
                engines.append(try await simulator("flash-1", model: "deepseek-ai/DeepSeek-V4-Flash", maxModelLen: 131_072, deepSeekStyle: false))
                engines.append(try await simulator("flash-2", model: "deepseek-ai/DeepSeek-V4-Flash", maxModelLen: 131_072, deepSeekStyle: false))
            }
            engines.append(try await simulator("pro-1", model: "deepseek-ai/DeepSeek-V4-Pro", maxModelLen: 131_072, deepSeekStyle: false))
            engines.append(try await simulator("deepseek-api", model: "deepseek-v4-flash", maxModelLen: 1_048_576, deepSeekStyle: true))
        } catch {
            for engine in engines { try? await engine.simulator.shutdown() }
            throw error
        }
        let url = { (name: String) in engines.first { $0.name == name }!.baseURL }
        let flashPool: String
        if let real = options.realFlashBaseURL {
            flashPool = """
                  - name: flash-pool
                    kind: pool
                    engine: llamacpp
                    models: [{deepseek-v4-flash: smollm2}]
                    max_model_len: 8192
                    endpoints: [\(real)]
                """
        } else {
            flashPool = """
                  - name: flash-pool
                    kind: pool
                    engine: vllm
                    models: [{deepseek-v4-flash: deepseek-ai/DeepSeek-V4-Flash}]
                    max_model_len: 131072
                    endpoints: [\(url("flash-1")), \(url("flash-2"))]
                """
        }
        var teams = ""
        if let key = options.demoKey {
            teams = """
                teams:
                  - name: demo
                    key_sha256: \(TeamKey.hex(TeamKey.hash(key)))

                """
        }
        let pricing = options.priceBookPath.map { "pricing: {price_book: \(JSONWriter.quoted($0))}\n" } ?? ""
        let yaml = """
            listen: {host: \(options.host), port: \(options.port)}
            \(pricing)\(teams)targets:
            \(flashPool)
              - name: pro-pool
                kind: pool
                engine: vllm
                models: [{deepseek-v4-pro: deepseek-ai/DeepSeek-V4-Pro}]
                max_model_len: 131072
                endpoints: [\(url("pro-1"))]
              - name: deepseek-api
                kind: upstream
                engine: deepseek
                base_url: \(url("deepseek-api"))
                beta_url: \(url("deepseek-api"))
                models: [deepseek-v4-flash, deepseek-v4-pro]
                max_model_len: 1048576
                max_concurrency: 500
            """
        let gateway: GatewayServer
        do {
            let configuration = try GatewayConfiguration.parse(yaml, file: "<demo>")
            gateway = try await GatewayServer.start(configuration: configuration, group: group, ledger: ledger, logger: logger)
        } catch {
            for engine in engines { try? await engine.simulator.shutdown() }
            throw error
        }
        return DemoStack(engines: engines, gateway: gateway)
    }

    public func shutdown() async {
        try? await gateway.shutdown()
        for engine in engines { try? await engine.simulator.shutdown() }
    }

    /// A fresh demo key: `tg-demo-` and 32 random hex digits.
    public static func makeKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }
        return "tg-demo-" + random.joined()
    }
}
