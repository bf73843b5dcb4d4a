import Foundation
import Logging
import PostgresNIO

/// Creates the ledger's daily partitions ahead of time.
///
/// Rows whose day has no partition land in `usage_events_default`, so nothing is ever refused.
/// If the default partition already holds rows of a day being created (an outage of this
/// maintenance), they are moved into the new partition in the same transaction.
public enum UsagePartitions {
    /// Ensures a partition exists for every UTC day from `start` for `days` days.
    public static func ensure(
        client: PostgresClient, from start: Date = Date().addingTimeInterval(-86_400), days: Int = 8,
        logger: Logger
    ) async throws {
        let existing = try await existingPartitions(client: client, logger: logger)
        for offset in 0..<days {
            let day = Self.dayStart(start).addingTimeInterval(Double(offset) * 86_400)
            let name = "usage_events_p" + Self.stamp(day, separator: "")
            if existing.contains(name) { continue }
            try await create(day: day, name: name, client: client, logger: logger)
        }
    }

    static func existingPartitions(client: PostgresClient, logger: Logger) async throws -> Set<String> {
        let rows = try await client.query(
            """
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = 'usage_events' AND p.relnamespace = to_regnamespace(current_schema())::oid
            """, logger: logger)
        var names = Set<String>()
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }

    private static func create(day: Date, name: String, client: PostgresClient, logger: Logger) async throws {
        let from = stamp(day, separator: "-")
        let to = stamp(day.addingTimeInterval(86_400), separator: "-")
        // Names and bounds are built from dates formatted here (digits and dashes only), never input.
        let bounds = "FROM ('\(from) 00:00:00+00') TO ('\(to) 00:00:00+00')"
        try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                // If this session stalls while holding the table lock (a dead client), the server
                // ends it rather than blocking every ledger insert.
                try await connection.query("SET LOCAL idle_in_transaction_session_timeout = '5s'", logger: logger)
                try await connection.query("SET LOCAL lock_timeout = '5s'", logger: logger)
                try await connection.query("SELECT pg_advisory_xact_lock(\(Migrator.lockKey + 1))", logger: logger)
                let exists = try await connection.query(
                    "SELECT to_regclass(\(name)) IS NOT NULL", logger: logger)
                for try await flag in exists.decode(Bool.self) where flag { return }
                // Block inserts (briefly) until the new partition is attached: an insert routed
                // with the old partition map would put the day's rows into the default partition
                // and fail its new constraint. The default's rows for this day move out meanwhile.
                try await connection.query(
                    "LOCK TABLE usage_events IN SHARE ROW EXCLUSIVE MODE", logger: logger)
                try await connection.query(
                    "LOCK TABLE usage_events_default IN SHARE ROW EXCLUSIVE MODE", logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE TABLE \(name) (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
                    logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            WITH moved AS (
                                DELETE FROM usage_events_default
                                WHERE started_at >= '\(from) 00:00:00+00' AND started_at < '\(to) 00:00:00+00'
                                RETURNING *)
                            INSERT INTO \(name) SELECT * FROM moved
                            """), logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "ALTER TABLE usage_events ATTACH PARTITION \(name) FOR VALUES \(bounds)"),
                    logger: logger)
            }
        }
        logger.debug("created ledger partition", metadata: ["tollgate.partition": "\(name)"])
    }

    static func dayStart(_ date: Date) -> Date {
        let seconds = floor(date.timeIntervalSince1970 / 86_400) * 86_400
        return Date(timeIntervalSince1970: seconds)
    }

    static func stamp(_ date: Date, separator: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.year!, 4) + separator + pad(parts.month!, 2) + separator + pad(parts.day!, 2)
    }
}
