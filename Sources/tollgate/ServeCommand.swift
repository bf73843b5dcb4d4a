import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TollgateConfig
import TollgateLedger
import TollgatePricing
import TollgateRouting
import TollgateServer

/// `tollgate serve --config tollgate.yaml [--database-url URL]`: the gateway, until SIGINT or SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the gateway with a configuration file.")

    @Option(name: .long, help: "The gateway configuration (YAML). See README.md, 'Configuration reference'.")
    var config: String = "tollgate.yaml"

    @Option(name: .long, help: "Override the listen port from the configuration.")
    var port: Int?

    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL for keys, budgets, limits and the usage ledger (default: $TOLLGATE_DATABASE_URL; none: keys from the config file).")
    var databaseURL: String?

    @Flag(name: .long, help: "Apply pending database migrations before serving (otherwise a schema that is behind is refused).")
    var migrate = false

    @Option(name: .long, help: "This replica's usage spool folder, used while PostgreSQL is unreachable.")
    var spoolDir: String = "/var/lib/tollgate/spool"

    @Option(name: .long, help: "Event-loop threads (default: one per core).")
    var threads: Int = System.coreCount

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    @Flag(name: .long, help: "Check the configuration and its price book as the gateway's start and a reload do, print what they hold, and exit (1 with file, line and reason when one is refused).")
    var check = false

    func run() async throws {
        var configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(path: config)
        } catch let error as ConfigError {
            throw InputError(message: "\(error)")  // the file is wrong, not the arguments: no usage text
        }
        if let port { configuration.port = port }
        if check { return try checkOnly(configuration) }
        let logger = makeLogger(level: logLevel)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var ledger: Ledger?
        if let url = database {
            try FileManager.default.createDirectory(atPath: spoolDir, withIntermediateDirectories: true)
            try await DatabaseOptions.prepareSchema(url: url, migrate: migrate)
            let opened = try Ledger(databaseURL: url, configuration: .init(spoolDirectory: spoolDir), logger: logger)
            ledger = opened
            // Ledger services first: shutdown runs in reverse, so the gateway stops taking requests,
            // then the usage writer drains and budgets return their leases.
            services += opened.services.map { .init(service: $0) }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        services.append(.init(service: GatewayService(configuration: configuration, group: group, ledger: ledger, logger: logger)))
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await serviceGroup.run()
        try await group.shutdownGracefully()
    }

    /// `--database-url`, else `$TOLLGATE_DATABASE_URL`; nil when neither names one.
    private var database: String? {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["TOLLGATE_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// `--check`: what an operator runs before starting a gateway or sending it SIGHUP.
    private func checkOnly(_ configuration: GatewayConfiguration) throws {
        let book: PriceBook?
        do {
            book = try configuration.loadPriceBook(withDatabase: database != nil)
        } catch let error as ConfigError {
            throw InputError(message: "\(error)")
        }
        print("\(config): ok, targets \(configuration.targets.map(\.name).joined(separator: ", "))")
        if let book {
            print(
                "\(book.file): ok, \(book.currency), versions \(book.versions.map(\.id).joined(separator: ", ")); "
                    + "in force now: \(book.version(at: Date()).id)")
        } else {
            print("no price book (pricing.price_book is not set)")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

func makeLogger(level: Logger.Level) -> Logger {
    var logger = Logger(label: "tollgate")
    logger.logLevel = level
    return logger
}
