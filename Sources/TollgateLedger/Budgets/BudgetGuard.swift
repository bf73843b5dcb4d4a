import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TollgateMoney

/// Whose budget: a team's or a single key's.
public struct BudgetScope: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable { case team, key }
    public var kind: Kind
    public var id: Int64

    public init(_ kind: Kind, _ id: Int64) {
        self.kind = kind
        self.id = id
    }

    public var description: String { "\(kind.rawValue):\(id)" }
}

/// An admitted request's hold on one or two budgets, until ``BudgetGuard/settle(_:actual:)`` or
/// ``BudgetGuard/release(_:)``.
public struct Reservation: Sendable, Hashable {
    struct Hold: Sendable, Hashable {
        var window: BudgetWindowKey
        var nanos: Int64
    }

    public let id: UInt64
    /// What was reserved (the request's estimated cost).
    public let estimate: Money
    let holds: [Hold]
}

/// The outcome of ``BudgetGuard/reserve(for:estimate:)``.
public enum BudgetDecision: Sendable, Hashable {
    /// Admitted: settle or release the reservation when the request ends.
    case admitted(Reservation)
    /// The key's or team's budget cannot cover the estimate: answer 402 `budget_exceeded`
    /// (never 429, which the OpenAI SDKs retry), or downgrade when the policy says so.
    case exceeded(BudgetScope, limit: Money)
    /// PostgreSQL could not be reached and this replica's lease cannot cover the estimate.
    /// The gateway's policy decides between failing closed (503) and open.
    case unavailable(BudgetScope)
}

/// A budget window: one scope's budget in one period.
struct BudgetWindowKey: Hashable, Sendable {
    var scope: BudgetScope
    var periodStart: Date
}

/// Budget admission without a database round trip per request, holding across replicas.
///
/// Each replica leases a slice of a window's remaining budget atomically (row lock on
/// `budget_windows`, the slice added to `leased_nanos`) and admits requests locally against it.
/// Settled costs are reported back as spend; unused allowance is returned when the replica runs
/// short, goes idle, or shuts down. Because every admitted estimate is backed by leased budget and
/// leases never exceed `limit - spent - leased`, the sum of admitted estimates never exceeds the
/// budget: total spend exceeds it by at most the requests' estimate errors. Slices are a fraction
/// (``Configuration/sliceDivisor``) of what is left, so they shrink as the budget runs out.
///
/// A replica that dies keeps its lease until `expires_at`; then any replica's sweep counts the
/// unreported remainder as spent (a crash can make a budget stricter, never overspend it).
public final class BudgetGuard: Service, Sendable {
    public struct Configuration: Sendable {
        /// This replica's identity in `budget_leases` (unique per running gateway).
        public var replicaID: String
        /// A lease takes `1/sliceDivisor` of what is left unleased (at least the request's need).
        public var sliceDivisor: Int64 = 8
        /// How often consumption is reported and leases renewed.
        public var syncInterval: Duration = .seconds(1)
        /// A lease not renewed for this long is reclaimed by other replicas.
        public var leaseTTL: Duration = .seconds(30)
        /// A window unused this long returns its unused allowance.
        public var idleReturn: Duration = .seconds(10)
        /// After a lease attempt found the budget exhausted, requests that need more than what was
        /// left are refused from memory for this long (so an exhausted budget costs no queries).
        public var exhaustedRecheck: Duration = .milliseconds(250)
        /// Spend at or above this fraction (per mille) of a budget logs a soft-limit warning once.
        public var softLimitPerMille: Int64 = 800
        /// How long a lease query may take before admission answers ``BudgetDecision/unavailable(_:)``.
        public var queryTimeout: Duration = .seconds(2)

        public init(replicaID: String) {
            self.replicaID = replicaID
        }
    }

    struct Window {
        /// Our share of the row's `leased_nanos`.
        var lease: Int64 = 0
        /// Estimates of requests in flight.
        var reserved: Int64 = 0
        /// Settled costs not yet reported.
        var consumed: Int64 = 0
        var syncing = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var exhaustedUntil: ContinuousClock.Instant?
        var exhaustedPool: Int64 = 0
        var limit = Money(nanos: 0, currency: "USD")
        var lastUsed = ContinuousClock.now
        var warned = false
        /// A sync whose outcome is unknown (timed out or cancelled, maybe after COMMIT).
        var uncertain: UncertainSync?

        var available: Int64 { lease.minus(reserved).minus(consumed) }
    }

    /// What an unfinished sync took out of the local window, to put back or keep once we know
    /// whether its transaction committed.
    struct UncertainSync {
        var id: String
        var reported: Int64
        var used: Int64
        var returned: Int64
        var keptLease: Int64
    }

    struct State {
        var windows: [BudgetWindowKey: Window] = [:]
        var outstanding: [UInt64: Reservation] = [:]
        var nextID: UInt64 = 1
        var softLimitWarnings = 0
        var leaseQueries = 0
    }

    private let client: PostgresClient
    private let logger: Logger
    public let configuration: Configuration
    private let state = Mutex(State())

    public init(client: PostgresClient, configuration: Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// Soft-limit warnings logged so far (for a metric).
    public var softLimitWarnings: Int { state.withLock { $0.softLimitWarnings } }
    /// Lease round trips made so far (tests check admission stays local in steady state).
    public var leaseQueries: Int { state.withLock { $0.leaseQueries } }

    // MARK: Admission

    /// Reserves `estimate` against the key's and the team's budgets (those that have one).
    /// Usually answered from this replica's lease without I/O.
    public func reserve(for key: CachedKey, estimate: Money, now: Date = Date()) async -> BudgetDecision {
        var scopes: [(BudgetScope, Limits)] = []
        if key.keyLimits.budget != nil { scopes.append((BudgetScope(.key, key.id), key.keyLimits)) }
        if key.teamLimits.budget != nil { scopes.append((BudgetScope(.team, key.teamID), key.teamLimits)) }
        var holds: [Reservation.Hold] = []
        for (scope, limits) in scopes {
            guard let budget = limits.budget else { continue }
            let window = BudgetWindowKey(scope: scope, periodStart: limits.budgetPeriod.windowStart(containing: now))
            let outcome: AcquireOutcome
            if budget.currency != estimate.currency {
                logger.error(
                    "budget currency differs from the price book's; refusing",
                    metadata: ["tollgate.scope": "\(scope)", "tollgate.currency": "\(budget.currency)"])
                outcome = .exceeded
            } else {
                outcome = await acquire(window, nanos: max(0, estimate.nanos), limit: budget)
            }
            switch outcome {
            case .acquired:
                holds.append(.init(window: window, nanos: max(0, estimate.nanos)))
            case .exceeded, .unavailable:
                for hold in holds { finish(hold, consumed: 0) }
                return outcome == .exceeded ? .exceeded(scope, limit: budget) : .unavailable(scope)
            }
        }
        let reservation = state.withLock { state -> Reservation in
            let reservation = Reservation(id: state.nextID, estimate: estimate, holds: holds)
            state.nextID += 1
            state.outstanding[reservation.id] = reservation
            return reservation
        }
        return .admitted(reservation)
    }

    /// Charges the request's real cost (which may exceed the estimate) and frees the rest.
    /// A second settle or release of the same reservation does nothing.
    public func settle(_ reservation: Reservation, actual: Money) {
        guard state.withLock({ $0.outstanding.removeValue(forKey: reservation.id) }) != nil else { return }
        for hold in reservation.holds { finish(hold, consumed: max(0, actual.nanos)) }
    }

    /// Frees the reservation of a request that failed before it cost anything.
    public func release(_ reservation: Reservation) {
        guard state.withLock({ $0.outstanding.removeValue(forKey: reservation.id) }) != nil else { return }
        for hold in reservation.holds { finish(hold, consumed: 0) }
    }

    private func finish(_ hold: Reservation.Hold, consumed: Int64) {
        state.withLock { state in
            state.windows[hold.window, default: Window()].reserved -= hold.nanos
            state.windows[hold.window, default: Window()].consumed.add(consumed)
        }
    }

    enum AcquireOutcome: Equatable { case acquired, exceeded, unavailable }

    private func acquire(_ key: BudgetWindowKey, nanos: Int64, limit: Money) async -> AcquireOutcome {
        enum Step { case done, exceeded, wait, sync }
        // Two syncs at most: a request settled during the first can eat into what it leased.
        var syncs = 0
        var syncFailed = false
        while true {
            let step = state.withLock { state -> Step in
                var window = state.windows[key, default: Window()]
                defer { state.windows[key] = window }
                window.limit = limit
                window.lastUsed = .now
                if window.available >= nanos {
                    window.reserved += nanos
                    return .done
                }
                if syncs >= 2 || (syncs == 1 && syncFailed) { return .exceeded }
                if let until = window.exhaustedUntil, until > .now, nanos > window.available.plus(window.exhaustedPool) {
                    return .exceeded
                }
                if window.syncing { return .wait }
                window.syncing = true
                return .sync
            }
            switch step {
            case .done: return .acquired
            case .exceeded: return syncFailed ? .unavailable : .exceeded
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        guard state.windows[key]?.syncing == true else { return true }
                        state.windows[key]!.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            case .sync:
                do {
                    try await sync(key, mode: .acquire(need: nanos))
                } catch {
                    syncFailed = true
                    logger.warning("budget lease failed", metadata: ["tollgate.scope": "\(key.scope)", "tollgate.error": "\(error)"])
                }
                syncs += 1
                endSync(key)
            }
        }
    }

    private func endSync(_ key: BudgetWindowKey) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.windows[key] != nil else { return [] }
            state.windows[key]!.syncing = false
            let waiters = state.windows[key]!.waiters
            state.windows[key]!.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Lease synchronisation

    enum SyncMode: Equatable {
        /// Report, return the unused allowance, and lease at least `need` if the budget has it.
        case acquire(need: Int64)
        /// Report consumption and renew the lease; keep the allowance.
        case report
        /// Report and return all unused allowance (idle window, shutdown).
        case returnUnused
    }

    /// One transaction on the window's row. Must be called with `syncing` set by the caller.
    func sync(_ key: BudgetWindowKey, mode: SyncMode) async throws {
        try await resolveUncertain(key)
        let syncID = "\(configuration.replicaID)-\(UInt64.random(in: 0...UInt64.max))"
        // Take what this sync reports and returns out of the local window first, so requests
        // admitted meanwhile can only use what stays.
        let (reported, used, returned, lease) = state.withLock { state -> (Int64, Int64, Int64, Int64) in
            var window = state.windows[key, default: Window()]
            defer { state.windows[key] = window }
            let reported = window.consumed
            window.consumed = 0
            let used = min(reported, window.lease)
            window.lease -= used
            var returned: Int64 = 0
            if mode != .report {
                returned = max(0, window.lease - window.reserved)
                window.lease -= returned
            }
            state.leaseQueries += 1
            return (reported, used, returned, window.lease)
        }
        do {
            let outcome = try await withDeadline(configuration.queryTimeout, "budget lease") { [self] in
                try await self.leaseTransaction(
                    key, mode: mode, syncID: syncID, reported: reported, used: used, returned: returned, keptLease: lease)
            }
            state.withLock { state in
                var window = state.windows[key, default: Window()]
                defer { state.windows[key] = window }
                if outcome.leaseWasReclaimed {
                    // Another replica's sweep already counted our whole lease as spent.
                    window.lease = 0
                }
                window.lease += outcome.granted
                if case .acquire = mode, outcome.granted == 0 {
                    window.exhaustedUntil = ContinuousClock.now.advanced(by: configuration.exhaustedRecheck)
                    window.exhaustedPool = outcome.pool
                } else if outcome.granted > 0 {
                    window.exhaustedUntil = nil
                }
                if !window.warned, outcome.limit > 0,
                    Int128(outcome.committed) * 1000 >= Int128(outcome.limit) * Int128(configuration.softLimitPerMille)
                {
                    window.warned = true
                    state.softLimitWarnings += 1
                    logger.warning(
                        "budget soft limit reached",
                        metadata: [
                            "tollgate.scope": "\(key.scope)",
                            "tollgate.spent": "\(Money(nanos: outcome.committed, currency: window.limit.currency).decimalString)",
                            "tollgate.limit": "\(window.limit.decimalString)",
                        ])
                }
            }
        } catch {
            // The transaction may or may not have committed (a timeout can fire after COMMIT):
            // the next sync reads our lease row's last_sync_id to find out.
            state.withLock { state in
                state.windows[key, default: Window()].uncertain = UncertainSync(
                    id: syncID, reported: reported, used: used, returned: returned, keptLease: lease)
            }
            throw error
        }
    }

    /// Settles a previous sync of unknown outcome: keeps its effects if it committed, puts back
    /// what it took out if it did not. Throws (leaving it unresolved) if PostgreSQL cannot say.
    private func resolveUncertain(_ key: BudgetWindowKey) async throws {
        guard let pending = state.withLock({ $0.windows[key]?.uncertain }) else { return }
        let replica = configuration.replicaID
        let (scope, scopeID, period) = (key.scope.kind.rawValue, key.scope.id, key.periodStart)
        let recorded = try await withDeadline(configuration.queryTimeout, "budget lease check") { [client, logger] in
            let rows = try await client.query(
                """
                SELECT last_sync_id, amount_nanos FROM budget_leases
                WHERE replica_id = \(replica) AND scope = \(scope) AND scope_id = \(scopeID) AND period_start = \(period)
                """, logger: logger)
            var result: (String?, Int64)? = nil
            for try await (id, amount) in rows.decode((String?, Int64).self) { result = (id, amount) }
            return result
        }
        state.withLock { state in
            var window = state.windows[key, default: Window()]
            defer { state.windows[key] = window }
            window.uncertain = nil
            if let recorded, recorded.0 == pending.id {
                // It committed: keep its effects and take the grant it recorded.
                window.lease += max(0, recorded.1 - pending.keptLease)
            } else {
                // It did not (or our row was swept, which already counted the lease as spent):
                // report again. Reporting consumption twice can only make the budget stricter.
                window.consumed.add(pending.reported)
                window.lease += pending.used + pending.returned
            }
        }
    }

    struct LeaseOutcome: Sendable {
        var granted: Int64
        /// Unleased budget left after this transaction.
        var pool: Int64
        var limit: Int64
        /// spent + leased after this transaction.
        var committed: Int64
        var leaseWasReclaimed: Bool
    }

    private func leaseTransaction(
        _ key: BudgetWindowKey, mode: SyncMode, syncID: String, reported: Int64, used: Int64, returned: Int64,
        keptLease: Int64
    ) async throws -> LeaseOutcome {
        let scope = key.scope.kind.rawValue
        let scopeID = key.scope.id
        let period = key.periodStart
        let replica = configuration.replicaID
        let ttl = Int64(configuration.leaseTTL.components.seconds)
        let divisor = configuration.sliceDivisor
        let logger = self.logger
        return try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO budget_windows (scope, scope_id, period_start) VALUES (\(scope), \(scopeID), \(period))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                let windowRows = try await connection.query(
                    """
                    SELECT w.spent_nanos, w.leased_nanos,
                           CASE WHEN w.scope = 'team' THEN (SELECT budget_nanos FROM teams WHERE id = w.scope_id)
                                ELSE (SELECT budget_nanos FROM api_keys WHERE id = w.scope_id) END,
                           (SELECT amount_nanos FROM budget_leases l
                             WHERE l.replica_id = \(replica) AND l.scope = w.scope AND l.scope_id = w.scope_id
                               AND l.period_start = w.period_start)
                    FROM budget_windows w
                    WHERE w.scope = \(scope) AND w.scope_id = \(scopeID) AND w.period_start = \(period)
                    FOR UPDATE
                    """, logger: logger)
                var spent: Int64 = 0
                var leased: Int64 = 0
                var limit: Int64? = nil
                var recorded: Int64? = nil
                for try await (s, l, lim, rec) in windowRows.decode((Int64, Int64, Int64?, Int64?).self) {
                    spent = s
                    leased = l
                    limit = lim
                    recorded = rec
                }
                // Our lease row is gone although we hold a lease: it expired and was swept, which
                // already moved all of it to spent. Report only consumption beyond it.
                let reclaimed = recorded == nil && (used + returned + keptLease) > 0
                if reclaimed {
                    spent.add(max(0, reported - used))
                } else {
                    spent.add(reported)
                    leased -= used + returned
                }
                let ourLease = reclaimed ? 0 : keptLease
                var granted: Int64 = 0
                let budget = limit ?? Int64.max / 4  // The budget was removed: lease freely.
                let pool = max(0, budget.minus(spent).minus(leased))
                if case .acquire(let need) = mode, pool >= need {
                    granted = min(pool, max(need, pool / divisor))
                }
                leased += granted
                try await connection.query(
                    """
                    UPDATE budget_windows SET spent_nanos = \(spent), leased_nanos = \(max(0, leased)), updated_at = now()
                    WHERE scope = \(scope) AND scope_id = \(scopeID) AND period_start = \(period)
                    """, logger: logger)
                let amount = ourLease + granted
                // The row stays even at zero so its last_sync_id can answer an uncertain sync.
                try await connection.query(
                    """
                    INSERT INTO budget_leases (replica_id, scope, scope_id, period_start, amount_nanos, expires_at, last_sync_id)
                    VALUES (\(replica), \(scope), \(scopeID), \(period), \(amount),
                            now() + make_interval(secs => \(ttl)), \(syncID))
                    ON CONFLICT (replica_id, scope, scope_id, period_start) DO UPDATE
                    SET amount_nanos = excluded.amount_nanos, expires_at = excluded.expires_at,
                        last_sync_id = excluded.last_sync_id
                    """, logger: logger)
                return LeaseOutcome(
                    granted: granted, pool: pool - granted, limit: limit ?? 0, committed: spent.plus(max(0, leased)),
                    leaseWasReclaimed: reclaimed)
            }
        }
    }

    /// Counts the unreported remainder of expired leases (of crashed replicas) as spent.
    public func sweepExpiredLeases() async throws {
        _ = try await withDeadline(configuration.queryTimeout, "lease sweep") { [client, logger] in
            try await client.query(
                """
                WITH expired AS (
                    DELETE FROM budget_leases WHERE expires_at < now()
                    RETURNING scope, scope_id, period_start, amount_nanos),
                sums AS (
                    SELECT scope, scope_id, period_start, sum(amount_nanos) AS amount
                    FROM expired GROUP BY 1, 2, 3)
                UPDATE budget_windows w
                -- Spend is held at the column's limit, as in the replicas' own sums.
                SET spent_nanos = least(w.spent_nanos + s.amount, 9223372036854775807)::int8,
                    leased_nanos = greatest(0, w.leased_nanos - s.amount)::int8,
                    updated_at = now()
                FROM sums s
                WHERE w.scope = s.scope AND w.scope_id = s.scope_id AND w.period_start = s.period_start
                """, logger: logger)
        }
    }

    /// Reports every window's consumption and renews leases; idle windows return their allowance.
    public func syncAll(returningUnused: Bool = false) async {
        let keys = state.withLock { state -> [(BudgetWindowKey, SyncMode)] in
            var result: [(BudgetWindowKey, SyncMode)] = []
            let now = ContinuousClock.now
            for (key, window) in state.windows where !window.syncing {
                let idle = window.lastUsed.duration(to: now) >= configuration.idleReturn
                let mode: SyncMode = returningUnused || idle ? .returnUnused : .report
                if window.consumed == 0 && window.lease == 0 && window.uncertain == nil { continue }
                if mode == .report && window.consumed == 0 && !renewDue(window) { continue }
                result.append((key, mode))
            }
            // Marked after the walk, so the dictionary is never changed while it is iterated.
            for (key, _) in result { state.windows[key]?.syncing = true }
            return result
        }
        for (key, mode) in keys {
            do { try await sync(key, mode: mode) } catch {
                logger.warning("budget report failed", metadata: ["tollgate.scope": "\(key.scope)", "tollgate.error": "\(error)"])
            }
            endSync(key)
            // Drop windows that hold nothing (ended periods, idle scopes).
            state.withLock { state in
                // A window whose last sync may not have committed stays until the next one knows.
                if let window = state.windows[key], window.lease == 0, window.reserved == 0, window.consumed == 0,
                    window.uncertain == nil, !window.syncing, window.waiters.isEmpty, window.exhaustedUntil.map({ $0 < .now }) ?? true
                {
                    state.windows[key] = nil
                }
            }
        }
    }

    private func renewDue(_ window: Window) -> Bool { window.lease > 0 }

    /// Reports and renews every ``Configuration/syncInterval``, sweeps expired leases; on graceful
    /// shutdown reports everything and returns the unused allowance.
    public func run() async throws {
        // Graceful shutdown raises a flag; a sync in flight finishes rather than being cancelled.
        let stopping = Mutex(false)
        await withGracefulShutdownHandler {
            var rounds = 0
            while !stopping.withLock({ $0 }) && !Task.isCancelled {
                try? await Task.sleep(for: self.configuration.syncInterval)
                await self.syncAll()
                rounds += 1
                if rounds % 5 == 0 { try? await self.sweepExpiredLeases() }
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
        }
        await shutdown()
    }

    /// Reports all consumption and returns all unused allowance (call when the replica stops).
    /// Runs even when the calling task was cancelled: the final syncs happen in a task of their
    /// own, which cancellation does not reach.
    public func shutdown() async {
        if Task.isCancelled {
            await Task { await self.syncAll(returningUnused: true) }.value
        } else {
            await syncAll(returningUnused: true)
        }
    }
}

extension Int64 {
    /// Sums of spend are held at the type's limits instead of trapping: settled costs are bounded
    /// one by one (docs/PRICING.md, "Bounds"), not in sum, and a budget spent past 9.2 billion
    /// currency units is simply spent.
    fileprivate func plus(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    fileprivate func minus(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }

    fileprivate mutating func add(_ other: Int64) { self = plus(other) }
}
