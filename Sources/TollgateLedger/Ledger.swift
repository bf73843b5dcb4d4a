import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Everything the gateway needs from PostgreSQL, built from one database URL.
///
/// ```swift
/// let ledger = try Ledger(databaseURL: url, configuration: .init(spoolDirectory: "/var/lib/tollgate/spool"), logger: logger)
/// try await ledger.checkSchema(migrate: migrateFlag)   // needs ledger.client running
/// let group = ServiceGroup(services: ledger.services + [gateway], ...)
/// ```
///
/// Run ``services`` in a `ServiceGroup` in the order given (the PostgreSQL client first):
/// graceful shutdown stops services in reverse order, so the gateway stops taking requests first,
/// then the usage writer drains, budgets return their leases, and the client closes last.
public final class Ledger: Sendable {
    public struct Configuration: Sendable {
        /// This process's identity for leases and the replica count (default: host name and PID).
        public var replicaID: String
        public var maximumConnections = 20
        public var keys = KeyDirectory.Configuration()
        /// The usage writer's settings, including this replica's spool folder (never shared).
        public var usage: UsageWriter.Configuration
        public var budgets: BudgetGuard.Configuration
        public var rateLimits: RateLimiter.Configuration

        public init(spoolDirectory: String, replicaID: String? = nil) {
            let replica = replicaID ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
            self.replicaID = replica
            self.usage = UsageWriter.Configuration(spoolDirectory: spoolDirectory)
            self.budgets = BudgetGuard.Configuration(replicaID: replica)
            self.rateLimits = RateLimiter.Configuration(replicaID: replica)
        }
    }

    public let client: PostgresClient
    /// Hot-path key lookups (cached; refreshed by its service).
    public let keys: KeyDirectory
    /// Admin operations on teams and keys.
    public let keyStore: KeyStore
    /// Budget admission: reserve, settle, release.
    public let budgets: BudgetGuard
    /// Requests and tokens per minute.
    public let rateLimiter: RateLimiter
    /// The usage ledger writer: `record(_:)` never blocks.
    public let usage: UsageWriter
    /// Spend reports.
    public let reports: Reports
    public let databaseURL: DatabaseURL
    private let logger: Logger

    public init(databaseURL: String, configuration: Configuration, logger: Logger) throws {
        let url = try DatabaseURL(databaseURL)
        self.databaseURL = url
        self.logger = logger
        self.client = PostgresClient(
            configuration: url.clientConfiguration(maximumConnections: configuration.maximumConnections),
            backgroundLogger: logger)
        self.keys = KeyDirectory(client: client, configuration: configuration.keys, logger: logger)
        self.keyStore = KeyStore(client: client, logger: logger)
        self.budgets = BudgetGuard(client: client, configuration: configuration.budgets, logger: logger)
        self.rateLimiter = RateLimiter(client: client, configuration: configuration.rateLimits, logger: logger)
        self.usage = try UsageWriter(client: client, configuration: configuration.usage, logger: logger)
        self.reports = Reports(client: client, logger: logger)
    }

    /// The long-running services, in start order: client, keys, rate limiter, budgets, usage.
    public var services: [any Service] { [client, keys, rateLimiter, budgets, usage] }

    /// The migrator for this database.
    public var migrator: Migrator { Migrator(client: client, logger: logger) }

    /// Refuses a schema that is behind unless `migrate` is true, in which case it migrates.
    /// Call with ``client`` running.
    public func checkSchema(migrate: Bool) async throws {
        if migrate {
            try await migrator.migrate()
        } else {
            try await migrator.requireCurrent()
        }
    }
}
