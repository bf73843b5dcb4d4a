import Logging
import PostgresNIO

/// Where a database's schema stands against the migrations of this build.
public struct MigrationStatus: Sendable, Hashable {
    /// Versions recorded in `schema_migrations`, in order.
    public var applied: [Int]
    /// Migrations of this build not yet applied, in order.
    public var pending: [Migration]
    /// Applied migrations whose SQL changed since (a refused state: fix the file, never the database).
    public var changed: [Migration]
    /// Versions applied to the database that this build does not have (the database is newer).
    public var unknown: [Int]

    /// True when `migrate` has work to do.
    public var isBehind: Bool { !pending.isEmpty }
}

/// Applies the numbered migrations in order, each in its own transaction, and records each one
/// with the SHA-256 of its SQL in `schema_migrations`.
///
/// Several processes may migrate at once: an advisory lock serialises them and each
/// re-checks what is applied under the lock, so every migration runs exactly once.
public struct Migrator: Sendable {
    /// The advisory lock key all Tollgate migrators share ("tollgate" in ASCII, truncated).
    static let lockKey: Int64 = 0x746F_6C6C_6761_7465

    let client: PostgresClient
    let migrations: [Migration]
    let logger: Logger

    public init(client: PostgresClient, migrations: [Migration] = Migration.embedded, logger: Logger) {
        self.client = client
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Compares the database with this build's migrations without changing anything.
    public func status() async throws -> MigrationStatus {
        try await ensureTable()
        let recorded = try await appliedChecksums(client: client)
        return Self.compare(recorded: recorded, migrations: migrations)
    }

    /// True when the schema lacks migrations of this build (`serve` refuses to start then).
    public func isBehind() async throws -> Bool {
        let status = try await status()
        try Self.refuseChanged(status)
        return status.isBehind
    }

    /// Throws ``LedgerError/Code/schemaBehind`` unless every migration of this build is applied
    /// unchanged.
    public func requireCurrent() async throws {
        let status = try await status()
        try Self.refuseChanged(status)
        if let first = status.pending.first {
            throw LedgerError(
                .schemaBehind,
                "the database schema is behind: \(status.pending.count) migration(s) pending from "
                    + "\(first.fileName); run `tollgate migrate` or start with --migrate")
        }
    }

    /// Applies every pending migration; returns those applied by this call.
    ///
    /// Refuses (before applying anything) when an applied migration's SQL changed.
    @discardableResult
    public func migrate() async throws -> [Migration] {
        try Self.refuseChanged(try await status())
        var appliedNow: [Migration] = []
        for migration in migrations {
            let didApply: Bool
            do {
                didApply = try await client.withConnection { connection in
                    try await apply(migration, on: connection)
                }
            } catch let error as PostgresTransactionError {
                // Surface our own error (it says which file and why), not the transaction wrapper.
                if let inner = error.closureError as? LedgerError { throw inner }
                throw error
            }
            if didApply { appliedNow.append(migration) }
        }
        return appliedNow
    }

    private func apply(_ migration: Migration, on connection: PostgresConnection) async throws -> Bool {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            let recorded = try await appliedChecksums(connection: connection)
            if let checksum = recorded[migration.version] {
                guard checksum == migration.checksum else {
                    throw Self.changedError(migration)
                }
                return false
            }
            for statement in SQLStatementSplitter.split(migration.sql) {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                } catch let error as PSQLError {
                    let reason = error.serverInfo?[.message] ?? "\(error.code)"
                    throw LedgerError(.migrationFailed, "\(migration.fileName) failed and was rolled back: \(reason)")
                }
            }
            let checksum = migration.checksum
            try await connection.query(
                """
                INSERT INTO schema_migrations (version, name, checksum)
                VALUES (\(migration.version), \(migration.name), \(checksum))
                """, logger: logger)
            logger.info(
                "applied migration", metadata: ["tollgate.migration": "\(migration.fileName)"])
            return true
        }
    }

    private func ensureTable() async throws {
        try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version    integer     PRIMARY KEY,
                        name       text        NOT NULL,
                        checksum   text        NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """, logger: logger)
            }
        }
    }

    private func appliedChecksums(client: PostgresClient) async throws -> [Int: String] {
        try await client.withConnection { try await appliedChecksums(connection: $0) }
    }

    private func appliedChecksums(connection: PostgresConnection) async throws -> [Int: String] {
        let rows = try await connection.query(
            "SELECT version, checksum FROM schema_migrations ORDER BY version", logger: logger)
        var result: [Int: String] = [:]
        for try await (version, checksum) in rows.decode((Int, String).self) {
            result[version] = checksum
        }
        return result
    }

    static func compare(recorded: [Int: String], migrations: [Migration]) -> MigrationStatus {
        let known = Set(migrations.map(\.version))
        return MigrationStatus(
            applied: recorded.keys.sorted(),
            pending: migrations.filter { recorded[$0.version] == nil },
            changed: migrations.filter { migration in
                recorded[migration.version].map { $0 != migration.checksum } ?? false
            },
            unknown: recorded.keys.filter { !known.contains($0) }.sorted()
        )
    }

    static func refuseChanged(_ status: MigrationStatus) throws {
        if let changed = status.changed.first { throw changedError(changed) }
    }

    static func changedError(_ migration: Migration) -> LedgerError {
        LedgerError(
            .migrationChecksumMismatch,
            "\(migration.fileName) was changed after it was applied (its SHA-256 differs from the one "
                + "recorded in schema_migrations); restore the file and put the change in a new migration")
    }
}
