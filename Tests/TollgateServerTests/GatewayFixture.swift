import Foundation
import Logging
import NIOPosix
import TollgateEngineSim
import TollgateRouting
import TollgateServer

/// A gateway in front of simulated engines, all on loopback, for one test.
struct GatewayFixture {
    static let key = "sk-test-team-a-0123456789"
    static let auth = [("authorization", "Bearer \(key)")]

    var engines: [EngineSimulator]
    var gateway: GatewayServer
    let client = TestClient()

    var base: String { "http://127.0.0.1:\(gateway.port)" }

    /// Starts one simulator per configuration, then a gateway whose `flash-pool` lists them in
    /// order (plus `extraEndpoints`, e.g. a closed port), serving `deepseek-v4-flash`.
    /// `extraTargets` and `extraTeams` are YAML for more entries of `targets` (after `flash-pool`)
    /// and `teams` (after `team-a`), each line indented as in the file, ending with a newline.
    static func start(
        engines configs: [EngineSimConfiguration] = [EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072, instant: true)],
        extraEndpointsFirst: [String] = [], extraYAML: String = "", maxBodyBytes: Int? = nil, maxAnswerBytes: Int? = nil,
        maxPendingBodyBytes: Int? = nil, maxModelLen: Int = 131_072, extraTargets: String = "", extraTeams: String = "",
        firstByteMs: Int? = nil, clientIdleMs: Int? = nil, priceBook: String? = nil, adminToken: String? = nil, engine: String = "vllm"
    ) async throws -> GatewayFixture {
        var engines: [EngineSimulator] = []
        for config in configs {
            engines.append(try await EngineSimulator.start(config, host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton))
        }
        let endpoints = extraEndpointsFirst + engines.map { "http://127.0.0.1:\($0.port)/v1" }
        var yaml = """
            listen: {host: 127.0.0.1, port: 0}
            health: {interval_ms: 100}
            timeouts: {connect_ms: 500\(firstByteMs.map { ", first_byte_ms: \($0)" } ?? "")\(clientIdleMs.map { ", client_idle_ms: \($0)" } ?? "")}
            teams:
              - name: team-a
                key_sha256: \(TeamKey.hex(TeamKey.hash(key)))
            \(extraTeams)targets:
              - name: flash-pool
                kind: pool
                engine: \(engine)
                models: [{deepseek-v4-flash: DeepSeek-V4-Flash}]
                max_model_len: \(maxModelLen)
                endpoints: [\(endpoints.joined(separator: ", "))]

            """
        yaml += extraTargets
        let limits = [maxBodyBytes.map { "max_body_bytes: \($0)" }, maxAnswerBytes.map { "max_answer_bytes: \($0)" },
            maxPendingBodyBytes.map { "max_pending_body_bytes: \($0)" },
        ].compactMap { $0 }
        if !limits.isEmpty { yaml += "limits: {\(limits.joined(separator: ", "))}\n" }
        if let priceBook {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-test-prices-\(UUID().uuidString).yaml").path
            try priceBook.write(toFile: path, atomically: true, encoding: .utf8)
            yaml += "pricing: {price_book: \(path)}\n"
        }
        yaml += extraYAML
        let configuration = try GatewayConfiguration.parse(yaml, file: "<test>")
        var logger = Logger(label: "tollgate-test")
        logger.logLevel = .critical
        let gateway = try await GatewayServer.start(configuration: configuration, adminToken: adminToken, logger: logger)
        return GatewayFixture(engines: engines, gateway: gateway)
    }

    func stop() async {
        try? await gateway.shutdown()
        for engine in engines { try? await engine.shutdown() }
    }

    func chat(_ body: String, headers: [(String, String)] = GatewayFixture.auth) async throws -> TestResponse {
        try await client.send(.POST, base + "/v1/chat/completions", body: body, headers: headers)
    }

    func completion(_ body: String, headers: [(String, String)] = GatewayFixture.auth) async throws -> TestResponse {
        try await client.send(.POST, base + "/v1/completions", body: body, headers: headers)
    }

    func engineStats(_ index: Int) -> EngineSimStats {
        engines[index].stats()
    }

    /// Changes an engine's faults at run time.
    func setFaults(_ index: Int, _ change: (inout EngineSimFaults) -> Void) async throws {
        var faults = engines[index].faults()
        change(&faults)
        try await engines[index].setFaults(faults)
    }
}

/// Parses a JSON object body.
func json(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw CocoaError(.coderReadCorrupt)
    }
    return object
}

/// `error.code` of an OpenAI error envelope.
func errorCode(_ text: String) -> String? {
    ((try? json(text))?["error"] as? [String: Any])?["code"] as? String
}

/// A port nothing listens on (bound, then closed).
func closedPort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}
