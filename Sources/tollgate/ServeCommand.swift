import ArgumentParser
import Logging
import ServiceLifecycle
import TollgateConfig
import TollgateRouting
import TollgateServer

/// `tollgate serve --config tollgate.yaml`: the gateway, until SIGINT or SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the gateway with a configuration file.")

    @Option(name: .long, help: "The gateway configuration (YAML). See docs/CONFIGURATION.md.")
    var config: String = "tollgate.yaml"

    @Option(name: .long, help: "Override the listen port from the configuration.")
    var port: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        var configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(path: config)
        } catch let error as ConfigError {
            throw ValidationError("\(error)")
        }
        if let port { configuration.port = port }
        let logger = makeLogger(level: logLevel)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: GatewayService(configuration: configuration, logger: logger))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

func makeLogger(level: Logger.Level) -> Logger {
    var logger = Logger(label: "tollgate")
    logger.logLevel = level
    return logger
}
