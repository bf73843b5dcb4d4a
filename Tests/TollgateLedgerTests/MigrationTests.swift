import Foundation
import PostgresNIO
import Testing

@testable import TollgateLedger

@Suite("Migrations")
struct MigrationTests {
    /// migrations/*.sql is the source of truth; the embedded copy must match it byte for byte.
    @Test func embeddedMigrationsMatchTheFolder() throws {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.embedded.map(\.fileName), "run scripts/generate-migrations.sh")
        for migration in Migration.embedded {
            let text = try String(contentsOf: folder.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(
                text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines),
                "\(migration.fileName) differs from EmbeddedMigrations.swift: run scripts/generate-migrations.sh")
        }
        #expect(Migration.embedded.map(\.version) == Array(1...Migration.embedded.count))
    }

    @Test func splitterKeepsQuotedSemicolonsTogether() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            /* block; comment */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            CREATE FUNCTION g() RETURNS int AS $body$ BEGIN RETURN 2; END $body$ LANGUAGE plpgsql;
            SELECT "odd;name" FROM a;
            -- trailing comment only
            """
        let statements = SQLStatementSplitter.split(sql)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("DEFAULT 'a;b')"))
        #expect(statements[1].contains("SELECT 1; $$ LANGUAGE sql"))
        #expect(statements[2].contains("RETURN 2; END $body$"))
        #expect(statements[3] == "SELECT \"odd;name\" FROM a")
    }

    @Test func appliesOnceAndRecordsChecksums() async throws {
        try await TestDatabase.with("migrate", migrate: false) { client, _ in
            let migrator = Migrator(client: client, logger: TestDatabase.logger)
            #expect(try await migrator.isBehind())
            await #expect(throws: LedgerError.self) { try await migrator.requireCurrent() }
            let first = try await migrator.migrate()
            #expect(first.map(\.version) == Migration.embedded.map(\.version))
            let second = try await migrator.migrate()
            #expect(second.isEmpty)
            #expect(try await migrator.isBehind() == false)
            try await migrator.requireCurrent()
            let rows = try await client.query("SELECT checksum FROM schema_migrations WHERE version = 1", logger: TestDatabase.logger)
            var recorded: [String] = []
            for try await sum in rows.decode(String.self) { recorded.append(sum) }
            #expect(recorded == [Migration.embedded[0].checksum])
            #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 0)
        }
    }

    @Test func refusesAChangedMigration() async throws {
        try await TestDatabase.with("changed", migrate: false) { client, _ in
            let original = Migration(version: 1, name: "one", sql: "CREATE TABLE one (x int);")
            try await Migrator(client: client, migrations: [original], logger: TestDatabase.logger).migrate()
            let edited = Migration(version: 1, name: "one", sql: "CREATE TABLE one (x bigint);")
            let next = Migration(version: 2, name: "two", sql: "CREATE TABLE two (x int);")
            let migrator = Migrator(client: client, migrations: [edited, next], logger: TestDatabase.logger)
            do {
                try await migrator.migrate()
                Issue.record("a changed migration was accepted")
            } catch let error as LedgerError {
                #expect(error.code == .migrationChecksumMismatch)
                #expect(error.message.contains("0001_one.sql"))
            }
            // Nothing after the changed file was applied.
            #expect(try await TestDatabase.count(client, "SELECT count(*) FROM schema_migrations") == 1)
            let status = try await migrator.status()
            #expect(status.changed.map(\.version) == [1])
        }
    }

    @Test func aFailingMigrationRollsBack() async throws {
        try await TestDatabase.with("rollback", migrate: false) { client, _ in
            let bad = Migration(version: 1, name: "bad", sql: "CREATE TABLE half (x int); SELECT no_such_column FROM half;")
            let migrator = Migrator(client: client, migrations: [bad], logger: TestDatabase.logger)
            await #expect(throws: LedgerError.self) { try await migrator.migrate() }
            let leftovers = try await TestDatabase.count(client, "SELECT count(*) FROM pg_class WHERE relname = 'half'")
            #expect(leftovers == 0)
            let behind = try await migrator.isBehind()
            #expect(behind)
        }
    }
}
