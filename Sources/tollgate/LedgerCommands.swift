import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import TollgateConfig
import TollgateLedger
import TollgateMoney

/// `--database-url`, falling back to `TOLLGATE_DATABASE_URL`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "postgres://user@host:port/database (default: $TOLLGATE_DATABASE_URL)")
    var databaseURL: String?

    func resolved() throws -> DatabaseURL {
        guard let text = databaseURL ?? ProcessInfo.processInfo.environment["TOLLGATE_DATABASE_URL"], !text.isEmpty else {
            throw ValidationError("give --database-url or set TOLLGATE_DATABASE_URL")
        }
        return try DatabaseURL(text)
    }

    /// Runs `body` with a connected client and closes it afterwards. Ledger errors are printed
    /// as `error: <code>: <message>` and exit with status 1.
    func withClient<T: Sendable>(_ body: @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
        let url = try resolved()
        var logger = Logger(label: "tollgate")
        logger.logLevel = .warning
        var background = logger
        background.logLevel = .error
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2), backgroundLogger: background)
        do {
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(client, logger)
            }
        } catch let error as LedgerError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as PSQLError {
            let reason = error.serverInfo?[.message] ?? "\(error.code)"
            FileHandle.standardError.write(Data("error: PostgreSQL at \(url): \(reason)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `tollgate migrate`: applies pending migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the database migrations that are not applied yet.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Only report whether the schema is behind (exit status 3 when it is).")
    var check = false

    func run() async throws {
        let check = self.check
        try await database.withClient { client, logger in
            let migrator = Migrator(client: client, logger: logger)
            if check {
                let status = try await migrator.status()
                if let changed = status.changed.first {
                    throw LedgerError(.migrationChecksumMismatch, "\(changed.fileName) changed after it was applied")
                }
                print("applied: \(status.applied.count), pending: \(status.pending.map(\.fileName).joined(separator: ", "))")
                if status.isBehind { throw ExitCode(3) }
                return
            }
            let applied = try await migrator.migrate()
            try await UsagePartitions.ensure(client: client, logger: logger)
            if applied.isEmpty {
                print("schema is up to date (\(Migration.embedded.count) migrations)")
            } else {
                for migration in applied { print("applied \(migration.fileName)") }
            }
        }
    }
}

/// `tollgate keys create|list|revoke|update`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list, revoke and change team API keys.",
        subcommands: [Create.self, List.self, Revoke.self, Update.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key for a team; prints the key alone on the last line (shown only once).")

        @Option(help: "The team's name (created if new).") var team: String
        @Option(help: "A label for the key.") var name: String?
        @Option(help: "Budget as a decimal amount, e.g. 50 or 12.5.") var budget: String?
        @Option(name: .customLong("budget-period"), help: "total, daily, weekly or monthly.") var budgetPeriod: String = "total"
        @Option(help: "The budget's currency (the price book's).") var currency: String = "USD"
        @Option(help: "Requests per minute.") var rpm: Int?
        @Option(help: "Tokens per minute.") var tpm: Int?
        @Option(help: "Comma-separated models the key may use (default: any).") var models: String?
        @Option(help: "Expiry as ISO 8601, e.g. 2026-12-31 or 2026-12-31T12:00:00Z.") var expires: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let spec = NewKey(
                team: team, name: name, budget: try budget.map { try parseAmount($0, currency: currency) },
                budgetPeriod: try parsePeriod(budgetPeriod), requestsPerMinute: rpm, tokensPerMinute: tpm,
                models: parseList(models), expiresAt: try expires.map(parseDate))
            try await database.withClient { client, logger in
                try await Migrator(client: client, logger: logger).requireCurrent()
                let created = try await KeyStore(client: client, logger: logger).create(spec)
                let record = created.record
                print("team:    \(record.teamName)")
                print("prefix:  \(record.prefix)")
                if let nanos = record.budgetNanos {
                    print("budget:  \(Money(nanos: nanos, currency: record.currency)) \(record.budgetPeriod.rawValue)")
                }
                print("Store this key now; it is not shown again:")
                print(created.plaintext)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secret).")

        @Option(help: "Only this team's keys.") var team: String?
        @Flag(help: "Leave out revoked keys.") var active = false
        @Option(help: "table or json.") var format: String = "table"
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let (team, active, format) = (self.team, self.active, self.format)
            guard format == "table" || format == "json" else { throw ValidationError("--format is table or json") }
            try await database.withClient { client, logger in
                let keys = try await KeyStore(client: client, logger: logger).list(team: team, includeRevoked: !active)
                if format == "json" {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    encoder.dateEncodingStrategy = .iso8601
                    encoder.keyEncodingStrategy = .convertToSnakeCase
                    print(String(decoding: try encoder.encode(keys), as: UTF8.self))
                    return
                }
                var rows = [["PREFIX", "TEAM", "NAME", "BUDGET", "PERIOD", "RPM", "TPM", "MODELS", "EXPIRES", "STATUS"]]
                let now = Date()
                for key in keys {
                    let status = key.revokedAt != nil ? "revoked" : (key.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
                    rows.append([
                        key.prefix, key.teamName, key.name ?? "",
                        key.budgetNanos.map { Money(nanos: $0, currency: key.currency).description } ?? "-",
                        key.budgetPeriod.rawValue, key.requestsPerMinute.map(String.init) ?? "-",
                        key.tokensPerMinute.map(String.init) ?? "-", key.models.isEmpty ? "*" : key.models.joined(separator: ","),
                        key.expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-", status,
                    ])
                }
                printTable(rows)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key by its prefix; gateways stop accepting it within seconds.")

        @Argument(help: "The key's prefix as `keys list` shows it (or the whole key).") var prefix: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let prefix = APIKeyGenerator.prefix(of: self.prefix)
            try await database.withClient { client, logger in
                let record = try await KeyStore(client: client, logger: logger).revoke(prefix: prefix)
                print("revoked \(record.prefix) (team \(record.teamName))")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's limits, models or expiry.")

        @Argument(help: "The key's prefix.") var prefix: String
        @Option(help: "New budget (decimal), or `none`.") var budget: String?
        @Option(name: .customLong("budget-period")) var budgetPeriod: String?
        @Option var currency: String = "USD"
        @Option(help: "Requests per minute, or 0 for none.") var rpm: Int?
        @Option(help: "Tokens per minute, or 0 for none.") var tpm: Int?
        @Option(help: "Comma-separated models, or `*` for any.") var models: String?
        @Option(help: "Expiry (ISO 8601) or `never`.") var expires: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let change = try limitsUpdate(
                budget: budget, budgetPeriod: budgetPeriod, currency: currency, rpm: rpm, tpm: tpm)
            var update = change
            if let models { update.models = models == "*" ? [] : parseList(models) }
            if let expires { update.expiresAt = .some(expires == "never" ? nil : try parseDate(expires)) }
            let prefix = APIKeyGenerator.prefix(of: self.prefix)
            let final = update
            try await database.withClient { client, logger in
                let record = try await KeyStore(client: client, logger: logger).update(prefix: prefix, final)
                print("updated \(record.prefix)")
            }
        }
    }
}

/// `tollgate teams set`: a team's budget and rate limits.
struct TeamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teams", abstract: "Set team budgets and rate limits.", subcommands: [Set.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a team's budget and limits (creates the team).")

        @Option var team: String
        @Option(help: "Budget (decimal), or `none`.") var budget: String?
        @Option(name: .customLong("budget-period")) var budgetPeriod: String?
        @Option var currency: String = "USD"
        @Option(help: "Requests per minute, or 0 for none.") var rpm: Int?
        @Option(help: "Tokens per minute, or 0 for none.") var tpm: Int?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let change = try limitsUpdate(budget: budget, budgetPeriod: budgetPeriod, currency: currency, rpm: rpm, tpm: tpm)
            let team = self.team
            try await database.withClient { client, logger in
                let record = try await KeyStore(client: client, logger: logger).setTeamLimits(team: team, change)
                let budget = record.budgetNanos.map { "\(Money(nanos: $0, currency: record.currency)) \(record.budgetPeriod.rawValue)" }
                print("team \(record.name): budget \(budget ?? "none"), rpm \(record.requestsPerMinute.map(String.init) ?? "none"), tpm \(record.tokensPerMinute.map(String.init) ?? "none")")
            }
        }
    }
}

/// `tollgate report`: spend per team, model, target and day.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Spend and savings per team, model, target and day (UTC days, inclusive).")

    @Option(help: "First day, YYYY-MM-DD.") var from: String
    @Option(help: "Last day, YYYY-MM-DD (inclusive).") var to: String
    @Option(help: "Only this team.") var team: String?
    @Option(name: .customLong("group-by"), help: "Comma-separated: team, model, target, day (default: team).") var groupBy: String?
    @Option(help: "table, csv or json.") var format: String = "table"
    @Flag(
        name: .customLong("count-accuracy"),
        help: "Instead of spend: Tollgate's prompt counts against the engines' reported prompt tokens, per model, target and way of counting (exactly, estimated).")
    var countAccuracy = false
    @Flag(
        help: "With --count-accuracy: first recompute its daily rollup for these days from the ledger rows (days written by a replica older than migration 0004 lack it).")
    var rebuild = false
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        // A day and nothing after it: LedgerDay also reads the day of a timestamp.
        guard from.utf8.count == 10, let from = LedgerDay(from) else { throw ValidationError("--from must be YYYY-MM-DD") }
        guard to.utf8.count == 10, let to = LedgerDay(to) else { throw ValidationError("--to must be YYYY-MM-DD") }
        guard let format = ReportFormat(rawValue: format) else { throw ValidationError("--format is table, csv or json") }
        if countAccuracy {
            guard groupBy == nil else { throw ValidationError("--count-accuracy is always per model and target; leave out --group-by") }
            let query = ReportQuery(from: from, to: to, team: team)
            return try await database.withClient { client, logger in
                let reports = Reports(client: client, logger: logger)
                if rebuild {
                    let requests = try await reports.rebuildCountAccuracy(from: from, to: to)
                    FileHandle.standardError.write(Data("rebuilt the count-accuracy rollup of \(from) to \(to): \(requests) requests\n".utf8))
                }
                let rows = try await reports.countAccuracy(query)
                print(rows.rendered(as: format), terminator: "")
            }
        }
        guard !rebuild else { throw ValidationError("--rebuild goes with --count-accuracy") }
        var dimensions: [ReportDimension] = []
        for part in parseList(groupBy ?? "team") {
            guard let dimension = ReportDimension(rawValue: part) else {
                throw ValidationError("--group-by takes team, model, target, day; not \(part)")
            }
            dimensions.append(dimension)
        }
        let query = ReportQuery(from: from, to: to, team: team, groupBy: dimensions)
        try await database.withClient { client, logger in
            let report = try await Reports(client: client, logger: logger).report(query)
            print(report.rendered(as: format), terminator: "")
        }
    }
}

// MARK: Parsing helpers

private func parseAmount(_ text: String, currency: String) throws -> Money {
    guard let money = Money(decimal: text, currency: currency), money.nanos >= 0 else {
        throw ValidationError("\(text) is not an amount (a plain decimal such as 50 or 12.5)")
    }
    return money
}

private func parsePeriod(_ text: String) throws -> BudgetPeriod {
    guard let period = BudgetPeriod(rawValue: text) else {
        throw ValidationError("--budget-period is total, daily, weekly or monthly")
    }
    return period
}

private func parseList(_ text: String?) -> [String] {
    (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

private func parseDate(_ text: String) throws -> Date {
    do {
        return try ISOTime.parse(text, accepting: [.day, .offset])
    } catch {
        throw ValidationError(error.reason)
    }
}

private func limitsUpdate(budget: String?, budgetPeriod: String?, currency: String, rpm: Int?, tpm: Int?) throws -> LimitsUpdate {
    var change = LimitsUpdate()
    if let budget {
        change.budgetNanos = .some(budget == "none" ? nil : try parseAmount(budget, currency: currency).nanos)
        change.currency = currency
    }
    if let budgetPeriod { change.budgetPeriod = try parsePeriod(budgetPeriod) }
    if let rpm { change.requestsPerMinute = .some(rpm > 0 ? rpm : nil) }
    if let tpm { change.tokensPerMinute = .some(tpm > 0 ? tpm : nil) }
    return change
}

private func printTable(_ rows: [[String]]) {
    guard let header = rows.first else { return }
    var widths = header.map(\.count)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    for row in rows {
        print(row.enumerated().map { index, cell in cell + String(repeating: " ", count: widths[index] - cell.count) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}

extension DatabaseOptions {
    /// Before the ledger's services start: migrates when asked, else refuses a schema that is
    /// behind, so `serve` and `demo` never run their background jobs on a missing schema.
    static func prepareSchema(url: String, migrate: Bool) async throws {
        var options = DatabaseOptions()
        options.databaseURL = url
        try await options.withClient { client, logger in
            let migrator = Migrator(client: client, logger: logger)
            if migrate {
                try await migrator.migrate()
                try await UsagePartitions.ensure(client: client, logger: logger)
            } else {
                try await migrator.requireCurrent()
            }
        }
    }
}
