import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TollgateMoney

/// The answer to "who is this bearer key?".
public enum KeyAuthentication: Sendable, Hashable {
    /// A known, live key.
    case valid(CachedKey)
    /// Not a key, or a key no longer accepted.
    case invalid(InvalidKeyReason)
    /// The key is not cached and PostgreSQL could not be asked (outage); the gateway answers 503.
    case unavailable
}

/// Why a key was refused. The gateway answers 401 for all of them, without saying which.
public enum InvalidKeyReason: String, Sendable, Hashable {
    case unknown, revoked, expired
}

/// The gateway's in-memory view of every key, refreshed from PostgreSQL.
///
/// - The hot path calls ``cached(_:)`` (synchronous, no I/O) or ``authenticate(bearer:)``, which
///   only goes to PostgreSQL on a miss, so a key created a moment ago works on its first request.
/// - Unknown digests are remembered as unknown for ``Configuration/negativeTTL`` so a flood of
///   bad keys costs one query per distinct key and TTL, and the set is bounded.
/// - ``run()`` (a `Service`) loads every key, then every ``Configuration/refreshInterval`` reads the
///   keys and teams changed since its last look, so a revocation reaches every replica within
///   about that interval. When PostgreSQL is unreachable the last known keys keep working.
public final class KeyDirectory: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often changes are read (default 2 s).
        public var refreshInterval: Duration = .seconds(2)
        /// How long a digest that matched no key is answered from memory (default 5 s).
        public var negativeTTL: Duration = .seconds(5)
        /// At most this many unknown digests are remembered; beyond it the oldest are forgotten.
        public var negativeCapacity: Int = 50_000
        /// How long a cache miss waits for PostgreSQL before answering ``KeyAuthentication/unavailable``.
        public var lookupTimeout: Duration = .seconds(2)
        /// A full reload happens at least this often, as a safety net for missed increments.
        public var fullReloadInterval: Duration = .seconds(300)

        public init() {}
    }

    private struct State {
        var keys: [KeyDigest: Entry] = [:]
        var negative: [KeyDigest: ContinuousClock.Instant] = [:]
        /// Database time of the newest change seen; increments re-read a margin before it.
        var highWater: Date?
        var lastFullLoad: ContinuousClock.Instant?
        var loaded = false
    }

    enum Entry: Sendable {
        case live(CachedKey)
        case revoked
    }

    /// Changes may commit out of timestamp order; re-reading this far back catches them.
    static let refreshOverlap: TimeInterval = 30

    private let client: PostgresClient
    private let logger: Logger
    public let configuration: Configuration
    private let state = Mutex(State())

    public init(client: PostgresClient, configuration: Configuration = .init(), logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Hot path

    /// The cached answer for `digest`, or nil when this replica has not seen it (call
    /// ``authenticate(digest:)`` then). Never does I/O.
    public func cached(_ digest: KeyDigest, now: Date = Date()) -> KeyAuthentication? {
        let instant = ContinuousClock.now
        return state.withLock { state -> KeyAuthentication? in
            switch state.keys[digest] {
            case .live(let key):
                return key.isExpired(at: now) ? .invalid(.expired) : .valid(key)
            case .revoked:
                return .invalid(.revoked)
            case nil:
                if let until = state.negative[digest] {
                    if until > instant { return .invalid(.unknown) }
                    state.negative[digest] = nil
                }
                return nil
            }
        }
    }

    /// Authenticates the key from an `Authorization: Bearer` header (without the `Bearer `).
    public func authenticate(bearer: some StringProtocol) async -> KeyAuthentication {
        guard bearer.hasPrefix(APIKeyGenerator.scheme) else { return .invalid(.unknown) }
        return await authenticate(digest: KeyDigest(plaintext: bearer))
    }

    /// The cached answer, or on a miss one query to PostgreSQL (bounded by
    /// ``Configuration/lookupTimeout``) whose answer is cached.
    public func authenticate(digest: KeyDigest) async -> KeyAuthentication {
        if let answer = cached(digest) { return answer }
        do {
            let row = try await withDeadline(configuration.lookupTimeout, "key lookup") { [self] in
                try await self.fetch(digest: digest)
            }
            let answer: KeyAuthentication
            state.withLock { state in
                if let (entry, _) = row {
                    state.keys[digest] = entry
                } else {
                    rememberUnknown(digest, in: &state)
                }
            }
            switch row?.0 {
            case .live(let key)?: answer = key.isExpired() ? .invalid(.expired) : .valid(key)
            case .revoked?: answer = .invalid(.revoked)
            case nil: answer = .invalid(.unknown)
            }
            return answer
        } catch {
            logger.warning("key lookup failed", metadata: ["tollgate.error": "\(error)"])
            return .unavailable
        }
    }

    private func rememberUnknown(_ digest: KeyDigest, in state: inout State) {
        let now = ContinuousClock.now
        if state.negative.count >= configuration.negativeCapacity {
            state.negative = state.negative.filter { $0.value > now }
            // Still full of live entries: an attack of distinct keys; drop half rather than grow.
            if state.negative.count >= configuration.negativeCapacity {
                state.negative = Dictionary(uniqueKeysWithValues: state.negative.prefix(configuration.negativeCapacity / 2).map { ($0.key, $0.value) })
            }
        }
        state.negative[digest] = now.advanced(by: configuration.negativeTTL)
    }

    /// How many live keys this replica holds.
    public var count: Int {
        state.withLock { $0.keys.values.reduce(0) { if case .live = $1 { return $0 + 1 } else { return $0 } } }
    }

    // MARK: Refresh

    /// Reads keys changed since the last refresh (all keys the first time, and every
    /// ``Configuration/fullReloadInterval``). Throws when PostgreSQL cannot be reached; the
    /// cache is unchanged then.
    public func refresh() async throws {
        let (since, full) = state.withLock { state -> (Date?, Bool) in
            let due = state.lastFullLoad.map { $0.duration(to: .now) >= configuration.fullReloadInterval } ?? true
            if due || !state.loaded { return (nil, true) }
            return (state.highWater.map { $0.addingTimeInterval(-Self.refreshOverlap) }, false)
        }
        let rows = try await withDeadline(.seconds(10), "key refresh") { [self] in
            try await self.fetchChanged(since: since)
        }
        state.withLock { state in
            if full {
                var keys: [KeyDigest: Entry] = [:]
                for row in rows { keys[row.digest] = row.entry }
                state.keys = keys
                state.lastFullLoad = .now
                state.loaded = true
            } else {
                for row in rows { state.keys[row.digest] = row.entry }
            }
            for row in rows {
                state.negative[row.digest] = nil
                if state.highWater.map({ row.changedAt > $0 }) ?? true { state.highWater = row.changedAt }
            }
        }
    }

    /// Refreshes every ``Configuration/refreshInterval`` until graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.refresh()
                } catch {
                    self.logger.warning(
                        "key refresh failed; serving cached keys", metadata: ["tollgate.error": "\(error)"])
                }
                try? await Task.sleep(for: self.configuration.refreshInterval)
            }
        }
    }

    // MARK: Queries

    private struct Row: Sendable {
        var digest: KeyDigest
        var entry: Entry
        var changedAt: Date
    }

    private static let columns = """
        k.key_hash, k.id, k.prefix, k.team_id, t.name, k.models, k.expires_at, k.revoked_at,
        k.budget_nanos, k.budget_period, k.currency, k.rpm, k.tpm,
        t.budget_nanos, t.budget_period, t.currency, t.rpm, t.tpm,
        greatest(k.updated_at, t.updated_at)
        """

    private func fetch(digest: KeyDigest) async throws -> (Entry, Date)? {
        let hash = ByteBuffer(bytes: digest.bytes)
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM api_keys k JOIN teams t ON t.id = k.team_id
            WHERE k.key_hash = \(hash)
            """, logger: logger)
        for try await row in rows {
            let decoded = try Self.decode(row)
            return (decoded.entry, decoded.changedAt)
        }
        return nil
    }

    private func fetchChanged(since: Date?) async throws -> [Row] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM api_keys k JOIN teams t ON t.id = k.team_id
            WHERE \(since)::timestamptz IS NULL OR k.updated_at > \(since) OR t.updated_at > \(since)
            """, logger: logger)
        var result: [Row] = []
        for try await row in rows { result.append(try Self.decode(row)) }
        return result
    }

    private static func decode(_ row: PostgresRow) throws -> Row {
        let c = Array(row)
        var hashBuffer = try c[0].decode(ByteBuffer.self)
        guard let digest = KeyDigest(rawBytes: hashBuffer.readBytes(length: hashBuffer.readableBytes) ?? []) else {
            throw LedgerError.invalidArgument("api_keys.key_hash is not 32 bytes")
        }
        let changedAt = try c[18].decode(Date.self)
        if try c[7].decode(Date?.self) != nil {
            return Row(digest: digest, entry: .revoked, changedAt: changedAt)
        }
        func limits(_ base: Int) throws -> Limits {
            let currency = try c[base + 2].decode(String.self)
            return Limits(
                budget: try c[base].decode(Int64?.self).map { Money(nanos: $0, currency: currency) },
                budgetPeriod: BudgetPeriod(rawValue: try c[base + 1].decode(String.self)) ?? .total,
                requestsPerMinute: try c[base + 3].decode(Int?.self),
                tokensPerMinute: try c[base + 4].decode(Int?.self))
        }
        let key = CachedKey(
            id: try c[1].decode(Int64.self), prefix: try c[2].decode(String.self),
            teamID: try c[3].decode(Int64.self), teamName: try c[4].decode(String.self),
            models: try c[5].decode([String].self), expiresAt: try c[6].decode(Date?.self),
            keyLimits: try limits(8), teamLimits: try limits(13))
        return Row(digest: digest, entry: .live(key), changedAt: changedAt)
    }
}
