import Foundation
import PostgresNIO
import TollgateMoney

/// A key as an administrator sees it: everything but the secret.
public struct KeyRecord: Sendable, Hashable, Codable {
    public var id: Int64
    /// The visible start of the key (`tg-` and 8 characters), unique; used to name it.
    public var prefix: String
    public var teamID: Int64
    public var teamName: String
    public var name: String?
    public var budgetNanos: Int64?
    public var budgetPeriod: BudgetPeriod
    public var currency: String
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Models this key may ask for; empty means any.
    public var models: [String]
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var createdAt: Date

    /// The key's own limits (not its team's).
    public var limits: Limits {
        Limits(
            budget: budgetNanos.map { Money(nanos: $0, currency: currency) }, budgetPeriod: budgetPeriod,
            requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
    }
}

/// A team as an administrator sees it.
public struct TeamRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var budgetNanos: Int64?
    public var budgetPeriod: BudgetPeriod
    public var currency: String
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    public var limits: Limits {
        Limits(
            budget: budgetNanos.map { Money(nanos: $0, currency: currency) }, budgetPeriod: budgetPeriod,
            requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
    }
}

/// What the gateway needs to know about an authenticated key, held in memory on every replica.
public struct CachedKey: Sendable, Hashable {
    public var id: Int64
    public var prefix: String
    public var teamID: Int64
    public var teamName: String
    /// Models this key may use; empty means any.
    public var models: [String]
    public var expiresAt: Date?
    public var keyLimits: Limits
    public var teamLimits: Limits

    /// Whether this key may ask for `model` (its allow-list is empty or names it).
    public func allows(model: String) -> Bool { models.isEmpty || models.contains(model) }

    /// Whether the key has expired at `date`.
    public func isExpired(at date: Date = Date()) -> Bool { expiresAt.map { $0 <= date } ?? false }
}

/// The change a `keys update` or admin call makes to a key's or team's limits; `nil` fields keep
/// their value, `.some(nil)` clears a limit.
public struct LimitsUpdate: Sendable, Hashable {
    public var budgetNanos: Int64??
    public var budgetPeriod: BudgetPeriod?
    public var currency: String?
    public var requestsPerMinute: Int??
    public var tokensPerMinute: Int??
    public var models: [String]?
    public var expiresAt: Date??

    public init(
        budgetNanos: Int64?? = nil, budgetPeriod: BudgetPeriod? = nil, currency: String? = nil,
        requestsPerMinute: Int?? = nil, tokensPerMinute: Int?? = nil, models: [String]? = nil,
        expiresAt: Date?? = nil
    ) {
        self.budgetNanos = budgetNanos
        self.budgetPeriod = budgetPeriod
        self.currency = currency
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.models = models
        self.expiresAt = expiresAt
    }
}
