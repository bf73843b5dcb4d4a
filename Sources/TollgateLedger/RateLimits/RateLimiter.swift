import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The outcome of a rate-limit check, with what the OpenAI-style headers should say.
public struct RateLimitDecision: Sendable, Hashable {
    /// True when the request may proceed (its request and token costs were taken).
    public var allowed: Bool
    /// When refused: whole seconds until a retry can succeed (the `Retry-After` header).
    public var retryAfterSeconds: Int?
    /// Which limit refused it: `"requests"` or `"tokens"`, and whose (`key` or `team`).
    public var limitedBy: String?
    public var limitRequests: Int?
    public var remainingRequests: Int?
    /// Seconds until the request allowance is full again.
    public var resetRequestsSeconds: Double?
    public var limitTokens: Int?
    public var remainingTokens: Int?
    public var resetTokensSeconds: Double?

    /// `x-ratelimit-*` headers (and `retry-after` when refused), for the limits that apply.
    public var headers: [(String, String)] {
        var result: [(String, String)] = []
        if let limit = limitRequests, let remaining = remainingRequests, let reset = resetRequestsSeconds {
            result.append(("x-ratelimit-limit-requests", String(limit)))
            result.append(("x-ratelimit-remaining-requests", String(remaining)))
            result.append(("x-ratelimit-reset-requests", Self.duration(reset)))
        }
        if let limit = limitTokens, let remaining = remainingTokens, let reset = resetTokensSeconds {
            result.append(("x-ratelimit-limit-tokens", String(limit)))
            result.append(("x-ratelimit-remaining-tokens", String(remaining)))
            result.append(("x-ratelimit-reset-tokens", Self.duration(reset)))
        }
        if let retry = retryAfterSeconds { result.append(("retry-after", String(retry))) }
        return result
    }

    public static func == (lhs: RateLimitDecision, rhs: RateLimitDecision) -> Bool {
        lhs.allowed == rhs.allowed && lhs.retryAfterSeconds == rhs.retryAfterSeconds && lhs.limitedBy == rhs.limitedBy
            && lhs.limitRequests == rhs.limitRequests && lhs.remainingRequests == rhs.remainingRequests
            && lhs.limitTokens == rhs.limitTokens && lhs.remainingTokens == rhs.remainingTokens
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(allowed)
        hasher.combine(remainingRequests)
        hasher.combine(remainingTokens)
    }

    /// OpenAI's duration style: `"1s"`, `"6m0s"`, `"250ms"`.
    static func duration(_ seconds: Double) -> String {
        if seconds <= 0 { return "0s" }
        if seconds < 1 { return "\(max(1, Int((seconds * 1000).rounded(.up))))ms" }
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole)s" }
        return "\(whole / 60)m\(whole % 60)s"
    }
}

/// Requests-per-minute and tokens-per-minute limits per key and per team.
///
/// Each replica enforces its share of every limit locally with token buckets (no I/O on the hot
/// path): capacity `limit / N` refilled continuously at `limit / N` per minute, where N is the
/// number of live replicas in `gateway_replicas` (each replica heartbeats there from ``run()``).
///
/// Tolerance across replicas: with traffic spread evenly, the cluster admits at most the limit
/// per minute in steady state, plus one bucket's burst (so at most 2× the limit within any one
/// 60-second window, as with OpenAI's continuously replenished limits). When a replica joins or
/// leaves, shares adjust within one heartbeat (``Configuration/heartbeatInterval``). Traffic pinned
/// to one replica gets only that replica's share; the headers report cluster-wide estimates.
public final class RateLimiter: Service, Sendable {
    public struct Configuration: Sendable {
        public var replicaID: String
        public var heartbeatInterval: Duration = .seconds(2)
        /// A replica not seen for this long no longer counts as live.
        public var replicaTimeout: Duration = .seconds(10)

        public init(replicaID: String) {
            self.replicaID = replicaID
        }
    }

    enum Kind: Hashable { case requests, tokens }

    struct BucketKey: Hashable {
        var scope: BudgetScope
        var kind: Kind
    }

    struct Bucket {
        var limit: Int
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    struct State {
        var buckets: [BucketKey: Bucket] = [:]
        var replicas = 1
        var lastCleanup = ContinuousClock.now
    }

    private let client: PostgresClient?
    private let logger: Logger
    public let configuration: Configuration
    private let state = Mutex(State())

    /// `client` may be nil for a single replica without heartbeats (tests, one-process demos).
    public init(client: PostgresClient?, configuration: Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// Live replicas sharing the limits.
    public var replicas: Int { state.withLock { $0.replicas } }

    /// Sets the live replica count (the heartbeat does this; tests may too).
    public func setReplicas(_ count: Int) {
        state.withLock { state in
            let count = max(1, count)
            guard count != state.replicas else { return }
            let factor = Double(state.replicas) / Double(count)
            for key in state.buckets.keys { state.buckets[key]!.tokens *= factor }
            state.replicas = count
        }
    }

    /// Checks the key's and team's limits for one request of `estimatedTokens` (prompt plus
    /// the expected completion) and, if all allow it, takes the request and tokens. No I/O.
    public func check(_ key: CachedKey, estimatedTokens: Int, now: ContinuousClock.Instant = .now) -> RateLimitDecision {
        let tokens = Double(max(0, estimatedTokens))
        var wants: [(BucketKey, Int, Double)] = []
        if let rpm = key.keyLimits.requestsPerMinute { wants.append((BucketKey(scope: .init(.key, key.id), kind: .requests), rpm, 1)) }
        if let tpm = key.keyLimits.tokensPerMinute { wants.append((BucketKey(scope: .init(.key, key.id), kind: .tokens), tpm, tokens)) }
        if let rpm = key.teamLimits.requestsPerMinute { wants.append((BucketKey(scope: .init(.team, key.teamID), kind: .requests), rpm, 1)) }
        if let tpm = key.teamLimits.tokensPerMinute { wants.append((BucketKey(scope: .init(.team, key.teamID), kind: .tokens), tpm, tokens)) }
        guard !wants.isEmpty else { return RateLimitDecision(allowed: true) }

        return state.withLock { state in
            let share = Double(state.replicas)
            var refusal: (wait: Double, by: String)? = nil
            for (bucketKey, limit, cost) in wants {
                var bucket = refill(&state, bucketKey, limit: limit, now: now)
                let capacity = Double(limit) / share
                // A request larger than a whole bucket passes only when the bucket is full, and
                // leaves it in debt, so it is possible but rare.
                let needed = min(cost, capacity)
                if bucket.tokens < needed {
                    let rate = capacity / 60
                    let wait = (needed - bucket.tokens) / rate
                    let label = "\(bucketKey.kind == .requests ? "requests" : "tokens")/\(bucketKey.scope.kind.rawValue)"
                    if refusal.map({ wait > $0.wait }) ?? true { refusal = (wait, label) }
                }
                bucket.updated = now
                state.buckets[bucketKey] = bucket
            }
            if refusal == nil {
                for (bucketKey, _, cost) in wants { state.buckets[bucketKey]!.tokens -= cost }
            }
            var decision = RateLimitDecision(allowed: refusal == nil)
            if let refusal {
                decision.retryAfterSeconds = max(1, Int(refusal.wait.rounded(.up)))
                decision.limitedBy = refusal.by
            }
            // Headers describe the tighter of key and team for each kind.
            for kind in [Kind.requests, .tokens] {
                var best: (limit: Int, remaining: Int, reset: Double, fraction: Double)? = nil
                for (bucketKey, limit, _) in wants where bucketKey.kind == kind {
                    let bucket = state.buckets[bucketKey]!
                    let capacity = Double(limit) / share
                    let remaining = max(0, min(limit, Int((bucket.tokens * share).rounded(.down))))
                    let reset = max(0, (capacity - bucket.tokens) / (capacity / 60))
                    let fraction = bucket.tokens / capacity
                    if best.map({ fraction < $0.fraction }) ?? true { best = (limit, remaining, reset, fraction) }
                }
                if let best {
                    if kind == .requests {
                        decision.limitRequests = best.limit
                        decision.remainingRequests = best.remaining
                        decision.resetRequestsSeconds = best.reset
                    } else {
                        decision.limitTokens = best.limit
                        decision.remainingTokens = best.remaining
                        decision.resetTokensSeconds = best.reset
                    }
                }
            }
            return decision
        }
    }

    /// Corrects the token buckets once the real token count is known (positive: more were used
    /// than estimated).
    public func adjustTokens(_ key: CachedKey, by delta: Int) {
        guard delta != 0 else { return }
        state.withLock { state in
            for scope in [BudgetScope(.key, key.id), BudgetScope(.team, key.teamID)] {
                let bucketKey = BucketKey(scope: scope, kind: .tokens)
                if state.buckets[bucketKey] != nil { state.buckets[bucketKey]!.tokens -= Double(delta) }
            }
        }
    }

    private func refill(_ state: inout State, _ key: BucketKey, limit: Int, now: ContinuousClock.Instant) -> Bucket {
        let capacity = Double(limit) / Double(state.replicas)
        guard var bucket = state.buckets[key] else {
            return Bucket(limit: limit, tokens: capacity, updated: now)
        }
        if bucket.limit != limit {
            bucket.tokens = bucket.tokens * Double(limit) / Double(max(1, bucket.limit))
            bucket.limit = limit
        }
        let elapsed = bucket.updated.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if seconds > 0 { bucket.tokens = min(capacity, bucket.tokens + seconds * capacity / 60) }
        return bucket
    }

    /// Forgets buckets that are full again (idle keys), so memory follows active keys only.
    func cleanup(now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            let share = Double(state.replicas)
            state.buckets = state.buckets.filter { key, bucket in
                let elapsed = bucket.updated.duration(to: now)
                let capacity = Double(bucket.limit) / share
                return elapsed < .seconds(60) || bucket.tokens < capacity - 1e-9 && elapsed < .seconds(120)
            }
            state.lastCleanup = now
        }
    }

    // MARK: Heartbeat

    /// Records this replica as live and reads how many are.
    public func heartbeat() async throws {
        guard let client else { return }
        let replica = configuration.replicaID
        let timeout = Int64(configuration.replicaTimeout.components.seconds)
        let count = try await withDeadline(.seconds(2), "replica heartbeat") { [logger] in
            try await client.query(
                """
                INSERT INTO gateway_replicas (replica_id) VALUES (\(replica))
                ON CONFLICT (replica_id) DO UPDATE SET last_seen = now()
                """, logger: logger)
            let rows = try await client.query(
                """
                SELECT count(*)::int8 FROM gateway_replicas
                WHERE last_seen > now() - make_interval(secs => \(timeout))
                """, logger: logger)
            var count: Int64 = 1
            for try await value in rows.decode(Int64.self) { count = value }
            return Int(count)
        }
        setReplicas(count)
    }

    /// Heartbeats until graceful shutdown, then removes this replica so the others' shares grow.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.heartbeat() } catch {
                    // Keep the last known share: safer than assuming we are alone.
                    self.logger.warning("replica heartbeat failed", metadata: ["tollgate.error": "\(error)"])
                }
                if self.state.withLock({ $0.lastCleanup.duration(to: .now) > .seconds(60) }) { self.cleanup() }
                try? await Task.sleep(for: self.configuration.heartbeatInterval)
            }
        }
        if let client {
            let replica = configuration.replicaID
            _ = try? await withDeadline(.seconds(2), "replica removal") { [logger] in
                try await client.query("DELETE FROM gateway_replicas WHERE replica_id = \(replica)", logger: logger)
            }
        }
    }
}
