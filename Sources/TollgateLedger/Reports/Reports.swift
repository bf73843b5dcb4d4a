import Foundation
import Logging
import PostgresNIO

/// Spend reports per team, model, target and day, read from the daily rollup that the usage
/// writer maintains in the same statement as the ledger rows (so they always agree; see
/// ``ledgerTotals(_:)`` to check). All sums are exact 64-bit integers of nano-units.
public struct Reports: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// The currency of an empty report.
    public var defaultCurrency: String

    public init(client: PostgresClient, logger: Logger, defaultCurrency: String = "USD") {
        self.client = client
        self.logger = logger
        self.defaultCurrency = defaultCurrency
    }

    /// Builds the report. Throws ``LedgerError/Code/mixedCurrencies`` when the rows span currencies.
    public func report(_ query: ReportQuery) async throws -> Report {
        guard query.from <= query.to else { throw LedgerError.invalidArgument("--from is after --to") }
        var dimensions: [ReportDimension] = []
        for dimension in query.groupBy where !dimensions.contains(dimension) { dimensions.append(dimension) }
        let expressions = dimensions.map { dimension -> String in
            switch dimension {
            case .team: return "t.name"
            case .model: return "d.requested_model"
            case .target: return "d.target"
            case .day: return "d.day::text"
            }
        }
        // Column expressions come from the fixed list above, never from input.
        let select = (expressions + ["d.currency"]).joined(separator: ", ")
        let groupBy = (1...(expressions.count + 1)).map(String.init).joined(separator: ", ")
        let from = query.from.description
        let to = query.to.description
        let rows = try await client.query(
            """
            SELECT \(unescaped: select),
                   sum(d.requests)::int8, sum(d.errors)::int8, sum(d.prompt_tokens)::int8,
                   sum(d.cache_hit_tokens)::int8, sum(d.completion_tokens)::int8, sum(d.reasoning_tokens)::int8,
                   sum(d.cost_nanos)::int8, sum(d.list_cost_nanos)::int8
            FROM usage_daily d JOIN teams t ON t.id = d.team_id
            WHERE d.day BETWEEN \(from)::date AND \(to)::date
              AND (\(query.team)::text IS NULL OR t.name = \(query.team))
            GROUP BY \(unescaped: groupBy) ORDER BY \(unescaped: groupBy)
            """, logger: logger)
        var result: [ReportRow] = []
        var currencies = Set<String>()
        var total = UsageTotals()
        for try await row in rows {
            let cells = Array(row)
            var reportRow = ReportRow(currency: "", totals: UsageTotals())
            for (index, dimension) in dimensions.enumerated() {
                let value = try cells[index].decode(String.self)
                switch dimension {
                case .team: reportRow.team = value
                case .model: reportRow.model = value
                case .target: reportRow.target = value
                case .day: reportRow.day = LedgerDay(value)
                }
            }
            var index = dimensions.count
            reportRow.currency = try cells[index].decode(String.self)
            index += 1
            var totals = UsageTotals()
            totals.requests = try cells[index].decode(Int64.self)
            totals.errors = try cells[index + 1].decode(Int64.self)
            totals.promptTokens = try cells[index + 2].decode(Int64.self)
            totals.cacheHitTokens = try cells[index + 3].decode(Int64.self)
            totals.completionTokens = try cells[index + 4].decode(Int64.self)
            totals.reasoningTokens = try cells[index + 5].decode(Int64.self)
            totals.costNanos = try cells[index + 6].decode(Int64.self)
            totals.listCostNanos = try cells[index + 7].decode(Int64.self)
            reportRow.totals = totals
            try total.add(totals)
            currencies.insert(reportRow.currency)
            result.append(reportRow)
        }
        guard currencies.count <= 1 else {
            throw LedgerError(
                .mixedCurrencies,
                "the ledger rows in this range use \(currencies.sorted().joined(separator: ", ")); report one price book at a time")
        }
        return Report(query: query, rows: result, total: total, currency: currencies.first ?? defaultCurrency)
    }

    /// The same totals computed straight from the ledger rows (slow on large ranges): the
    /// reconciliation check for the rollup the reports read.
    public func ledgerTotals(_ query: ReportQuery) async throws -> UsageTotals {
        let from = query.from.description
        let to = query.to.description
        let rows = try await client.query(
            """
            SELECT count(*)::int8, count(*) FILTER (WHERE u.status_code >= 400)::int8,
                   coalesce(sum(u.prompt_tokens), 0)::int8, coalesce(sum(u.cache_hit_tokens), 0)::int8,
                   coalesce(sum(u.completion_tokens), 0)::int8, coalesce(sum(u.reasoning_tokens), 0)::int8,
                   coalesce(sum(u.cost_nanos), 0)::int8, coalesce(sum(u.list_cost_nanos), 0)::int8
            FROM usage_events u JOIN teams t ON t.id = u.team_id
            WHERE u.started_at >= (\(from)::date)::timestamp AT TIME ZONE 'UTC'
              AND u.started_at < ((\(to)::date + 1)::timestamp AT TIME ZONE 'UTC')
              AND (\(query.team)::text IS NULL OR t.name = \(query.team))
            """, logger: logger)
        var totals = UsageTotals()
        for try await row in rows {
            let c = Array(row)
            totals.requests = try c[0].decode(Int64.self)
            totals.errors = try c[1].decode(Int64.self)
            totals.promptTokens = try c[2].decode(Int64.self)
            totals.cacheHitTokens = try c[3].decode(Int64.self)
            totals.completionTokens = try c[4].decode(Int64.self)
            totals.reasoningTokens = try c[5].decode(Int64.self)
            totals.costNanos = try c[6].decode(Int64.self)
            totals.listCostNanos = try c[7].decode(Int64.self)
        }
        return totals
    }
}
