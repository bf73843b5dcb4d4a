import Foundation
import TollgateMoney

@testable import TollgateLedger

enum UsageFixtures {
    /// A deterministic event: cost and tokens derive from `index` so totals can be recomputed.
    static func event(
        _ index: Int, team: Int64, key: Int64? = nil, day: Date = Date(), model: String = "deepseek-v4-flash",
        target: String = "local-flash", currency: String = "USD", prefix: String = "req"
    ) -> UsageEvent {
        let started = day.addingTimeInterval(Double(index % 3_600))
        return UsageEvent(
            // Every fourth carries a client's id, and clients choose alike: "client-0" twice, ...
            requestID: "\(prefix)-\(index)", clientRequestID: index % 4 == 0 ? "client-\(index / 8)" : nil, startedAt: started, finishedAt: started.addingTimeInterval(0.25),
            teamID: team, keyID: key, requestedModel: model, target: target,
            endpoint: index % 2 == 0 ? "http://127.0.0.1:9000" : nil, policyRule: index % 3 == 0 ? "cheap-first" : nil,
            promptTokensEstimated: 100 + index % 7, promptCountExact: index % 13 == 0 ? nil : index % 3 != 0, promptTokens: 100 + index % 5, cacheHitTokens: index % 11,
            completionTokens: 20 + index % 13, reasoningTokens: index % 4,
            cost: Money(nanos: 1_000 + Int64(index % 97) * 37, currency: currency), priceBookVersion: "2026-11",
            listCost: Money(nanos: 4_000 + Int64(index % 89) * 41, currency: currency), latencyMs: 250,
            ttftMs: index % 5 == 0 ? nil : 40, statusCode: index % 17 == 0 ? 502 : 200,
            errorCode: index % 17 == 0 ? "upstream_error" : nil, stream: index % 2 == 1,
            clientDisconnected: index % 19 == 0, usageEstimated: index % 23 == 0)
    }
}
