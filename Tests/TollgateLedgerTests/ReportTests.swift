import Foundation
import PostgresNIO
import Testing
import TollgateMoney

@testable import TollgateLedger

@Suite("Reports")
struct ReportTests {
    /// A report's days are read strictly: a day that does not exist, or a sign `Int` would take.
    @Test func daysAreReadStrictly() {
        #expect(LedgerDay("2024-02-29")?.description == "2024-02-29")
        #expect(LedgerDay("2026-12-07T10:00:00Z")?.description == "2026-12-07")
        for text in ["2026-02-29", "2026-+1-01", "2026-01-+1", "+026-01-01", "2026-1-01", "2026/01/01", ""] {
            #expect(LedgerDay(text) == nil, "\(text)")
        }
    }

    @Test func totalsReconcileExactlyWithTheLedger() async throws {
        try await TestDatabase.with("reports") { client, _ in
            let store = KeyStore(client: client, logger: TestDatabase.logger)
            let alpha = try await store.ensureTeam(name: "alpha")
            let beta = try await store.ensureTeam(name: "beta")
            let day1 = LedgerDay("2026-03-01")!
            let start = Date(timeIntervalSince1970: 1_772_323_200)  // 2026-03-01T00:00:00Z
            #expect(LedgerDay(start) == day1)
            var events: [UsageEvent] = []
            for index in 0..<3_000 {
                let team = index % 3 == 0 ? beta.id : alpha.id
                let day = start.addingTimeInterval(Double(index % 4) * 86_400)
                let model = index % 2 == 0 ? "deepseek-v4-flash" : "deepseek-v4-pro"
                let target = index % 5 == 0 ? "deepseek-api" : "local"
                events.append(UsageFixtures.event(index, team: team, day: day, model: model, target: target))
            }
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                for event in events { writer.record(event) }
                await writer.flush()
            }
            let reports = Reports(client: client, logger: TestDatabase.logger)
            let query = ReportQuery(from: day1, to: LedgerDay("2026-03-03")!, groupBy: [.team, .model, .target, .day])
            let report = try await reports.report(query)
            let inRange = events.filter { $0.startedAt < start.addingTimeInterval(3 * 86_400) }
            #expect(report.total.requests == Int64(inRange.count))
            #expect(report.total.costNanos == inRange.reduce(0) { $0 + $1.costNanos })
            #expect(report.total.listCostNanos == inRange.reduce(0) { $0 + $1.listCostNanos })
            #expect(report.total.completionTokens == Int64(inRange.reduce(0) { $0 + $1.completionTokens }))
            #expect(report.total.errors == Int64(inRange.filter { $0.statusCode >= 400 }.count))
            #expect(report.total == (try await reports.ledgerTotals(query)))
            let groups = Set(inRange.map { "\($0.teamID)|\($0.requestedModel)|\($0.target)|\(LedgerDay($0.startedAt))" })
            #expect(report.rows.count == groups.count)
            #expect(report.rows.count > 8)
            #expect(report.rows.reduce(0) { $0 + $1.totals.requests } == report.total.requests)

            // Team filter and grouping by team only.
            let betaOnly = try await reports.report(ReportQuery(from: day1, to: LedgerDay("2026-03-31")!, team: "beta"))
            let betaEvents = events.filter { $0.teamID == beta.id }
            #expect(betaOnly.rows.map(\.team) == ["beta"])
            #expect(betaOnly.total.costNanos == betaEvents.reduce(0) { $0 + $1.costNanos })
            #expect(betaOnly.total == (try await reports.ledgerTotals(ReportQuery(from: day1, to: LedgerDay("2026-03-31")!, team: "beta"))))

            // JSON shape: rows and total with decimal strings.
            let json = try JSONSerialization.jsonObject(with: Data(betaOnly.jsonString().utf8)) as! [String: Any]
            let total = json["total"] as! [String: Any]
            #expect(total["requests"] as? Int == betaEvents.count)
            #expect(total["cost"] as? String == Money(nanos: betaOnly.total.costNanos, currency: "USD").decimalString)
            #expect(total["currency"] as? String == "USD")
            #expect(total["savings"] as? String == Money(nanos: betaOnly.total.listCostNanos - betaOnly.total.costNanos, currency: "USD").decimalString)
            #expect((json["rows"] as? [[String: Any]])?.count == 1)
            let csv = betaOnly.rendered(as: .csv).split(separator: "\n")
            #expect(csv.count == 2)
            #expect(csv[0].hasPrefix("team,requests,"))
            #expect(betaOnly.rendered(as: .table).contains("TOTAL"))
        }
    }

    @Test func mixedCurrenciesAreRefusedAndEmptyReportsAreZero() async throws {
        try await TestDatabase.with("currency") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "fx")
            let reports = Reports(client: client, logger: TestDatabase.logger)
            let query = ReportQuery(from: LedgerDay("2026-01-01")!, to: LedgerDay("2026-12-31")!)
            let empty = try await reports.report(query)
            #expect(empty.rows.isEmpty)
            #expect(empty.total.requests == 0)
            #expect(empty.currency == "USD")
            let day = Date(timeIntervalSince1970: 1_772_323_200)
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                writer.record(UsageFixtures.event(1, team: team.id, day: day, currency: "USD"))
                writer.record(UsageFixtures.event(2, team: team.id, day: day, currency: "CNY"))
                await writer.flush()
            }
            do {
                _ = try await reports.report(query)
                Issue.record("mixed currencies were summed")
            } catch let error as LedgerError {
                #expect(error.code == .mixedCurrencies)
            }
        }
    }

    /// Tollgate's prompt counts against the engines', recomputed here from the events written:
    /// only answered requests with engine usage and a count of Tollgate's own are compared.
    @Test func countAccuracyComparesTollgatesCountsWithTheEnginesPerModelAndTarget() async throws {
        try await TestDatabase.with("accuracy") { client, _ in
            let store = KeyStore(client: client, logger: TestDatabase.logger)
            let alpha = try await store.ensureTeam(name: "alpha")
            let beta = try await store.ensureTeam(name: "beta")
            let start = Date(timeIntervalSince1970: 1_772_323_200)  // 2026-03-01T00:00:00Z
            var events: [UsageEvent] = []
            for index in 0..<1_200 {
                var event = UsageFixtures.event(
                    index, team: index % 3 == 0 ? beta.id : alpha.id, day: start.addingTimeInterval(Double(index % 3) * 86_400),
                    model: index % 2 == 0 ? "deepseek-v4-flash" : "deepseek-v4-pro", target: index % 5 == 0 ? "deepseek-api" : "local")
                // Counted exactly (and equal to the engine's), estimated (off by 3 to 7 tokens), or
                // written before the ledger said which (the fixture's counts, off by up to 6).
                event.promptCountExact = index % 7 == 0 ? false : index % 11 == 0 ? nil : true
                if event.promptCountExact == true { event.promptTokensEstimated = event.promptTokens }
                if index % 7 == 0 { event.promptTokensEstimated = event.promptTokens + 3 + index % 5 }
                if index % 29 == 0 { event.promptTokensEstimated = 0 }  // not counted by Tollgate
                if index % 31 == 0 { event.promptTokensEstimated = event.promptTokens + 40 }  // a drift
                events.append(event)
            }
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                for event in events { writer.record(event) }
                await writer.flush()
            }
            func expected(_ events: [UsageEvent]) -> [CountAccuracyRow] {
                let compared = events.filter { !$0.usageEstimated && $0.promptTokensEstimated > 0 && $0.statusCode < 400 }
                // Exact counts first, then estimates, then rows that do not say.
                let order: [Bool?] = [true, false, nil]
                let groups = Dictionary(grouping: compared) { "\($0.requestedModel)|\($0.target)|\(order.firstIndex(of: $0.promptCountExact)!)" }
                return groups.keys.sorted().map { key in
                    let group = groups[key]!
                    let errors = group.map { Int64(abs($0.promptTokensEstimated - $0.promptTokens)) }
                    return CountAccuracyRow(
                        model: group[0].requestedModel, target: group[0].target,
                        counted: group[0].promptCountExact.map { $0 ? .exactly : .estimated } ?? .unrecorded, requests: Int64(group.count),
                        exact: Int64(errors.filter { $0 == 0 }.count),
                        tollgateTokens: group.reduce(0) { $0 + Int64($1.promptTokensEstimated) },
                        engineTokens: group.reduce(0) { $0 + Int64($1.promptTokens) },
                        absoluteError: errors.reduce(0, +), maxError: errors.max()!)
                }
            }
            let reports = Reports(client: client, logger: TestDatabase.logger)
            let twoDays = ReportQuery(from: LedgerDay("2026-03-01")!, to: LedgerDay("2026-03-02")!)
            let rows = try await reports.countAccuracy(twoDays)
            let inRange = events.filter { $0.startedAt < start.addingTimeInterval(2 * 86_400) }
            #expect(rows == expected(inRange))
            #expect(rows.count == 12)
            #expect(rows.map(\.counted) == Array(repeating: [.exactly, .estimated, .unrecorded], count: 4).flatMap { $0 })
            // The estimates' error (3 to 7 tokens each) stays out of the exact counts' rows.
            #expect(rows.filter { $0.counted == .estimated }.allSatisfy { $0.exact == 0 && $0.absoluteError >= 3 * $0.requests })
            #expect(rows.filter { $0.counted == .exactly }.allSatisfy { $0.exact > 0 && ($0.maxError == 0 || $0.maxError == 40) })
            #expect(rows.contains { $0.counted == .exactly && $0.exact < $0.requests })

            var betaOnly = twoDays
            betaOnly.team = "beta"
            #expect(try await reports.countAccuracy(betaOnly) == expected(inRange.filter { $0.teamID == beta.id }))

            // The rollup counts a row once: a spool replayed, or a batch sent again, adds nothing.
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                for event in events.prefix(500) { writer.record(event) }
                await writer.flush()
            }
            #expect(try await reports.countAccuracy(twoDays) == rows)

            let json = try JSONSerialization.jsonObject(with: Data(rows.rendered(as: .json).utf8)) as! [String: Any]
            let first = try #require((json["rows"] as? [[String: Any]])?.first)
            #expect(first["exact_percent"] as? String == rows[0].exactPercent)
            #expect(first["counted"] as? String == "exactly")
            #expect(first["tollgate_tokens"] as? Int == Int(rows[0].tollgateTokens))
            let table = rows.rendered(as: .table).split(separator: "\n")
            #expect(table.count == 2 + rows.count)
            #expect(table[0].hasPrefix("model") && table[0].contains("mean_abs_error"))
            #expect(try await reports.countAccuracy(ReportQuery(from: LedgerDay("2026-04-01")!, to: LedgerDay("2026-04-30")!)).isEmpty)
        }
    }

    /// A ledger that had rows before the rollup existed (migration 0004) reports them: the
    /// migration sums the raw rows, and the report then agrees with a query over those rows.
    /// Rows a replica older than 0004 writes afterwards (no rollup) are added by a rebuild of
    /// their days, which leaves the other days as they were.
    @Test func countAccuracyCoversRowsWrittenBeforeItsRollup() async throws {
        try await TestDatabase.with("accuracyupgrade", migrate: false) { client, _ in
            let before = Array(Migration.embedded.prefix { $0.version < 4 })
            try await Migrator(client: client, migrations: before, logger: TestDatabase.logger).migrate()
            try await client.query("INSERT INTO teams (name) VALUES ('old')", logger: TestDatabase.logger)
            // As a build without the rollup writes them: `count` rows from `first` on, a minute apart.
            func writeWithoutRollup(_ prefix: String, from first: String, count: Int) async throws {
                try await client.query(
                    """
                    INSERT INTO usage_events (request_id, started_at, finished_at, team_id, requested_model, target,
                        prompt_tokens_estimated, prompt_count_exact, prompt_tokens, cost_nanos, currency, price_book_version,
                        list_cost_nanos, latency_ms, status_code, stream, client_disconnected, usage_estimated)
                    SELECT \(prefix) || g, \(first)::timestamptz + g * interval '1 minute',
                           \(first)::timestamptz + g * interval '1 minute' + interval '1 second', (SELECT id FROM teams),
                           CASE WHEN g % 2 = 0 THEN 'deepseek-v4-flash' ELSE 'deepseek-v4-pro' END, 'local',
                           CASE WHEN g % 11 = 0 THEN 0 ELSE 100 + g % 7 END,
                           CASE WHEN g % 3 = 0 THEN NULL ELSE g % 5 <> 0 END, 100 + g % 5, 1000, 'USD', 'old', 4000, 250,
                           CASE WHEN g % 13 = 0 THEN 502 ELSE 200 END, false, false, g % 17 = 0
                    FROM generate_series(1, \(count)) g
                    """, logger: TestDatabase.logger)
            }
            try await writeWithoutRollup("old-", from: "2026-02-10 12:00:00+00", count: 3000)
            try await Migrator(client: client, logger: TestDatabase.logger).migrate()

            let reports = Reports(client: client, logger: TestDatabase.logger)
            let range = ReportQuery(from: LedgerDay("2026-02-10")!, to: LedgerDay("2026-02-14")!)
            // The oracle: the same figures straight from the ledger rows.
            func fromLedgerRows() async throws -> Set<CountAccuracyRow> {
                let raw = try await client.query(
                    """
                    SELECT requested_model,
                           CASE WHEN prompt_count_exact THEN 'exactly' WHEN NOT prompt_count_exact THEN 'estimated' ELSE 'unrecorded' END,
                           count(*)::int8, count(*) FILTER (WHERE prompt_tokens_estimated = prompt_tokens)::int8,
                           sum(prompt_tokens_estimated)::int8, sum(prompt_tokens)::int8,
                           sum(abs(prompt_tokens_estimated - prompt_tokens))::int8, max(abs(prompt_tokens_estimated - prompt_tokens))::int8
                    FROM usage_events WHERE NOT usage_estimated AND prompt_tokens_estimated > 0 AND status_code < 400
                    GROUP BY 1, 2
                    """, logger: TestDatabase.logger)
                var rows = Set<CountAccuracyRow>()
                for try await (model, counted, requests, exact, ours, theirs, error, largest) in raw.decode(
                    (String, String, Int64, Int64, Int64, Int64, Int64, Int64).self)
                {
                    rows.insert(
                        CountAccuracyRow(
                            model: model, target: "local", counted: PromptCounting(rawValue: counted)!, requests: requests,
                            exact: exact, tollgateTokens: ours, engineTokens: theirs, absoluteError: error, maxError: largest))
                }
                return rows
            }
            let migrated = try await reports.countAccuracy(range)
            #expect(migrated.count == 6)  // two models, three ways of counting
            #expect(Set(migrated) == (try await fromLedgerRows()))
            #expect(migrated.map(\.counted).prefix(3) == [.exactly, .estimated, .unrecorded])

            // An older replica keeps writing on the 13th; the report misses those rows until rebuilt.
            try await writeWithoutRollup("late-", from: "2026-02-13 00:00:00+00", count: 1000)
            #expect(try await reports.countAccuracy(range) == migrated)
            let rebuilt = try await reports.rebuildCountAccuracy(from: LedgerDay("2026-02-13")!, to: LedgerDay("2026-02-13")!)
            #expect(rebuilt > 0 && rebuilt < 1000)
            #expect(Set(try await reports.countAccuracy(range)) == (try await fromLedgerRows()))
            // Rebuilding every day again changes nothing.
            _ = try await reports.rebuildCountAccuracy(from: range.from, to: range.to)
            #expect(Set(try await reports.countAccuracy(range)) == (try await fromLedgerRows()))
        }
    }

    @Test func countAccuracyFiguresRoundLikeMoney() {
        var row = CountAccuracyRow(
            model: "m", target: "t", counted: .exactly, requests: 3, exact: 1, tollgateTokens: 0, engineTokens: 0, absoluteError: 2, maxError: 1)
        #expect(row.exactPercent == "33.33")
        #expect(row.meanError == "0.67")
        row.requests = 8
        row.absoluteError = 1
        #expect(row.meanError == "0.13")  // 0.125: ties away from zero
        row.requests = 0
        #expect(row.exactPercent == nil && row.meanError == nil)
    }

    @Test func savingsPercentIsExact() {
        var totals = UsageTotals()
        totals.costNanos = 625
        totals.listCostNanos = 1_000
        #expect(totals.savingsPercent == "37.50")
        totals.costNanos = 1_001
        #expect(totals.savingsPercent == "-0.10")
        totals.listCostNanos = 0
        #expect(totals.savingsPercent == nil)
        // A cost 10¹⁵ times its list price: a percentage past 64 bits of hundredths, not a trap.
        totals.costNanos = 1_000_000_000_000_000
        totals.listCostNanos = 1
        #expect(totals.savingsPercent == "-99999999999999900.00")
        totals.costNanos = 0
        totals.listCostNanos = Int64.max
        #expect(totals.savingsPercent == "100.00")
        #expect(LedgerDay("2026-02-30") == nil)
        #expect(LedgerDay("2026-02-28")?.description == "2026-02-28")
    }
}
