import Foundation
import PostgresNIO
import Testing
import TollgateMoney

@testable import TollgateLedger

@Suite("Budgets")
struct BudgetTests {
    static let estimate = Money(nanos: 20_000_000, currency: "USD")  // 0.02 USD per request
    static let budget = Money(nanos: 50 * 20_000_000, currency: "USD")  // 50 requests' worth: 1 USD

    /// A key whose own budget is `budget` (team unlimited).
    static func makeKey(_ client: PostgresClient, team: String, budget: Money, teamBudget: Money? = nil) async throws -> CachedKey {
        let store = KeyStore(client: client, logger: TestDatabase.logger)
        let created = try await store.create(NewKey(team: team, budget: budget))
        if let teamBudget {
            try await store.setTeamLimits(team: team, LimitsUpdate(budgetNanos: .some(teamBudget.nanos)))
        }
        let directory = KeyDirectory(client: client, logger: TestDatabase.logger)
        guard case .valid(let key) = await directory.authenticate(bearer: created.plaintext) else {
            throw LedgerError.notFound("key")
        }
        return key
    }

    struct Outcome: Sendable {
        var admitted = 0
        var exceeded = 0
        var unavailable = 0
        var spentNanos: Int64 = 0
    }

    /// `total` requests, `concurrency` at a time, spread round-robin over `guards`; each
    /// admitted request costs `actual(i)` and writes one ledger row.
    static func load(
        guards: [BudgetGuard], key: CachedKey, writer: UsageWriter, total: Int = 300, concurrency: Int = 100,
        actual: @escaping @Sendable (Int) -> Money
    ) async -> Outcome {
        await withTaskGroup(of: (BudgetDecision, Money).self) { group in
            var outcome = Outcome()
            var next = 0
            func launch(_ index: Int) {
                let guardian = guards[index % guards.count]
                group.addTask {
                    let decision = await guardian.reserve(for: key, estimate: estimate)
                    let cost = actual(index)
                    if case .admitted(let reservation) = decision {
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 0...5)))
                        guardian.settle(reservation, actual: cost)
                        let now = Date()
                        writer.record(
                            UsageEvent(
                                requestID: "budget-\(index)", startedAt: now, finishedAt: now, teamID: key.teamID,
                                keyID: key.id, requestedModel: "deepseek-v4-flash", target: "local", cost: cost,
                                priceBookVersion: "test", listCost: cost, latencyMs: 1))
                    }
                    return (decision, cost)
                }
            }
            while next < min(concurrency, total) {
                launch(next)
                next += 1
            }
            for await (decision, cost) in group {
                switch decision {
                case .admitted:
                    outcome.admitted += 1
                    outcome.spentNanos += cost.nanos
                case .exceeded: outcome.exceeded += 1
                case .unavailable: outcome.unavailable += 1
                }
                if next < total {
                    launch(next)
                    next += 1
                }
            }
            return outcome
        }
    }

    static func window(_ client: PostgresClient, key: CachedKey) async throws -> (spent: Int64, leased: Int64) {
        let rows = try await client.query(
            "SELECT spent_nanos, leased_nanos FROM budget_windows WHERE scope = 'key' AND scope_id = \(key.id)",
            logger: TestDatabase.logger)
        for try await (spent, leased) in rows.decode((Int64, Int64).self) { return (spent, leased) }
        return (-1, -1)
    }

    @Test func oneReplicaSpendsExactlyTheBudget() async throws {
        try await TestDatabase.with("budget1") { client, _ in
            let key = try await Self.makeKey(client, team: "one", budget: Self.budget)
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                let guardian = BudgetGuard(client: client, configuration: .init(replicaID: "r1"), logger: TestDatabase.logger)
                let outcome = await Self.load(guards: [guardian], key: key, writer: writer) { _ in Self.estimate }
                #expect(outcome.admitted == 50)
                #expect(outcome.exceeded == 250)
                #expect(outcome.spentNanos == Self.budget.nanos)
                await guardian.shutdown()
                await writer.flush()
                let window = try await Self.window(client, key: key)
                #expect(window.spent == outcome.spentNanos)
                #expect(window.leased == 0)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == Int64(outcome.admitted))
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM budget_leases WHERE amount_nanos > 0") == 0)
            }
        }
    }

    /// Costs below the estimate (as when max_tokens is not reached): more requests fit, spend
    /// never passes the budget.
    @Test func cheaperRequestsNeverOverspend() async throws {
        try await TestDatabase.with("budget2") { client, _ in
            let key = try await Self.makeKey(client, team: "two", budget: Self.budget)
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                let guardian = BudgetGuard(client: client, configuration: .init(replicaID: "r1"), logger: TestDatabase.logger)
                let outcome = await Self.load(guards: [guardian], key: key, writer: writer) { index in
                    Money(nanos: Self.estimate.nanos * Int64(60 + index % 41) / 100, currency: "USD")
                }
                #expect(outcome.spentNanos <= Self.budget.nanos)
                #expect(outcome.admitted > 50)
                // Unused budget at the end is less than what the in-flight requests freed.
                #expect(Self.budget.nanos - outcome.spentNanos < Self.estimate.nanos * 100)
                await guardian.shutdown()
                await writer.flush()
                #expect(try await Self.window(client, key: key).spent == outcome.spentNanos)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == Int64(outcome.admitted))
                #expect(guardian.softLimitWarnings == 1)
            }
        }
    }

    /// Three guards sharing one database stand in for three gateway replicas.
    @Test func threeReplicasHoldTheBudgetTogether() async throws {
        try await TestDatabase.with("budget3") { client, _ in
            let key = try await Self.makeKey(client, team: "three", budget: Self.budget)
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                let guards = (1...3).map {
                    BudgetGuard(client: client, configuration: .init(replicaID: "replica-\($0)"), logger: TestDatabase.logger)
                }
                let outcome = await Self.load(guards: guards, key: key, writer: writer) { _ in Self.estimate }
                #expect(outcome.spentNanos <= Self.budget.nanos)
                // Allowance stranded in other replicas' leases is less than one request per replica.
                #expect(outcome.admitted >= 50 - guards.count)
                #expect(outcome.admitted + outcome.exceeded == 300)
                for guardian in guards { await guardian.shutdown() }
                await writer.flush()
                let window = try await Self.window(client, key: key)
                #expect(window.spent == outcome.spentNanos)
                #expect(window.leased == 0)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == Int64(outcome.admitted))
            }
        }
    }

    @Test func steadyStateAdmissionMakesNoRoundTripPerRequest() async throws {
        try await TestDatabase.with("budget4") { client, _ in
            let key = try await Self.makeKey(client, team: "big", budget: Money(nanos: 1_000_000_000_000, currency: "USD"))
            let guardian = BudgetGuard(client: client, configuration: .init(replicaID: "r1"), logger: TestDatabase.logger)
            for _ in 0..<2_000 {
                guard case .admitted(let reservation) = await guardian.reserve(for: key, estimate: Self.estimate) else {
                    Issue.record("refused under a large budget")
                    return
                }
                guardian.settle(reservation, actual: Self.estimate)
            }
            #expect(guardian.leaseQueries <= 2)
            await guardian.shutdown()
            #expect(try await Self.window(client, key: key).spent == 2_000 * Self.estimate.nanos)
        }
    }

    @Test func theTeamBudgetAppliesToAllItsKeys() async throws {
        try await TestDatabase.with("budget5") { client, _ in
            let key = try await Self.makeKey(
                client, team: "shared", budget: Money(nanos: 10_000_000_000, currency: "USD"),
                teamBudget: Money(nanos: 5 * Self.estimate.nanos, currency: "USD"))
            let guardian = BudgetGuard(client: client, configuration: .init(replicaID: "r1"), logger: TestDatabase.logger)
            var admitted: [Reservation] = []
            for _ in 0..<5 {
                if case .admitted(let reservation) = await guardian.reserve(for: key, estimate: Self.estimate) {
                    admitted.append(reservation)
                }
            }
            #expect(admitted.count == 5)
            let refused = await guardian.reserve(for: key, estimate: Self.estimate)
            #expect(refused == .exceeded(BudgetScope(.team, key.teamID), limit: Money(nanos: 5 * Self.estimate.nanos, currency: "USD")))
            // Releasing one frees room again (on the key's window too).
            guardian.release(admitted[0])
            guardian.release(admitted[0])  // a second release changes nothing
            if case .admitted = await guardian.reserve(for: key, estimate: Self.estimate) {} else {
                Issue.record("a released reservation did not free the budget")
            }
            #expect(await guardian.reserve(for: key, estimate: Self.estimate) != .admitted(admitted[0]))
        }
    }

    /// A replica that dies keeps its lease until it expires; the sweep then counts the
    /// remainder as spent, and the survivors can lease what is left.
    @Test func aCrashedReplicasLeaseIsReclaimedAsSpent() async throws {
        try await TestDatabase.with("budget6") { client, _ in
            let key = try await Self.makeKey(client, team: "crash", budget: Self.budget)
            var configuration = BudgetGuard.Configuration(replicaID: "doomed")
            configuration.leaseTTL = .seconds(1)
            let doomed = BudgetGuard(client: client, configuration: configuration, logger: TestDatabase.logger)
            guard case .admitted = await doomed.reserve(for: key, estimate: Self.estimate) else {
                Issue.record("first reservation refused")
                return
            }
            let held = try await Self.window(client, key: key).leased
            #expect(held >= Self.estimate.nanos)
            // No settle, no shutdown: the replica is gone.
            try await Task.sleep(for: .milliseconds(2_100))
            let survivor = BudgetGuard(client: client, configuration: .init(replicaID: "survivor"), logger: TestDatabase.logger)
            try await survivor.sweepExpiredLeases()
            let window = try await Self.window(client, key: key)
            #expect(window.spent == held)
            #expect(window.leased == 0)
            var admitted = 0
            while case .admitted = await survivor.reserve(for: key, estimate: Self.estimate) { admitted += 1 }
            #expect(Int64(admitted) == (Self.budget.nanos - held) / Self.estimate.nanos)
        }
    }

    /// An idle window's return of its allowance that may not have committed (here it was held up
    /// by a row lock past the query timeout, and its backend killed) is checked and reported
    /// again at the next sync: the window is not forgotten with it, so no budget is lost.
    @Test func anIdleReturnThatFailedIsReportedAgain() async throws {
        try await TestDatabase.with("budget7") { client, _ in
            let key = try await Self.makeKey(client, team: "idle", budget: Self.budget)
            var configuration = BudgetGuard.Configuration(replicaID: "r1")
            configuration.idleReturn = .milliseconds(50)
            configuration.queryTimeout = .milliseconds(500)
            let guardian = BudgetGuard(client: client, configuration: configuration, logger: TestDatabase.logger)
            guard case .admitted(let reservation) = await guardian.reserve(for: key, estimate: Self.estimate) else {
                Issue.record("reservation refused")
                return
            }
            guardian.settle(reservation, actual: Self.estimate)
            try await Task.sleep(for: .milliseconds(100))
            try await client.withConnection { locker in
                try await locker.query("BEGIN", logger: TestDatabase.logger)
                try await locker.query(
                    "SELECT 1 FROM budget_windows WHERE scope = 'key' AND scope_id = \(key.id) FOR UPDATE", logger: TestDatabase.logger)
                await guardian.syncAll()  // times out behind the lock
                _ = try await locker.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE wait_event_type = 'Lock' AND query LIKE '%budget_windows%' AND pid <> pg_backend_pid()
                    """, logger: TestDatabase.logger)
                try await locker.query("ROLLBACK", logger: TestDatabase.logger)
            }
            // The replica's pool may hand out the killed connection once; a round later it syncs.
            var window = try await Self.window(client, key: key)
            for _ in 0..<20 where window != (Self.estimate.nanos, 0) {
                await guardian.syncAll()
                window = try await Self.window(client, key: key)
            }
            #expect(window.spent == Self.estimate.nanos)
            #expect(window.leased == 0)
        }
    }

    /// Settled costs far beyond any estimate (an engine's absurd usage at the dearest rate the
    /// price book allows) add up past 64 bits without stopping the process: the window counts as
    /// spent to the limit of the type, and the next request is refused.
    @Test func costsBeyondSixtyFourBitsSaturate() async throws {
        try await TestDatabase.with("budget8") { client, _ in
            let key = try await Self.makeKey(client, team: "huge", budget: Self.budget)
            let guardian = BudgetGuard(client: client, configuration: .init(replicaID: "r1"), logger: TestDatabase.logger)
            var reservations: [Reservation] = []
            for _ in 0..<4 {
                guard case .admitted(let reservation) = await guardian.reserve(for: key, estimate: Self.estimate) else {
                    Issue.record("reservation refused")
                    return
                }
                reservations.append(reservation)
            }
            for reservation in reservations { guardian.settle(reservation, actual: Money(nanos: 6_400_000_000_000_000_000, currency: "USD")) }
            await guardian.syncAll()
            #expect(try await Self.window(client, key: key).spent == Int64.max)
            if case .admitted = await guardian.reserve(for: key, estimate: Self.estimate) { Issue.record("admitted past the budget") }
            // A crashed replica's lease swept into a window already spent to the limit.
            let doomed = BudgetGuard(client: client, configuration: .init(replicaID: "doomed"), logger: TestDatabase.logger)
            _ = await doomed.reserve(for: key, estimate: Self.estimate)
            try await client.query("UPDATE budget_leases SET amount_nanos = 100, expires_at = now() - interval '1 s'", logger: TestDatabase.logger)
            try await guardian.sweepExpiredLeases()
            #expect(try await Self.window(client, key: key).spent == Int64.max)
        }
    }
}
