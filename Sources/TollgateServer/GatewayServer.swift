import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TollgateConfig
import TollgateHTTP
import TollgateLedger
import TollgatePricing
import TollgateRouting
import TollgateTokenizer

/// A running gateway: the HTTP listener, the upstream client and the health prober.
///
/// `tollgate serve` runs it as a ``GatewayService`` in a ServiceGroup; tests and the demo start it
/// directly with ``start(configuration:group:logger:)`` and stop it with ``shutdown()``.
public final class GatewayServer: Sendable {
    public let configuration: GatewayConfiguration
    private let server: HTTPServer
    private let client: UpstreamClient
    private let prober: HealthProber
    private let probeTask: Task<Void, Never>
    private let pricing: CurrentPricer?

    /// The port actually bound (configuration port 0 picks a free one).
    public var port: Int { server.port }

    private init(
        configuration: GatewayConfiguration, server: HTTPServer, client: UpstreamClient, prober: HealthProber, probeTask: Task<Void, Never>,
        pricing: CurrentPricer?
    ) {
        self.configuration = configuration
        self.pricing = pricing
        self.server = server
        self.client = client
        self.prober = prober
        self.probeTask = probeTask
    }

    /// Starts the gateway. With a `ledger` (whose services must be running), keys come from
    /// PostgreSQL and every request is admitted against rate limits and budgets and recorded.
    /// With an `adminToken` (`TOLLGATE_ADMIN_TOKEN`) the admin API under `/admin` is enabled.
    public static func start(
        configuration: GatewayConfiguration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        ledger: Ledger? = nil, adminToken: String? = nil, logger: Logger = Logger(label: "tollgate")
    ) async throws -> GatewayServer {
        let client = UpstreamClient(
            configuration: UpstreamClientConfiguration(connectTimeout: .milliseconds(Int64(configuration.connectTimeoutMs))))
        let pricing = try configuration.loadPriceBook(withDatabase: ledger != nil).map { book in
            let pricer = RequestPricer(
                book: book, tokenizer: try DeepSeekTokenizer.loadBundled(), repeatedTextSlots: configuration.repeatedTextSlots)
            return CurrentPricer(pricer, configuration: configuration, logger: logger)
        }
        let state = GatewayState(
            configuration: configuration, client: client, pricing: pricing,
            ledger: ledger.map { LedgerAdmission(ledger: $0, logger: logger) }, createdAt: Int(Date().timeIntervalSince1970),
            adminToken: adminToken, logger: logger)
        let prober = HealthProber(
            targets: configuration.targets, client: client, eventLoop: group.next(),
            timeout: .milliseconds(Int64(configuration.probeTimeoutMs)), thresholds: configuration.probeThresholds, logger: logger)
        // Know the engines' health before the first request.
        await prober.probeAll()
        let interval = UInt64(configuration.healthIntervalMs) * 1_000_000
        let probeTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: interval)
                if Task.isCancelled { break }
                await prober.probeAll()
            }
        }
        let server: HTTPServer
        do {
            server = try await HTTPServer.start(
                configuration: HTTPServerConfiguration(
                    host: configuration.host, port: configuration.port, maxBodyBytes: configuration.maxBodyBytes,
                    maxPendingBodyBytes: configuration.maxPendingBodyBytes,
                    clientIdleTimeout: .milliseconds(Int64(configuration.clientIdleTimeoutMs))),
                group: group, handler: GatewayHandler(state: state, logger: logger))
        } catch {
            probeTask.cancel()
            throw error
        }
        logger.info("tollgate listening", metadata: ["tollgate.address": "\(configuration.host):\(server.port)"])
        return GatewayServer(
            configuration: configuration, server: server, client: client, prober: prober, probeTask: probeTask, pricing: pricing)
    }

    /// Reads the price book file (`pricing.price_book`) again and puts it in force for requests
    /// that start from now on. A file that fails any check made at start, or changes the currency,
    /// is refused with a `ConfigError` (file, line, reason) and the running book stays.
    public func reloadPriceBook() throws -> PriceBook {
        guard let pricing else {
            throw ConfigError(file: configuration.file, line: 0, reason: "no price book to reload: pricing.price_book is not set")
        }
        return try pricing.reload().book
    }

    public func shutdown() async throws {
        probeTask.cancel()
        try await server.close()
        client.shutdown()
    }
}

/// Runs a gateway until graceful shutdown (SIGTERM/SIGINT in a ServiceGroup).
///
/// With a ledger, list `ledger.services` before this service in the group: shutdown stops the
/// gateway first, then the usage writer drains and budgets hand back their leases.
public struct GatewayService: Service, CustomStringConvertible {
    let configuration: GatewayConfiguration
    let group: EventLoopGroup
    let ledger: Ledger?
    let logger: Logger
    let onStart: @Sendable (GatewayServer) -> Void

    public init(
        configuration: GatewayConfiguration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        ledger: Ledger? = nil, logger: Logger,
        onStart: @escaping @Sendable (GatewayServer) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.group = group
        self.ledger = ledger
        self.logger = logger
        self.onStart = onStart
    }

    /// How Service Lifecycle names it in its logs: the configuration stays out of them.
    public var description: String { "GatewayService(port: \(configuration.port))" }

    public func run() async throws {
        // The schema is checked (or migrated) before the ledger's services start; see `tollgate serve`.
        // The admin token is read from the environment only, never from the configuration file.
        let adminToken = ProcessInfo.processInfo.environment["TOLLGATE_ADMIN_TOKEN"]
        let watch = configuration.priceBookWatch(logger: logger)
        let seen = watch?.fingerprint()  // before the start loads the book, so no edit slips between
        let gateway = try await GatewayServer.start(configuration: configuration, group: group, ledger: ledger, adminToken: adminToken, logger: logger)
        let reloads = Self.reloadPriceBook(onSignal: SIGHUP, gateway: gateway, logger: logger)
        let watching = watch.map { watch in Task { await watch.run(from: seen) { _ = try gateway.reloadPriceBook() } } }
        onStart(gateway)
        try? await gracefulShutdown()
        reloads.cancel()
        if let watching {
            watching.cancel()
            await watching.value
        }
        try await gateway.shutdown()
    }

    /// Re-reads the price book whenever the process gets `signal` (SIGHUP, as daemons do; without a
    /// handler it would end the process). The reload logs its outcome; a refused file changes nothing.
    private static func reloadPriceBook(onSignal signal: Int32, gateway: GatewayServer, logger: Logger) -> DispatchSourceSignal {
        Foundation.signal(signal, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
        source.setEventHandler {
            guard gateway.configuration.priceBookPath != nil else {
                return logger.warning("SIGHUP: nothing to reload, the configuration names no price book")
            }
            _ = try? gateway.reloadPriceBook()
        }
        source.resume()
        return source
    }
}
