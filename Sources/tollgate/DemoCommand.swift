import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TollgateDemo

/// `tollgate demo`: simulated engines plus a gateway, one command, stopped with Ctrl-C.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a demo stack: two V4-Flash engines, a V4-Pro engine, an API stand-in and the gateway.")

    @Option(name: .long, help: "Gateway port.")
    var port: Int = 8080

    @Option(name: .long, help: "Where to write the demo team's API key.")
    var keyFile: String = "demo-key.txt"

    @Flag(name: .long, help: "Simulated engines answer at once (no modelled latency).")
    var instant = false

    @Flag(name: .long, help: "Serve the Flash pool with a real engine (llama.cpp server with SmolLM2-135M; installed on first use by scripts/real-engine.sh).")
    var real = false

    @Option(name: .long, help: "With --real: the port of the real engine.")
    var realPort: Int = 18181

    @Option(name: .long, help: "Log level.")
    var logLevel: Logger.Level = .notice

    func run() async throws {
        let logger = makeLogger(level: logLevel)
        var realEngine: Process?
        var realURL: String?
        defer { realEngine?.terminate() }
        if real {
            let started = try RealEngine.start(port: realPort)
            realEngine = started
            realURL = "http://127.0.0.1:\(realPort)/v1"
            try await RealEngine.waitUntilReady(baseURL: realURL!, process: started)
        }
        let key = DemoStack.makeKey()
        try (key + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile, 0o600)
        let stack = try await DemoStack.start(
            .init(port: port, instant: instant, realFlashBaseURL: realURL, demoKey: key), logger: logger)
        if let realURL { print("engine flash-real \(realURL.dropLast(3))") }
        for engine in stack.engines { print("engine \(engine.name) \(engine.baseURL.dropLast(3))") }
        print("gateway http://127.0.0.1:\(stack.gateway.port)/v1 (key written to \(keyFile))")
        print(
            """
            try: curl -s http://127.0.0.1:\(stack.gateway.port)/v1/chat/completions \\
                   -H "Authorization: Bearer $(cat \(keyFile))" -H 'Content-Type: application/json' \\
                   -d '{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Hello!"}]}'
            """)
        fflush(stdout)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: WaitForShutdown())], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await stack.shutdown()
    }
}

/// Parks until graceful shutdown, so the demo's resources are torn down in order.
private struct WaitForShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
