import NIOCore
import TollgateHTTP

/// Why a simulator could not start. `code` is stable.
public struct EngineSimError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String

    public static func invalidConfiguration(_ message: String) -> EngineSimError {
        EngineSimError(code: "invalid_configuration", message: message)
    }

    public var description: String { "\(code): \(message)" }
}

/// A simulated vLLM engine serving DeepSeek V4 over HTTP (see docs/ENGINE_SIM.md).
///
/// ```swift
/// let sim = try await EngineSimulator.start(.init(model: "deepseek-v4-flash"), host: "127.0.0.1", port: 0, group: group)
/// // POST http://127.0.0.1:\(sim.port)/v1/chat/completions ...
/// try await sim.shutdown()
/// ```
public final class EngineSimulator: Sendable {
    public let configuration: EngineSimConfiguration
    public let host: String
    /// The bound port (also when started with port 0); stays the same while refusing connections.
    public let port: Int
    /// The admin port, when one was asked for: `/sim/*`, `/health` and `/metrics` only, always up.
    public let adminPort: Int?
    private let engine: SimEngine
    private let listeners: SimListeners

    private init(configuration: EngineSimConfiguration, host: String, port: Int, adminPort: Int?, engine: SimEngine, listeners: SimListeners) {
        self.configuration = configuration
        self.host = host
        self.port = port
        self.adminPort = adminPort
        self.engine = engine
        self.listeners = listeners
    }

    /// Binds `host:port` (0 picks a free port) and starts serving on `group`.
    public static func start(
        _ configuration: EngineSimConfiguration, host: String, port: Int, adminPort: Int? = nil, group: EventLoopGroup
    ) async throws -> EngineSimulator {
        if let problem = configuration.validate() { throw EngineSimError.invalidConfiguration(problem) }
        let engine = SimEngine(configuration: configuration)
        let listeners = SimListeners(engine: engine, host: host, port: port, group: group)
        try await listeners.start(adminPort: adminPort)
        return EngineSimulator(
            configuration: configuration, host: host, port: await listeners.port, adminPort: await listeners.adminPort,
            engine: engine, listeners: listeners)
    }

    /// The OpenAI base URL, e.g. `http://127.0.0.1:8001/v1`.
    public var baseURL: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return "http://\(name):\(port)/v1"
    }

    /// Stops listening and drops every request in flight (each counted as an abort).
    public func shutdown() async throws {
        try await listeners.shutdown()
    }

    public func stats() -> EngineSimStats {
        EngineSimStats(engine)
    }

    public func faults() -> EngineSimFaults {
        engine.faults.current
    }

    /// Changes the injected faults at once. Turning `refuseConnections` on closes the listening
    /// socket (connects are refused) and drops requests in flight; turning it off listens again on
    /// the same port.
    public func setFaults(_ faults: EngineSimFaults) async throws {
        if let problem = faults.validate() { throw EngineSimError.invalidConfiguration(problem) }
        try await listeners.setFaults(faults)
    }

    /// The `/metrics` text as it would be served now.
    public func metricsText() -> String {
        let snapshot = engine.scheduler.snapshot
        return engine.metrics.render(
            model: configuration.model, running: snapshot.running, waiting: snapshot.waiting,
            kvUsage: Double(snapshot.kvUsed) / Double(configuration.kvCacheTokens))
    }
}
