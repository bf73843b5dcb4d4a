import Foundation
import Logging
import PostgresNIO
import Testing

@testable import TollgateLedger

/// A fresh, migrated PostgreSQL database per test, on the server named by
/// `TOLLGATE_TEST_DATABASE_URL` (scripts/pg-test-cluster.sh start prints one).
///
/// Without that variable the test fails with a message saying how to get one: these tests are
/// the proof that the ledger works against a real PostgreSQL, so they never skip.
enum TestDatabase {
    static let logger: Logger = {
        var logger = Logger(label: "tollgate.ledger.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TOLLGATE_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }()

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "TOLLGATE_TEST_DATABASE_URL is not set: start a server with "
                + "`export TOLLGATE_TEST_DATABASE_URL=$(scripts/pg-test-cluster.sh start)` and run the tests again"
        }
    }

    static func baseURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["TOLLGATE_TEST_DATABASE_URL"], !text.isEmpty else {
            Issue.record(Comment(rawValue: Missing().description))
            throw Missing()
        }
        return try DatabaseURL(text)
    }

    /// Creates `tg_<tag>_<random>`, optionally migrates it, runs `body` with a running client,
    /// then drops the database.
    static func trace(_ text: String) {
        if ProcessInfo.processInfo.environment["TOLLGATE_TEST_TRACE"] != nil {
            FileHandle.standardError.write(Data("[trace] \(text)\n".utf8))
        }
    }

    static func with<T: Sendable>(
        _ tag: String, migrate: Bool = true,
        _ body: @Sendable (PostgresClient, DatabaseURL) async throws -> T
    ) async throws -> T {
        let base = try baseURL()
        let name = "tg_\(tag)_\(UInt32.random(in: 0...UInt32.max))"
        trace("\(name) create")
        try await admin(base) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        trace("\(name) created")
        let url = base.with(database: name)
        do {
            let result = try await withClient(url) { client in
                if migrate { try await Migrator(client: client, logger: logger).migrate() }
                trace("\(name) migrated")
                let result = try await body(client, url)
                trace("\(name) body done")
                return result
            }
            trace("\(name) client closed")
            try await drop(name, base: base)
            trace("\(name) dropped")
            return result
        } catch {
            try? await drop(name, base: base)
            throw error
        }
    }

    static func drop(_ name: String, base: DatabaseURL) async throws {
        try await admin(base) {
            try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    /// Runs `body` with a client whose `run()` is going, and stops it afterwards.
    static func withClient<T: Sendable>(
        _ url: DatabaseURL, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 20), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func admin(_ base: DatabaseURL, _ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        try await withClient(base, body)
    }

    /// A temporary folder, removed after `body`.
    static func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "tollgate-ledger-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    static func count(_ client: PostgresClient, _ sql: String) async throws -> Int64 {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        return -1
    }
}
