import NIOCore
import TollgateHTTP

/// The listening sockets: the main port (closed while refusing connections, reopened on the same
/// port) and an optional admin port that stays up so the faults can be lifted over HTTP.
/// An actor because binding and closing are asynchronous and must not interleave.
actor SimListeners {
    private let engine: SimEngine
    private let host: String
    private let group: EventLoopGroup
    private(set) var port: Int
    private(set) var adminPort: Int?
    private var main: HTTPServer?
    private var admin: HTTPServer?
    /// Bumped on every fault change, so a delayed reopen does not undo a later decision.
    private var generation = 0
    private var stopped = false

    init(engine: SimEngine, host: String, port: Int, group: EventLoopGroup) {
        self.engine = engine
        self.host = host
        self.port = port
        self.group = group
    }

    func start(adminPort requestedAdminPort: Int?) async throws {
        let server = try await bind(port: port, adminOnly: false)
        port = server.port
        if engine.faults.refusing {
            try await server.close()
        } else {
            main = server
        }
        if let requestedAdminPort {
            let adminServer = try await bind(port: requestedAdminPort, adminOnly: true)
            admin = adminServer
            adminPort = adminServer.port
        }
    }

    private func bind(port: Int, adminOnly: Bool) async throws -> HTTPServer {
        try await HTTPServer.start(
            configuration: HTTPServerConfiguration(host: host, port: port),
            group: group,
            handler: SimRequestHandler(engine: engine, control: self, adminOnly: adminOnly))
    }

    /// Applies new faults; opens or closes the main port when `refuseConnections` changed.
    func setFaults(_ faults: EngineSimFaults, refuseForMs: Int? = nil) async throws {
        guard !stopped else { return }
        engine.faults.store(faults)
        generation += 1
        if faults.refuseConnections {
            if let server = main {
                main = nil
                try await server.close()
            }
            engine.abortAll()
            if let refuseForMs, refuseForMs >= 0 {
                let expected = generation
                Task {
                    try? await Task.sleep(nanoseconds: UInt64(refuseForMs) * 1_000_000)
                    try? await self.reopen(ifGeneration: expected)
                }
            }
        } else if main == nil {
            main = try await bind(port: port, adminOnly: false)
        }
    }

    private func reopen(ifGeneration expected: Int) async throws {
        guard generation == expected, !stopped else { return }
        var faults = engine.faults.current
        faults.refuseConnections = false
        try await setFaults(faults)
    }

    func shutdown() async throws {
        stopped = true
        let servers = [main, admin].compactMap { $0 }
        main = nil
        admin = nil
        for server in servers { try await server.close() }
        engine.abortAll()
    }
}
