import Foundation
import Logging
import NIOCore
import TollgateLedger
import TollgateMoney
import TollgatePricing
import TollgateRouting
import TollgateWire

/// The gateway's use of the PostgreSQL ledger: keys, rate limits and budgets at admission, and
/// one usage row per request at the end. Every call here either answers from memory or hops off
/// the event loop; nothing on the request path waits on PostgreSQL in steady state.
final class LedgerAdmission: Sendable {
    let ledger: Ledger
    private let logger: Logger

    init(ledger: Ledger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    /// The caller for a bearer key: from memory when cached, else after one lookup (off the loop).
    func resolve(bearer key: Substring, on eventLoop: EventLoop, _ done: @escaping (Result<Caller, GatewayError>) -> Void) {
        if let cached = ledger.keys.cached(KeyDigest(plaintext: key)) {
            return done(Self.caller(cached))
        }
        let keys = ledger.keys
        let plaintext = String(key)
        Task {
            let answer = await keys.authenticate(bearer: plaintext)
            eventLoop.execute { done(Self.caller(answer)) }
        }
    }

    /// Whether memory alone says the key is bad (unknown, revoked or expired). A key this replica
    /// has not looked up yet is not surely bad.
    func isSurelyInvalid(bearer key: Substring) -> Bool {
        guard key.hasPrefix(APIKeyGenerator.scheme) else { return true }
        guard case .invalid = ledger.keys.cached(KeyDigest(plaintext: key)) else { return false }
        return true
    }

    private static func caller(_ answer: KeyAuthentication) -> Result<Caller, GatewayError> {
        switch answer {
        case .valid(let key): return .success(Caller(ledgerKey: key))
        case .invalid: return .failure(.invalidAPIKey)
        case .unavailable: return .failure(.keyStoreUnavailable)
        }
    }

    /// Rate limits, then the budget. Calls `done` on `eventLoop` with the admission or the refusal.
    func admit(
        _ key: CachedKey, estimatedTokens: Int, estimate: Money, on eventLoop: EventLoop,
        _ done: @escaping (Result<Admission, AdmissionRefusal>) -> Void
    ) {
        let limit = ledger.rateLimiter.check(key, estimatedTokens: estimatedTokens)
        guard limit.allowed else {
            return done(.failure(AdmissionRefusal(error: .rateLimited(limit.limitedBy), headers: limit.headers)))
        }
        let budgets = ledger.budgets
        Task {
            let decision = await budgets.reserve(for: key, estimate: estimate)
            eventLoop.execute {
                switch decision {
                case .admitted(let reservation):
                    done(.success(Admission(key: key, reservation: reservation, estimatedTokens: estimatedTokens, headers: limit.headers)))
                case .exceeded(let scope, let budget):
                    done(.failure(AdmissionRefusal(error: .budgetExceeded(scope: "\(scope.kind.rawValue)", limit: budget.decimalString), headers: limit.headers)))
                case .unavailable:
                    done(.failure(AdmissionRefusal(error: .budgetUnavailable, headers: limit.headers)))
                }
            }
        }
    }

    /// Settles the budget with the actual cost (or releases it when nothing is billed), corrects
    /// the token bucket, and queues the usage row.
    func finish(_ admission: Admission, event: UsageEvent?, settlement: Settlement?) {
        if let cost = settlement?.cost?.money {
            ledger.budgets.settle(admission.reservation, actual: cost)
        } else {
            ledger.budgets.release(admission.reservation)
        }
        if let usage = settlement?.usage {
            ledger.rateLimiter.adjustTokens(admission.key, by: usage.promptTokens + usage.completionTokens - admission.estimatedTokens)
        }
        if let event { ledger.usage.record(event) }
    }
}

/// An admitted request's holds: its budget reservation and what its rate-limit check assumed.
struct Admission: Sendable {
    var key: CachedKey
    var reservation: Reservation
    var estimatedTokens: Int
    /// `x-ratelimit-*` headers for the response.
    var headers: [(String, String)]
}

struct AdmissionRefusal: Error {
    var error: GatewayError
    var headers: [(String, String)]
}

extension GatewayError {
    static func rateLimited(_ limitedBy: String?) -> GatewayError {
        GatewayError(
            status: 429, type: "rate_limit_error", code: "rate_limit_exceeded",
            message: "Rate limit reached\(limitedBy.map { " (\($0))" } ?? ""). Retry after the time in the Retry-After header.")
    }

    static func budgetExceeded(scope: String, limit: String) -> GatewayError {
        GatewayError(
            status: 402, type: "insufficient_quota", code: "budget_exceeded",
            message: "The \(scope) budget (\(limit)) cannot cover this request's estimated cost.")
    }

    static let budgetUnavailable = GatewayError(
        status: 503, type: "server_error", code: "budget_unavailable",
        message: "Budgets cannot be checked right now. Retry later.")

    static let keyStoreUnavailable = GatewayError(
        status: 503, type: "server_error", code: "key_store_unavailable",
        message: "The key could not be checked right now. Retry later.")
}
