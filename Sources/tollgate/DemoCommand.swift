import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TollgateDemo
import TollgateLedger
import TollgateMoney

/// `tollgate demo`: simulated engines, a gateway and its ledger, one command, stopped with Ctrl-C.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a demo stack: two V4-Flash engines, a V4-Pro engine, an API stand-in, the gateway and its ledger.")

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

    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL for keys, budgets and the usage ledger (migrated at start). Default: a throwaway cluster started from the machine's PostgreSQL binaries.")
    var databaseURL: String?

    @Flag(name: .long, help: "No database: the demo key lives in the gateway's configuration, nothing is recorded.")
    var noLedger = false

    @Option(name: .long, help: "The demo team's budget (price-book currency).")
    var budget: String = "10"

    @Option(name: .long, help: "Log level.")
    var logLevel: Logger.Level = .notice

    func run() async throws {
        let logger = makeLogger(level: logLevel)
        var realEngine: Process?
        var throwaway: DemoDatabase?
        defer { realEngine?.terminate() }
        var realURL: String?
        if real {
            let started = try RealEngine.start(port: realPort)
            realEngine = started
            realURL = "http://127.0.0.1:\(realPort)/v1"
            try await RealEngine.waitUntilReady(baseURL: realURL!, process: started)
        }
        let priceBook = try RepositoryFile.locate("policies/prices.yaml")
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var ledger: Ledger?
        var spoolFolder: String?
        if !noLedger {
            var url = databaseURL ?? ""
            if url.isEmpty {
                let database = try await DemoDatabase.start()
                throwaway = database
                url = database.url
            }
            try await DatabaseOptions.prepareSchema(url: url, migrate: true)
            let spool = NSTemporaryDirectory() + "tollgate-demo-spool-\(ProcessInfo.processInfo.processIdentifier)"
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            spoolFolder = spool
            let opened = try Ledger(databaseURL: url, configuration: .init(spoolDirectory: spool), logger: logger)
            ledger = opened
            services += opened.services.map { .init(service: $0) }
            print("database \(url)")
        }
        guard let budgetMoney = Money(decimal: budget, currency: "USD") else {
            throw ValidationError("--budget must be a decimal amount such as 10 or 2.5")
        }
        let options = DemoStack.Options(
            port: port, instant: instant, realFlashBaseURL: realURL,
            demoKey: ledger == nil ? DemoStack.makeKey() : nil, priceBookPath: priceBook)
        services.append(
            .init(service: DemoService(options: options, ledger: ledger, budget: budgetMoney, keyFile: keyFile, realURL: realURL, logger: logger)))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await throwaway?.stop()
            throw error
        }
        await throwaway?.stop()
        // The writer drained into PostgreSQL on shutdown; a spool left behind would hold usage.
        if let spoolFolder, (try? FileManager.default.contentsOfDirectory(atPath: spoolFolder))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: spoolFolder)
        }
    }
}

/// Starts the stack once the ledger's services run, prints where everything is, and stops the
/// stack on graceful shutdown.
private struct DemoService: Service {
    let options: DemoStack.Options
    let ledger: Ledger?
    let budget: Money
    let keyFile: String
    let realURL: String?
    let logger: Logger

    func run() async throws {
        var key = options.demoKey ?? ""
        if let ledger {
            let created = try await ledger.keyStore.create(NewKey(team: "demo", name: "demo key", budget: budget))
            key = created.plaintext
        }
        try (key + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile, 0o600)
        let stack = try await DemoStack.start(options, ledger: ledger, logger: logger)
        if let realURL { print("engine flash-real \(realURL.dropLast(3))") }
        for engine in stack.engines { print("engine \(engine.name) \(engine.baseURL.dropLast(3))") }
        print("gateway http://127.0.0.1:\(stack.gateway.port)/v1 (key written to \(keyFile))")
        print(
            """
            try: curl -s http://127.0.0.1:\(stack.gateway.port)/v1/chat/completions \\
                   -H "Authorization: Bearer $(cat \(keyFile))" -H 'Content-Type: application/json' \\
                   -d '{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Hello!"}]}'
            """)
        if ledger != nil {
            print("then: tollgate report --from $(date -u +%F) --to $(date -u +%F) --group-by team,model,target")
        }
        fflush(stdout)
        try? await gracefulShutdown()
        await stack.shutdown()
    }
}
