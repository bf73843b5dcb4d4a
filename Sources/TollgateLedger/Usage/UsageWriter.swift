import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Writes usage events to the ledger off the hot path, and never loses one.
///
/// ``record(_:)`` appends to a bounded in-memory queue and returns at once. ``run()`` (a
/// `Service`) writes the queue in batches: one `INSERT ... SELECT FROM unnest(...)` per batch
/// with bound array parameters, `ON CONFLICT (request_id, started_at) DO NOTHING`, and in the
/// same statement adds the rows it really inserted to the daily rollup the reports read.
///
/// When PostgreSQL fails or times out, the batch goes to the spool file (fsync'd) and the
/// writer keeps spooling until a probe succeeds; then the spool is replayed, idempotently.
/// When the queue is full, ``record(_:)`` appends straight to the spool (one `write`, no
/// database). Graceful shutdown drains the queue to PostgreSQL, or to the spool.
public final class UsageWriter: Service, Sendable {
    public struct Configuration: Sendable {
        /// Folder of this replica's spool (one folder per replica).
        public var spoolDirectory: String
        /// Events held in memory before ``record(_:)`` spools directly.
        public var queueCapacity = 100_000
        /// Rows per INSERT.
        public var batchSize = 2_000
        /// Batches written at the same time (each on its own connection).
        public var concurrentBatches = 2
        /// How long the writer waits for more events before writing a partial batch.
        public var flushInterval: Duration = .milliseconds(50)
        /// How long one batch may take before it counts as failed and is spooled.
        public var writeTimeout: Duration = .seconds(5)
        /// How often PostgreSQL is probed while it is down, and the spool looked at.
        public var retryInterval: Duration = .seconds(1)
        /// How often daily partitions are created ahead.
        public var partitionInterval: Duration = .seconds(3_600)

        public init(spoolDirectory: String) {
            self.spoolDirectory = spoolDirectory
        }
    }

    /// Counters for metrics and tests.
    public struct Stats: Sendable, Hashable {
        public var recorded = 0
        /// Rows sent to PostgreSQL (including replays; duplicates are ignored by the database).
        public var written = 0
        public var spooled = 0
        public var replayed = 0
        public var failedBatches = 0
        public var queued = 0
    }

    private struct State {
        var queue: [UsageEvent] = []
        var stats = Stats()
        var databaseDown = false
        var lastProbe: ContinuousClock.Instant?
        var lastPartitionCheck: ContinuousClock.Instant?
        var replaying = false
    }

    private let client: PostgresClient
    private let spool: UsageSpool
    private let logger: Logger
    public let configuration: Configuration
    private let state = Mutex(State())

    public init(client: PostgresClient, configuration: Configuration, logger: Logger) throws {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.spool = try UsageSpool(directory: configuration.spoolDirectory, logger: logger)
    }

    // MARK: Hot path

    /// Queues an event for writing. Never waits on PostgreSQL; when the queue is full the event
    /// is appended to the spool file instead.
    public func record(_ event: UsageEvent) {
        let accepted = state.withLock { state -> Bool in
            state.stats.recorded += 1
            guard state.queue.count < configuration.queueCapacity else {
                state.stats.spooled += 1
                return false
            }
            state.queue.append(event)
            return true
        }
        if !accepted {
            do {
                try spool.append(CollectionOfOne(event))
            } catch {
                // The disk refused too: keep the event in memory rather than drop it.
                logger.critical("spool append failed; queue grows past capacity", metadata: ["tollgate.error": "\(error)"])
                state.withLock { $0.queue.append(event) }
            }
        }
    }

    public var stats: Stats {
        state.withLock { state in
            var stats = state.stats
            stats.queued = state.queue.count
            return stats
        }
    }

    // MARK: Service

    /// Writes batches until graceful shutdown, then drains the queue.
    public func run() async throws {
        // Graceful shutdown only raises a flag: a batch being written is finished, not cancelled
        // (a cancelled write would have to go to the spool).
        let stopping = NIOLockedValueBox(false)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, self.configuration.concurrentBatches) {
                    group.addTask {
                        while !stopping.withLockedValue({ $0 }) && !Task.isCancelled {
                            let wrote = await self.step()
                            if !wrote { try? await Task.sleep(for: self.configuration.flushInterval) }
                        }
                    }
                }
                // Partitions are made ahead on a loop of their own, so a slow or stuck DDL never
                // holds up the batches (rows without a partition land in the default one).
                group.addTask {
                    while !stopping.withLockedValue({ $0 }) && !Task.isCancelled {
                        await self.maintainPartitions(force: false)
                        try? await Task.sleep(for: .milliseconds(500))
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.withLockedValue { $0 = true }
        }
        await drain()
    }

    /// Writes everything queued now and replays the spool if PostgreSQL is reachable. Tests and
    /// the shutdown path use it; the service loop does the same continuously.
    public func flush() async {
        await maintainPartitions(force: false)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, configuration.concurrentBatches) {
                group.addTask { while await self.step(), self.stats.queued > 0 {} }
            }
        }
        await probeAndReplay(force: true)
        try? spool.sync()
    }

    /// Drains the queue to PostgreSQL, or to the spool if it is down, and fsyncs the spool.
    ///
    /// Runs even when the calling task was cancelled (a hard stop): the drain happens in a task
    /// of its own, which cancellation does not reach, and is bounded by the write timeout per batch.
    public func drain() async {
        if Task.isCancelled {
            await Task { await self.drainNow() }.value
        } else {
            await drainNow()
        }
    }

    private func drainNow() async {
        while true {
            let batch = takeBatch()
            if batch.isEmpty { break }
            if state.withLock({ $0.databaseDown }) {
                spoolBatch(batch)
            } else {
                await write(batch)
            }
        }
        do { try spool.sync() } catch { logger.critical("spool fsync failed at shutdown", metadata: ["tollgate.error": "\(error)"]) }
    }

    /// One round: write a batch, or probe and replay. Returns true when a batch was taken.
    private func step() async -> Bool {
        let batch = takeBatch()
        let down = state.withLock { $0.databaseDown }
        if !batch.isEmpty {
            if down {
                spoolBatch(batch)
                await probeAndReplay()
            } else {
                await write(batch)
            }
            return true
        }
        do { try spool.sync() } catch { logger.error("spool fsync failed", metadata: ["tollgate.error": "\(error)"]) }
        await probeAndReplay()
        return false
    }

    private func takeBatch() -> [UsageEvent] {
        state.withLock { state in
            let count = min(state.queue.count, configuration.batchSize)
            guard count > 0 else { return [] }
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
    }

    private func write(_ batch: [UsageEvent]) async {
        do {
            try await insert(batch)
            state.withLock { $0.stats.written += batch.count }
        } catch {
            logger.warning(
                "ledger write failed; spooling",
                metadata: ["tollgate.error": "\(describe(error))", "tollgate.count": "\(batch.count)"])
            state.withLock {
                $0.databaseDown = true
                $0.lastProbe = .now
                $0.stats.failedBatches += 1
            }
            spoolBatch(batch)
        }
    }

    private func spoolBatch(_ batch: [UsageEvent]) {
        do {
            try spool.append(batch)
            try spool.sync()
            state.withLock { $0.stats.spooled += batch.count }
        } catch {
            // Nowhere durable to put them: keep them queued and try again next round.
            logger.critical("spool failed; keeping events in memory", metadata: ["tollgate.error": "\(error)"])
            state.withLock { $0.queue.insert(contentsOf: batch, at: 0) }
        }
    }

    private func probeAndReplay(force: Bool = false) async {
        let due = state.withLock { state -> Bool in
            guard !force, let last = state.lastProbe else { return true }
            return last.duration(to: .now) >= configuration.retryInterval
        }
        guard due else { return }
        state.withLock { $0.lastProbe = .now }
        guard spool.hasPending || state.withLock({ $0.databaseDown }) else { return }
        do {
            _ = try await withDeadline(configuration.writeTimeout, "ledger probe") { [client, logger] in
                try await client.query("SELECT 1", logger: logger)
            }
        } catch {
            state.withLock { $0.databaseDown = true }
            return
        }
        if state.withLock({ $0.databaseDown }) {
            logger.info("PostgreSQL reachable again; replaying the usage spool")
            state.withLock { $0.databaseDown = false }
        }
        await replaySpool()
    }

    /// Replays every spool file into the ledger; a file is deleted only once all its rows are in.
    private func replaySpool() async {
        // One replay at a time (several batch loops may get here together).
        guard state.withLock({ state -> Bool in
            if state.replaying { return false }
            state.replaying = true
            return true
        }) else { return }
        defer { state.withLock { $0.replaying = false } }
        let files: [String]
        do { files = try spool.filesForReplay() } catch {
            logger.error("cannot rotate the spool", metadata: ["tollgate.error": "\(error)"])
            return
        }
        for file in files {
            do {
                let events = try spool.read(file)
                var start = 0
                while start < events.count {
                    let end = min(events.count, start + configuration.batchSize)
                    try await insert(Array(events[start..<end]))
                    start = end
                }
                spool.remove(file)
                state.withLock {
                    $0.stats.replayed += events.count
                    $0.stats.written += events.count
                }
                logger.info("replayed usage spool", metadata: ["tollgate.count": "\(events.count)"])
            } catch {
                logger.warning("spool replay failed; will retry", metadata: ["tollgate.error": "\(error)"])
                state.withLock {
                    $0.databaseDown = true
                    $0.lastProbe = .now
                }
                return
            }
        }
    }

    /// Creates partitions ahead when due (every ``Configuration/partitionInterval``; after a
    /// failure, again after ``Configuration/retryInterval``).
    private func maintainPartitions(force: Bool) async {
        let due = state.withLock { state -> Bool in
            if state.databaseDown { return false }
            if !force, let last = state.lastPartitionCheck, last.duration(to: .now) < configuration.partitionInterval {
                return false
            }
            state.lastPartitionCheck = .now
            return true
        }
        guard due else { return }
        do {
            try await withDeadline(.seconds(10), "partition maintenance") { [client, logger] in
                try await UsagePartitions.ensure(client: client, logger: logger)
            }
        } catch {
            logger.warning("partition maintenance failed", metadata: ["tollgate.error": "\(describe(error))"])
            // Try again soon rather than in an hour.
            state.withLock {
                $0.lastPartitionCheck = ContinuousClock.now.advanced(by: configuration.retryInterval - configuration.partitionInterval)
            }
        }
    }

    // MARK: SQL

    private func insert(_ batch: [UsageEvent]) async throws {
        let query = Self.insertQuery(batch)
        _ = try await withDeadline(configuration.writeTimeout, "ledger write") { [client, logger] in
            try await client.query(query, logger: logger)
        }
    }

    /// One statement: insert the batch (skipping rows already present) and add exactly the rows
    /// inserted to the rollups, `usage_daily` and `count_accuracy_daily`. Nullable columns travel
    /// as sentinels (`-1`, `''`) that NULLIF turns back into NULL, so every column is one bound
    /// array (`prompt_count_exact` travels as 1, 0 or -1).
    static func insertQuery(_ batch: [UsageEvent]) -> PostgresQuery {
        let requestIDs = batch.map(\.requestID)
        let clientIDs = batch.map { $0.clientRequestID ?? "" }
        // Times travel as integer microseconds since 1970 and become timestamptz in SQL, exactly
        // (PostgresNIO's Date encoding truncates a Double, which can lose a microsecond).
        let started = batch.map { UsageEvent.microseconds($0.startedAt) }
        let finished = batch.map { UsageEvent.microseconds($0.finishedAt) }
        let teams = batch.map(\.teamID)
        let keys = batch.map { $0.keyID ?? -1 }
        let models = batch.map(\.requestedModel)
        let targets = batch.map(\.target)
        let endpoints = batch.map { $0.endpoint ?? "" }
        let rules = batch.map { $0.policyRule ?? "" }
        let promptEstimated = batch.map { Int64($0.promptTokensEstimated) }
        let countExact = batch.map { $0.promptCountExact.map { $0 ? Int64(1) : 0 } ?? -1 }
        let prompt = batch.map { Int64($0.promptTokens) }
        let cacheHit = batch.map { Int64($0.cacheHitTokens) }
        let completion = batch.map { Int64($0.completionTokens) }
        let reasoning = batch.map { Int64($0.reasoningTokens) }
        let cost = batch.map(\.costNanos)
        let currency = batch.map(\.currency)
        let priceBook = batch.map(\.priceBookVersion)
        let listCost = batch.map(\.listCostNanos)
        let latency = batch.map { Int64($0.latencyMs) }
        let ttft = batch.map { Int64($0.ttftMs ?? -1) }
        let status = batch.map { Int64($0.statusCode) }
        let errors = batch.map { $0.errorCode ?? "" }
        let stream = batch.map(\.stream)
        let disconnected = batch.map(\.clientDisconnected)
        let estimated = batch.map(\.usageEstimated)
        return """
            WITH ins AS (
                INSERT INTO usage_events (
                    request_id, client_request_id, started_at, finished_at, team_id, key_id, requested_model, target, endpoint,
                    policy_rule, prompt_tokens_estimated, prompt_count_exact, prompt_tokens, cache_hit_tokens,
                    completion_tokens, reasoning_tokens, cost_nanos, currency, price_book_version, list_cost_nanos, latency_ms,
                    ttft_ms, status_code, error_code, stream, client_disconnected, usage_estimated)
                SELECT r, NULLIF(ci, ''), timestamptz 'epoch' + s * interval '1 microsecond',
                       timestamptz 'epoch' + f * interval '1 microsecond', t, NULLIF(k, -1), m, tg, NULLIF(e, ''), NULLIF(pr, ''), pe,
                       NULLIF(px, -1) = 1, p, ch, c, rs, co, cu, pb, lc, l, NULLIF(tt, -1), st, NULLIF(er, ''), sm, dc, es
                FROM unnest(
                    \(requestIDs)::text[], \(clientIDs)::text[], \(started)::int8[], \(finished)::int8[], \(teams)::int8[],
                    \(keys)::int8[], \(models)::text[], \(targets)::text[], \(endpoints)::text[], \(rules)::text[],
                    \(promptEstimated)::int8[], \(countExact)::int8[], \(prompt)::int8[], \(cacheHit)::int8[],
                    \(completion)::int8[], \(reasoning)::int8[], \(cost)::int8[], \(currency)::text[], \(priceBook)::text[],
                    \(listCost)::int8[], \(latency)::int8[], \(ttft)::int8[], \(status)::int8[], \(errors)::text[],
                    \(stream)::bool[], \(disconnected)::bool[], \(estimated)::bool[]
                ) AS u(r, ci, s, f, t, k, m, tg, e, pr, pe, px, p, ch, c, rs, co, cu, pb, lc, l, tt, st, er, sm, dc, es)
                ON CONFLICT (request_id, started_at) DO NOTHING
                RETURNING started_at, team_id, requested_model, target, currency, status_code, prompt_tokens,
                          cache_hit_tokens, completion_tokens, reasoning_tokens, cost_nanos, list_cost_nanos,
                          prompt_tokens_estimated, prompt_count_exact, usage_estimated
            ), daily AS (
                INSERT INTO usage_daily AS d (
                    day, team_id, requested_model, target, currency, requests, errors, prompt_tokens,
                    cache_hit_tokens, completion_tokens, reasoning_tokens, cost_nanos, list_cost_nanos)
                SELECT (started_at AT TIME ZONE 'UTC')::date, team_id, requested_model, target, currency, count(*),
                       count(*) FILTER (WHERE status_code >= 400), sum(prompt_tokens), sum(cache_hit_tokens),
                       sum(completion_tokens), sum(reasoning_tokens), sum(cost_nanos), sum(list_cost_nanos)
                FROM ins GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (day, team_id, requested_model, target, currency) DO UPDATE SET
                    requests = d.requests + excluded.requests,
                    errors = d.errors + excluded.errors,
                    prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
                    cache_hit_tokens = d.cache_hit_tokens + excluded.cache_hit_tokens,
                    completion_tokens = d.completion_tokens + excluded.completion_tokens,
                    reasoning_tokens = d.reasoning_tokens + excluded.reasoning_tokens,
                    cost_nanos = d.cost_nanos + excluded.cost_nanos,
                    list_cost_nanos = d.list_cost_nanos + excluded.list_cost_nanos
                RETURNING 1
            )
            -- The scalar subquery finishes `daily` before this insert takes its first row lock, so
            -- every batch locks rollup rows in one order (usage_daily, then these; each sorted)
            -- and two batches in flight cannot deadlock.
            INSERT INTO count_accuracy_daily AS a (\(unescaped: CountAccuracyRollup.columns))
            SELECT \(unescaped: CountAccuracyRollup.sums)
            FROM ins
            WHERE (SELECT count(*) FROM daily) >= 0 AND \(unescaped: CountAccuracyRollup.compared)
            GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (day, team_id, requested_model, target, counted) DO UPDATE SET
                requests = a.requests + excluded.requests,
                exact = a.exact + excluded.exact,
                tollgate_tokens = a.tollgate_tokens + excluded.tollgate_tokens,
                engine_tokens = a.engine_tokens + excluded.engine_tokens,
                abs_error = a.abs_error + excluded.abs_error,
                max_error = greatest(a.max_error, excluded.max_error)
            """
    }
}
