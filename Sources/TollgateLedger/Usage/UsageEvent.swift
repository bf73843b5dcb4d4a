import Foundation
import TollgateMoney

/// One row of the usage ledger: everything finance and operators need about one request.
///
/// `(requestID, startedAt)` identifies the row; writing the same event twice (for example when a
/// spool is replayed) keeps one row. Times are kept to the microsecond, as PostgreSQL stores them.
public struct UsageEvent: Sendable, Hashable, Codable {
    /// Made by the gateway, unique per request; never the client's (two clients may choose alike).
    public var requestID: String
    /// The `x-request-id` the client sent, if any (absent from spools written before it existed).
    public var clientRequestID: String?
    public var startedAt: Date { didSet { startedAt = Self.micros(startedAt) } }
    public var finishedAt: Date { didSet { finishedAt = Self.micros(finishedAt) } }
    public var teamID: Int64
    public var keyID: Int64?
    /// The model name the client asked for.
    public var requestedModel: String
    /// The target that served it (a local pool or the upstream API).
    public var target: String
    public var endpoint: String?
    /// The policy rule that chose the target.
    public var policyRule: String?
    public var promptTokensEstimated: Int
    /// Whether that count followed DeepSeek V4's layout exactly (false: part of the prompt was
    /// approximated); nil when Tollgate counted nothing.
    public var promptCountExact: Bool?
    /// As reported by the engine; equal to the estimate when `usageEstimated`.
    public var promptTokens: Int
    public var cacheHitTokens: Int
    public var completionTokens: Int
    public var reasoningTokens: Int
    /// What the request cost, in nano-units of `currency`.
    public var costNanos: Int64
    public var currency: String
    public var priceBookVersion: String
    /// What the same request would have cost at the upstream API's list price.
    public var listCostNanos: Int64
    public var latencyMs: Int
    /// Time to first token; nil when nothing was streamed.
    public var ttftMs: Int?
    public var statusCode: Int
    public var errorCode: String?
    public var stream: Bool
    /// The client went away before the end; the partial usage is still billed.
    public var clientDisconnected: Bool
    /// Usage was not reported by the engine and was estimated from the tokenizer.
    public var usageEstimated: Bool

    public init(
        requestID: String, clientRequestID: String? = nil, startedAt: Date, finishedAt: Date, teamID: Int64, keyID: Int64?,
        requestedModel: String, target: String, endpoint: String? = nil, policyRule: String? = nil,
        promptTokensEstimated: Int = 0, promptCountExact: Bool? = nil, promptTokens: Int = 0, cacheHitTokens: Int = 0,
        completionTokens: Int = 0, reasoningTokens: Int = 0, cost: Money, priceBookVersion: String,
        listCost: Money, latencyMs: Int, ttftMs: Int? = nil, statusCode: Int = 200, errorCode: String? = nil,
        stream: Bool = false, clientDisconnected: Bool = false, usageEstimated: Bool = false
    ) {
        precondition(cost.currency == listCost.currency, "cost and list cost must share a currency")
        self.requestID = requestID
        self.clientRequestID = clientRequestID
        self.startedAt = Self.micros(startedAt)
        self.finishedAt = Self.micros(finishedAt)
        self.teamID = teamID
        self.keyID = keyID
        self.requestedModel = requestedModel
        self.target = target
        self.endpoint = endpoint
        self.policyRule = policyRule
        self.promptTokensEstimated = promptTokensEstimated
        self.promptCountExact = promptCountExact
        self.promptTokens = promptTokens
        self.cacheHitTokens = cacheHitTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
        self.costNanos = cost.nanos
        self.currency = cost.currency
        self.priceBookVersion = priceBookVersion
        self.listCostNanos = listCost.nanos
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.statusCode = statusCode
        self.errorCode = errorCode
        self.stream = stream
        self.clientDisconnected = clientDisconnected
        self.usageEstimated = usageEstimated
    }

    public var cost: Money { Money(nanos: costNanos, currency: currency) }
    public var listCost: Money { Money(nanos: listCostNanos, currency: currency) }

    /// `date` rounded to whole microseconds since 1970, so the value written first and the value
    /// replayed from a spool are the same key.
    static func micros(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(microseconds(date)) / 1_000_000)
    }

    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}
