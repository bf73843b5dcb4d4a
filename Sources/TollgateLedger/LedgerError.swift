/// An error from the ledger, with a stable machine-readable ``code``.
///
/// Descriptions never contain key material, prompts or connection passwords.
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable codes; the gateway maps them to HTTP statuses and log fields.
    public enum Code: String, Sendable, Hashable {
        /// The database URL could not be understood.
        case invalidDatabaseURL = "invalid_database_url"
        /// An applied migration's file changed since it was applied.
        case migrationChecksumMismatch = "migration_checksum_mismatch"
        /// The database has migrations this build does not know (it is newer than the binary).
        case unknownMigration = "unknown_migration"
        /// A migration failed to apply; it was rolled back.
        case migrationFailed = "migration_failed"
        /// The schema is older than this build and `--migrate` was not given.
        case schemaBehind = "schema_behind"
        /// PostgreSQL did not answer in time or refused the connection.
        case databaseUnavailable = "database_unavailable"
        /// A named team or key does not exist.
        case notFound = "not_found"
        /// An argument was out of range or malformed.
        case invalidArgument = "invalid_argument"
        /// A report covered rows in more than one currency.
        case mixedCurrencies = "mixed_currencies"
        /// A spool file could not be written or read.
        case spoolFailed = "spool_failed"
    }

    public let code: Code
    /// A short human explanation, safe to print and log.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalidArgument(_ message: String) -> LedgerError { LedgerError(.invalidArgument, message) }
    static func notFound(_ message: String) -> LedgerError { LedgerError(.notFound, message) }
    static func unavailable(_ message: String) -> LedgerError { LedgerError(.databaseUnavailable, message) }
}

import PostgresNIO

/// A log-safe description of a database error: PostgresNIO hides details from `description`,
/// so this adds the SQLSTATE and the server's message (never bound values).
func describe(_ error: any Error) -> String {
    if let error = error as? PSQLError {
        let state = error.serverInfo?[.sqlState] ?? "-"
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        return "PostgreSQL \(state): \(message)"
    }
    if let error = error as? PostgresTransactionError {
        return describe(error.closureError ?? error.commitError ?? error.beginError ?? error)
    }
    return "\(error)"
}
