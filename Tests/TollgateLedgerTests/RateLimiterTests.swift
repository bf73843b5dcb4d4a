import Foundation
import PostgresNIO
import Testing

@testable import TollgateLedger

@Suite("Rate limits")
struct RateLimiterTests {
    static func key(id: Int64 = 1, rpm: Int? = nil, tpm: Int? = nil, teamRPM: Int? = nil, teamTPM: Int? = nil) -> CachedKey {
        CachedKey(
            id: id, prefix: "tg-test0000", teamID: 9 + id, teamName: "t", models: [], expiresAt: nil,
            keyLimits: Limits(requestsPerMinute: rpm, tokensPerMinute: tpm),
            teamLimits: Limits(requestsPerMinute: teamRPM, tokensPerMinute: teamTPM))
    }

    @Test func requestsPerMinuteWithHeaders() {
        let limiter = RateLimiter(client: nil, configuration: .init(replicaID: "r"), logger: TestDatabase.logger)
        let key = Self.key(rpm: 60)
        let start = ContinuousClock.now
        for index in 0..<60 {
            let decision = limiter.check(key, estimatedTokens: 10, now: start)
            #expect(decision.allowed)
            #expect(decision.remainingRequests == 59 - index)
        }
        let refused = limiter.check(key, estimatedTokens: 10, now: start)
        #expect(!refused.allowed)
        #expect(refused.retryAfterSeconds == 1)
        #expect(refused.limitedBy == "requests/key")
        let headers = Dictionary(uniqueKeysWithValues: refused.headers)
        #expect(headers["x-ratelimit-limit-requests"] == "60")
        #expect(headers["x-ratelimit-remaining-requests"] == "0")
        #expect(headers["x-ratelimit-reset-requests"] == "1m0s")
        #expect(headers["retry-after"] == "1")
        #expect(headers["x-ratelimit-limit-tokens"] == nil)
        // One second later one request has been replenished.
        #expect(limiter.check(key, estimatedTokens: 10, now: start.advanced(by: .seconds(1))).allowed)
        #expect(!limiter.check(key, estimatedTokens: 10, now: start.advanced(by: .seconds(1))).allowed)
    }

    @Test func tokensPerMinuteAcrossKeyAndTeam() {
        let limiter = RateLimiter(client: nil, configuration: .init(replicaID: "r"), logger: TestDatabase.logger)
        let key = Self.key(tpm: 10_000, teamTPM: 3_000)
        let start = ContinuousClock.now
        #expect(limiter.check(key, estimatedTokens: 2_000, now: start).allowed)
        let refused = limiter.check(key, estimatedTokens: 2_000, now: start)
        #expect(!refused.allowed)
        #expect(refused.limitedBy == "tokens/team")
        // 1,000 tokens left of 3,000/min: 1,000 more need 20 s.
        #expect(refused.retryAfterSeconds == 20)
        #expect(refused.limitTokens == 3_000)
        #expect(refused.remainingTokens == 1_000)
        // The request used fewer tokens than estimated: the difference comes back.
        limiter.adjustTokens(key, by: -1_500)
        #expect(limiter.check(key, estimatedTokens: 2_000, now: start).allowed)
        // A request larger than the whole limit passes only on a full bucket.
        let big = Self.key(id: 2, tpm: 1_000)
        #expect(limiter.check(big, estimatedTokens: 5_000, now: start).allowed)
        #expect(!limiter.check(big, estimatedTokens: 10, now: start.advanced(by: .seconds(30))).allowed)
    }

    @Test func eachReplicaEnforcesItsShare() {
        let limiter = RateLimiter(client: nil, configuration: .init(replicaID: "r"), logger: TestDatabase.logger)
        limiter.setReplicas(3)
        let key = Self.key(rpm: 90, teamRPM: 600)
        let start = ContinuousClock.now
        var allowed = 0
        for _ in 0..<100 where limiter.check(key, estimatedTokens: 1, now: start).allowed { allowed += 1 }
        #expect(allowed == 30)
        let decision = limiter.check(key, estimatedTokens: 1, now: start)
        #expect(decision.limitRequests == 90)
        #expect(decision.remainingRequests == 0)
        // A limit without headers for the unlimited kind.
        #expect(decision.limitTokens == nil)
        #expect(RateLimiter(client: nil, configuration: .init(replicaID: "x"), logger: TestDatabase.logger)
            .check(Self.key(), estimatedTokens: 1_000_000).allowed)
    }

    @Test func heartbeatsCountLiveReplicas() async throws {
        try await TestDatabase.with("replicas") { client, _ in
            let first = RateLimiter(client: client, configuration: .init(replicaID: "a"), logger: TestDatabase.logger)
            let second = RateLimiter(client: client, configuration: .init(replicaID: "b"), logger: TestDatabase.logger)
            try await first.heartbeat()
            #expect(first.replicas == 1)
            try await second.heartbeat()
            try await first.heartbeat()
            #expect(first.replicas == 2)
            #expect(second.replicas == 2)
            // A replica silent for longer than the timeout stops counting.
            try await client.query("UPDATE gateway_replicas SET last_seen = now() - interval '1 hour' WHERE replica_id = 'b'", logger: TestDatabase.logger)
            try await first.heartbeat()
            #expect(first.replicas == 1)
        }
    }
}
