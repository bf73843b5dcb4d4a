import Foundation
import Logging
import PostgresNIO
import TollgateMoney

/// What to create a key with.
public struct NewKey: Sendable, Hashable {
    /// The team's name; the team is created if it does not exist yet.
    public var team: String
    public var name: String?
    public var budget: Money?
    public var budgetPeriod: BudgetPeriod
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Models the key may use; empty means any.
    public var models: [String]
    public var expiresAt: Date?

    public init(
        team: String, name: String? = nil, budget: Money? = nil, budgetPeriod: BudgetPeriod = .total,
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, models: [String] = [], expiresAt: Date? = nil
    ) {
        self.team = team
        self.name = name
        self.budget = budget
        self.budgetPeriod = budgetPeriod
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.models = models
        self.expiresAt = expiresAt
    }
}

/// A key just created: the plaintext exists only here, once.
public struct CreatedKey: Sendable {
    public var plaintext: String
    public var record: KeyRecord
}

/// Administration of teams and keys (the CLI and the admin API use it; the hot path does not).
public struct KeyStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Creates a key for `spec.team` (creating the team if needed) and returns its plaintext once.
    public func create(_ spec: NewKey) async throws -> CreatedKey {
        try Self.validate(name: spec.team)
        if let rpm = spec.requestsPerMinute, rpm <= 0 { throw LedgerError.invalidArgument("rpm must be positive") }
        if let tpm = spec.tokensPerMinute, tpm <= 0 { throw LedgerError.invalidArgument("tpm must be positive") }
        if let budget = spec.budget, budget.nanos < 0 { throw LedgerError.invalidArgument("budget must not be negative") }
        let team = try await ensureTeam(name: spec.team, currency: spec.budget?.currency)
        // A prefix collision (1 in 62^8 per pair) is retried with a new key rather than failing.
        for _ in 0..<5 {
            let plaintext = APIKeyGenerator.generate()
            let digest = ByteBuffer(bytes: KeyDigest(plaintext: plaintext).bytes)
            let prefix = APIKeyGenerator.prefix(of: plaintext)
            let currency = spec.budget?.currency ?? team.currency
            let rows = try await client.query(
                """
                INSERT INTO api_keys (key_hash, prefix, team_id, name, budget_nanos, budget_period, currency,
                                      rpm, tpm, models, expires_at)
                VALUES (\(digest), \(prefix), \(team.id), \(spec.name), \(spec.budget?.nanos),
                        \(spec.budgetPeriod.rawValue), \(currency), \(spec.requestsPerMinute),
                        \(spec.tokensPerMinute), \(spec.models), \(spec.expiresAt))
                ON CONFLICT DO NOTHING
                RETURNING id
                """, logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            if inserted {
                guard let record = try await key(prefix: prefix) else {
                    throw LedgerError.notFound("key \(prefix) vanished after insert")
                }
                logger.info("created key", metadata: ["tollgate.key": "\(prefix)", "tollgate.team": "\(team.name)"])
                return CreatedKey(plaintext: plaintext, record: record)
            }
        }
        throw LedgerError.invalidArgument("could not find an unused key prefix")
    }

    /// Keys, newest first, optionally of one team only.
    public func list(team: String? = nil, includeRevoked: Bool = true) async throws -> [KeyRecord] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.keyColumns) FROM api_keys k JOIN teams t ON t.id = k.team_id
            WHERE (\(team)::text IS NULL OR t.name = \(team))
              AND (\(includeRevoked) OR k.revoked_at IS NULL)
            ORDER BY k.created_at DESC, k.id DESC
            """, logger: logger)
        var result: [KeyRecord] = []
        for try await row in rows { result.append(try Self.decodeKey(row)) }
        return result
    }

    /// One key by its visible prefix.
    public func key(prefix: String) async throws -> KeyRecord? {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.keyColumns) FROM api_keys k JOIN teams t ON t.id = k.team_id
            WHERE k.prefix = \(prefix)
            """, logger: logger)
        for try await row in rows { return try Self.decodeKey(row) }
        return nil
    }

    /// Revokes a key; every replica stops accepting it at its next refresh (seconds).
    /// Revoking a revoked key keeps its first revocation time.
    @discardableResult
    public func revoke(prefix: String) async throws -> KeyRecord {
        let rows = try await client.query(
            """
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), updated_at = clock_timestamp()
            WHERE prefix = \(prefix) RETURNING id
            """, logger: logger)
        var found = false
        for try await _ in rows { found = true }
        guard found, let record = try await key(prefix: prefix) else {
            throw LedgerError.notFound("no key with prefix \(prefix)")
        }
        logger.info("revoked key", metadata: ["tollgate.key": "\(prefix)"])
        return record
    }

    /// Changes a key's limits, allowed models or expiry.
    @discardableResult
    public func update(prefix: String, _ change: LimitsUpdate) async throws -> KeyRecord {
        let rows = try await client.query(
            """
            UPDATE api_keys SET
                budget_nanos = CASE WHEN \(change.budgetNanos != nil) THEN \(change.budgetNanos ?? nil) ELSE budget_nanos END,
                budget_period = coalesce(\(change.budgetPeriod?.rawValue), budget_period),
                currency = coalesce(\(change.currency), currency),
                rpm = CASE WHEN \(change.requestsPerMinute != nil) THEN \(change.requestsPerMinute ?? nil) ELSE rpm END,
                tpm = CASE WHEN \(change.tokensPerMinute != nil) THEN \(change.tokensPerMinute ?? nil) ELSE tpm END,
                models = coalesce(\(change.models), models),
                expires_at = CASE WHEN \(change.expiresAt != nil) THEN \(change.expiresAt ?? nil) ELSE expires_at END,
                updated_at = clock_timestamp()
            WHERE prefix = \(prefix) RETURNING id
            """, logger: logger)
        var found = false
        for try await _ in rows { found = true }
        guard found, let record = try await key(prefix: prefix) else {
            throw LedgerError.notFound("no key with prefix \(prefix)")
        }
        return record
    }

    /// The team named `name`, created with no limits if it does not exist.
    @discardableResult
    public func ensureTeam(name: String, currency: String? = nil) async throws -> TeamRecord {
        try Self.validate(name: name)
        try await client.query(
            """
            INSERT INTO teams (name, currency) VALUES (\(name), \(currency ?? "USD"))
            ON CONFLICT (name) DO NOTHING
            """, logger: logger)
        guard let team = try await team(named: name) else { throw LedgerError.notFound("team \(name)") }
        return team
    }

    /// A team by name.
    public func team(named name: String) async throws -> TeamRecord? {
        let rows = try await client.query(
            """
            SELECT id, name, budget_nanos, budget_period, currency, rpm, tpm FROM teams WHERE name = \(name)
            """, logger: logger)
        for try await row in rows {
            let cells = Array(row)
            return TeamRecord(
                id: try cells[0].decode(Int64.self), name: try cells[1].decode(String.self),
                budgetNanos: try cells[2].decode(Int64?.self),
                budgetPeriod: BudgetPeriod(rawValue: try cells[3].decode(String.self)) ?? .total,
                currency: try cells[4].decode(String.self), requestsPerMinute: try cells[5].decode(Int?.self),
                tokensPerMinute: try cells[6].decode(Int?.self))
        }
        return nil
    }

    /// All teams, by name.
    public func teams() async throws -> [String] {
        let rows = try await client.query("SELECT name FROM teams ORDER BY name", logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) { names.append(name) }
        return names
    }

    /// Sets a team's budget and rate limits (creating the team if needed).
    @discardableResult
    public func setTeamLimits(team name: String, _ change: LimitsUpdate) async throws -> TeamRecord {
        try await ensureTeam(name: name, currency: change.currency)
        try await client.query(
            """
            UPDATE teams SET
                budget_nanos = CASE WHEN \(change.budgetNanos != nil) THEN \(change.budgetNanos ?? nil) ELSE budget_nanos END,
                budget_period = coalesce(\(change.budgetPeriod?.rawValue), budget_period),
                currency = coalesce(\(change.currency), currency),
                rpm = CASE WHEN \(change.requestsPerMinute != nil) THEN \(change.requestsPerMinute ?? nil) ELSE rpm END,
                tpm = CASE WHEN \(change.tokensPerMinute != nil) THEN \(change.tokensPerMinute ?? nil) ELSE tpm END,
                updated_at = clock_timestamp()
            WHERE name = \(name)
            """, logger: logger)
        guard let team = try await team(named: name) else { throw LedgerError.notFound("team \(name)") }
        return team
    }

    static func validate(name: String) throws {
        guard !name.isEmpty, name.count <= 200, !name.contains(where: { $0.isNewline }) else {
            throw LedgerError.invalidArgument("a team name is 1 to 200 characters on one line")
        }
    }

    static let keyColumns = """
        k.id, k.prefix, k.team_id, t.name, k.name, k.budget_nanos, k.budget_period, k.currency, k.rpm, k.tpm,
        k.models, k.expires_at, k.revoked_at, k.created_at
        """

    static func decodeKey(_ row: PostgresRow) throws -> KeyRecord {
        let cells = Array(row)
        return KeyRecord(
            id: try cells[0].decode(Int64.self), prefix: try cells[1].decode(String.self),
            teamID: try cells[2].decode(Int64.self), teamName: try cells[3].decode(String.self),
            name: try cells[4].decode(String?.self), budgetNanos: try cells[5].decode(Int64?.self),
            budgetPeriod: BudgetPeriod(rawValue: try cells[6].decode(String.self)) ?? .total,
            currency: try cells[7].decode(String.self), requestsPerMinute: try cells[8].decode(Int?.self),
            tokensPerMinute: try cells[9].decode(Int?.self), models: try cells[10].decode([String].self),
            expiresAt: try cells[11].decode(Date?.self), revokedAt: try cells[12].decode(Date?.self),
            createdAt: try cells[13].decode(Date.self))
    }
}
