import Foundation
import PostgresNIO

/// How Tollgate counted a prompt, as its ledger row records it (`prompt_count_exact`; spelled out
/// in `count_accuracy_daily.counted`).
public enum PromptCounting: String, Sendable, Hashable {
    /// Laid out and tokenized as DeepSeek V4 does: an error here is a drift of the engine's chat
    /// template or tokenizer.
    case exactly
    /// Part of the prompt was approximated (images, unknown roles: docs/TOKENIZER.md), so the
    /// error includes the approximation's.
    case estimated
    /// Written before the ledger recorded how (migration 0003).
    case unrecorded
}

/// The rollup `count_accuracy_daily` over ledger rows: its columns, summed per day, team, model,
/// target and way of counting, and the rows it compares. One text for the usage writer (over the
/// rows it inserts) and the rebuild (over `usage_events`), so the two cannot drift; migration
/// 0004's backfill is the same, frozen as migrations are.
enum CountAccuracyRollup {
    static let columns = "day, team_id, requested_model, target, counted, requests, exact, tollgate_tokens, engine_tokens, abs_error, max_error"
    static let sums = """
        (started_at AT TIME ZONE 'UTC')::date, team_id, requested_model, target,
        CASE WHEN prompt_count_exact THEN 'exactly' WHEN NOT prompt_count_exact THEN 'estimated' ELSE 'unrecorded' END,
        count(*), count(*) FILTER (WHERE prompt_tokens_estimated = prompt_tokens),
        sum(prompt_tokens_estimated), sum(prompt_tokens),
        sum(abs(prompt_tokens_estimated - prompt_tokens)), max(abs(prompt_tokens_estimated - prompt_tokens))
        """
    static let compared = "NOT usage_estimated AND prompt_tokens_estimated > 0 AND status_code < 400"
}

/// How Tollgate's own prompt count (taken before routing, for the estimate) compares with the
/// prompt tokens the engine reported, per model, target and way of counting. A count drifts when
/// an engine's chat template or tokenizer changes; this is where that shows (docs/TOKENIZER.md).
///
/// Only answered requests whose engine reported usage and whose prompt Tollgate counted are
/// compared (`usage_estimated` false, `prompt_tokens_estimated` above zero, status below 400).
public struct CountAccuracyRow: Sendable, Hashable {
    public var model: String
    public var target: String
    public var counted: PromptCounting
    /// Requests compared.
    public var requests: Int64
    /// Requests whose count equalled the engine's.
    public var exact: Int64
    public var tollgateTokens: Int64
    public var engineTokens: Int64
    /// Sum over the requests of |Tollgate's count − the engine's|.
    public var absoluteError: Int64
    public var maxError: Int64

    /// The share of requests counted exactly, in percent with two decimals (nil without requests).
    public var exactPercent: String? { twoDecimals(exact, times: 100, over: requests) }
    /// The mean |error| per request, in tokens with two decimals.
    public var meanError: String? { twoDecimals(absoluteError, times: 1, over: requests) }
}

extension Reports {
    /// Tollgate's prompt counts against the engines', per model, target and way of counting (exact
    /// counts first), between `query`'s days (its `team`, when set; its grouping is ignored). Reads
    /// the daily rollup the usage writer keeps (`count_accuracy_daily`), like the spend report.
    public func countAccuracy(_ query: ReportQuery) async throws -> [CountAccuracyRow] {
        guard query.from <= query.to else { throw LedgerError.invalidArgument("--from is after --to") }
        let from = query.from.description
        let to = query.to.description
        let rows = try await client.query(
            """
            SELECT a.requested_model, a.target, a.counted, sum(a.requests)::int8, sum(a.exact)::int8,
                   sum(a.tollgate_tokens)::int8, sum(a.engine_tokens)::int8, sum(a.abs_error)::int8,
                   max(a.max_error)::int8
            FROM count_accuracy_daily a JOIN teams t ON t.id = a.team_id
            WHERE a.day BETWEEN \(from)::date AND \(to)::date
              AND (\(query.team)::text IS NULL OR t.name = \(query.team))
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, CASE a.counted WHEN 'exactly' THEN 0 WHEN 'estimated' THEN 1 ELSE 2 END
            """, logger: logger)
        var result: [CountAccuracyRow] = []
        for try await row in rows {
            let c = Array(row)
            result.append(
                CountAccuracyRow(
                    model: try c[0].decode(String.self), target: try c[1].decode(String.self),
                    counted: PromptCounting(rawValue: try c[2].decode(String.self)) ?? .unrecorded,  // CHECKed: one of the three
                    requests: try c[3].decode(Int64.self), exact: try c[4].decode(Int64.self),
                    tollgateTokens: try c[5].decode(Int64.self), engineTokens: try c[6].decode(Int64.self),
                    absoluteError: try c[7].decode(Int64.self), maxError: try c[8].decode(Int64.self)))
        }
        return result
    }
}

extension Reports {
    /// Recomputes `count_accuracy_daily` for the days `from` through `to` (all teams) from the
    /// ledger rows, and returns the requests it now holds for them. For days written by a replica
    /// still running a build from before migration 0004, which wrote no rollup.
    ///
    /// The table lock makes writers wait until the rebuild commits: a batch that had already added
    /// itself is committed before the lock is granted (and recounted here); one that had not adds
    /// itself after. Either way every row counts once. A long range can hold writers past their
    /// timeout; those batches go to the spool, which replays them.
    public func rebuildCountAccuracy(from: LedgerDay, to: LedgerDay) async throws -> Int64 {
        guard from <= to else { throw LedgerError.invalidArgument("--from is after --to") }
        let first = from.description
        let last = to.description
        return try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("LOCK TABLE count_accuracy_daily IN SHARE ROW EXCLUSIVE MODE", logger: logger)
                try await connection.query(
                    "DELETE FROM count_accuracy_daily WHERE day BETWEEN \(first)::date AND \(last)::date", logger: logger)
                let inserted = try await connection.query(
                    """
                    WITH added AS (
                        INSERT INTO count_accuracy_daily (\(unescaped: CountAccuracyRollup.columns))
                        SELECT \(unescaped: CountAccuracyRollup.sums)
                        FROM usage_events
                        WHERE started_at >= (\(first)::date)::timestamp AT TIME ZONE 'UTC'
                          AND started_at < ((\(last)::date + 1)::timestamp AT TIME ZONE 'UTC')
                          AND \(unescaped: CountAccuracyRollup.compared)
                        GROUP BY 1, 2, 3, 4, 5
                        RETURNING requests
                    )
                    SELECT coalesce(sum(requests), 0)::int8 FROM added
                    """, logger: logger)
                for try await requests in inserted.decode(Int64.self) { return requests }
                return 0
            }
        }
    }
}

extension [CountAccuracyRow] {
    /// The rows as a text table or JSON (`{"rows": [...]}`), ending with a newline.
    public func rendered(as format: ReportFormat) -> String {
        let headers = [
            "model", "target", "counted", "requests", "exact", "exact_percent", "tollgate_tokens", "engine_tokens",
            "mean_abs_error", "max_abs_error",
        ]
        func cells(_ row: CountAccuracyRow) -> [String] {
            [
                row.model, row.target, row.counted.rawValue, String(row.requests), String(row.exact), row.exactPercent ?? "",
                String(row.tollgateTokens), String(row.engineTokens), row.meanError ?? "", String(row.maxError),
            ]
        }
        switch format {
        case .json:
            let objects: [[String: Any]] = map { row in
                [
                    "model": row.model, "target": row.target, "counted": row.counted.rawValue, "requests": row.requests,
                    "exact": row.exact, "exact_percent": row.exactPercent as Any? ?? NSNull(), "tollgate_tokens": row.tollgateTokens,
                    "engine_tokens": row.engineTokens, "mean_abs_error": row.meanError as Any? ?? NSNull(),
                    "max_abs_error": row.maxError,
                ]
            }
            let data = (try? JSONSerialization.data(withJSONObject: ["rows": objects], options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        case .csv:
            return ([headers.joined(separator: ",")] + map { cells($0).map(ReportFormat.csvField).joined(separator: ",") })
                .joined(separator: "\n") + "\n"
        case .table:
            let (lines, rule) = ReportFormat.alignedColumns([headers] + map(cells), textColumns: 3)
            return ([lines[0], rule] + lines.dropFirst()).joined(separator: "\n") + "\n"
        }
    }
}
