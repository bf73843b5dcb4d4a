import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TollgateEngineSim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tollgate engine-sim`: a simulated vLLM engine serving DeepSeek V4 (docs/ENGINE_SIM.md).
struct EngineSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-sim",
        abstract: "Run a simulated vLLM engine serving DeepSeek V4 (for demos, tests and capacity planning).")

    @Option(name: .long, help: "Served model name.")
    var model: String

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port: Int

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Extra port serving only /sim/*, /health and /metrics (stays up while refusing connections).")
    var adminPort: Int?

    @Option(name: .long, help: "Event-loop threads (default: one per core).")
    var threads: Int = System.coreCount

    // MARK: model

    @Option(name: .long, help: "Context window in tokens.")
    var maxModelLen: Int = 1_048_576

    @Option(name: .long, help: "Key of reasoning text: reasoning (vLLM) or reasoning_content (DeepSeek API, SGLang).")
    var reasoningField: String = "reasoning"

    @Flag(name: .long, help: "Usage like the DeepSeek API: prompt_cache_hit_tokens / prompt_cache_miss_tokens.")
    var deepseekUsage = false

    @Option(name: .long, help: "Natural answer length in tokens.")
    var outputTokens: Int = 64

    @Option(name: .long, help: "Spread of the answer length, 0...1 (0.5: 50% to 150% of --output-tokens).")
    var outputTokensSpread: Double = 0

    @Option(name: .long, help: "Reasoning tokens before the answer when thinking is on.")
    var reasoningTokens: Int = 16

    // MARK: timing model

    @Flag(name: .long, help: "Answer with no modelled delay (overhead benchmarks).")
    var instant = false

    @Option(name: .long, help: "Running-sequence cap.")
    var maxNumSeqs: Int = 256

    @Option(name: .long, help: "Waiting requests beyond the cap before 503.")
    var maxQueue: Int = 4096

    @Option(name: .long, help: "KV-cache capacity in tokens.")
    var kvCacheTokens: Int = 4_000_000

    @Option(name: .long, help: "Fixed part of the time to first token (ms).")
    var prefillBaseMs: Double = 30

    @Option(name: .customLong("prefill-ms-per-1k-tokens"), help: "Prefill time per 1,000 uncached prompt tokens (ms).")
    var prefillMsPer1kTokens: Double = 300

    @Option(name: .long, help: "Time per output token of a sequence running alone (ms).")
    var decodeMsPerToken: Double = 20

    @Option(name: .long, help: "Per extra running sequence, each token gets this fraction slower.")
    var decodeSlowdownPerSeq: Double = 0.002

    // MARK: faults

    @Option(name: .long, help: "Fraction of requests answered 500.")
    var errorRate: Double = 0

    @Flag(name: .long, help: "Start refusing connections (lift it with POST /sim/faults on --admin-port).")
    var refuseConnections = false

    @Option(name: .long, help: "Hold every response head this long (ms).")
    var stallMs: Int = 0

    @Option(name: .long, help: "Close streams after this many SSE events.")
    var dropAfterChunks: Int?

    @Flag(name: .long, help: "/health answers 503.")
    var unhealthy = false

    @Flag(name: .long, help: "Answers carry no usage, as from an engine that does not report it.")
    var omitUsage = false

    func validate() throws {
        guard EngineSimConfiguration.ReasoningField(rawValue: reasoningField) != nil else {
            throw ValidationError("--reasoning-field must be reasoning or reasoning_content")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let problem = makeConfiguration().validate() { throw ValidationError(problem) }
    }

    func makeConfiguration() -> EngineSimConfiguration {
        EngineSimConfiguration(
            model: model, maxModelLen: maxModelLen,
            reasoningField: EngineSimConfiguration.ReasoningField(rawValue: reasoningField) ?? .reasoning,
            deepSeekUsage: deepseekUsage, outputTokens: outputTokens, outputTokensSpread: outputTokensSpread,
            reasoningTokens: reasoningTokens, instant: instant, maxNumSeqs: maxNumSeqs, maxQueue: maxQueue,
            kvCacheTokens: kvCacheTokens, prefillBaseMs: prefillBaseMs, prefillMsPer1kTokens: prefillMsPer1kTokens,
            decodeMsPerToken: decodeMsPerToken, decodeSlowdownPerSeq: decodeSlowdownPerSeq,
            faults: EngineSimFaults(
                errorRate: errorRate, refuseConnections: refuseConnections, stallMs: stallMs,
                dropAfterChunks: dropAfterChunks, unhealthy: unhealthy, omitUsage: omitUsage))
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let simulator: EngineSimulator
        do {
            simulator = try await EngineSimulator.start(
                makeConfiguration(), host: host, port: port, adminPort: adminPort, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        print("engine-sim \(model) \(simulator.baseURL)\(instant ? " (instant)" : "")")
        if let admin = simulator.adminPort { print("admin http://\(host):\(admin)/sim/faults") }
        fflush(stdout)
        var logger = Logger(label: "tollgate.engine-sim")
        logger.logLevel = .notice
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: ParkUntilShutdown())], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        try? await simulator.shutdown()
        try? await group.shutdownGracefully()
    }
}

/// Parks until SIGINT or SIGTERM; the command then stops the simulator in order.
private struct ParkUntilShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
