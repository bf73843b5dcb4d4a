import Foundation
import Testing
import TollgateMoney
import TollgateWire

@testable import TollgateServer

/// `GET /admin/metrics`: the gateway's request counters in Prometheus' text format, read back
/// after a known set of requests, so each series is checked against what was sent.
@Suite struct MetricsTests {
    static let adminToken = "tollgate-admin-\(UUID().uuidString)"
    static let admin = [("authorization", "Bearer \(adminToken)")]

    /// Parses the exposition into `series → value`, where a series is `name{labels}` as written.
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            values[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return values
    }

    @Test func countersMatchTheRequestsSent() async throws {
        let fixture = try await GatewayFixture.start(priceBook: PricingTests.book, adminToken: Self.adminToken)
        defer { Task { await fixture.stop() } }
        let chat = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}"#
        var promptTokens = 0
        var completionTokens = 0
        var cost = Money.zero("USD")
        for _ in 0..<3 {
            let answer = try await fixture.chat(chat)
            #expect(answer.status == 200)
            let usage = try #require(try json(answer.body)["usage"] as? [String: Any])
            promptTokens += try #require(usage["prompt_tokens"] as? Int)
            completionTokens += try #require(usage["completion_tokens"] as? Int)
            let text = try #require(usage["cost"] as? String)
            cost = cost + (try #require(Money(decimal: text, currency: "USD")))
        }
        #expect(try await fixture.chat(chat, headers: []).status == 401)
        #expect(try await fixture.chat(#"{"model":"nope","messages":[]}"#).status == 404)
        try await fixture.setFaults(0) { $0.errorRate = 1 }
        #expect(try await fixture.chat(chat).status == 502)

        let scrape = try await fixture.client.send(.GET, fixture.base + "/admin/metrics", headers: Self.admin)
        #expect(scrape.status == 200)
        #expect(scrape.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let values = Self.parse(scrape.body)
        let chatRoute = #"route="/v1/chat/completions""#
        #expect(values["tollgate_requests_total{\(chatRoute),target=\"flash-pool\",status=\"2xx\"}"] == "3", "\(scrape.body)")
        #expect(values["tollgate_requests_total{\(chatRoute),target=\"flash-pool\",status=\"5xx\"}"] == "1")
        #expect(values["tollgate_requests_total{\(chatRoute),target=\"none\",status=\"4xx\"}"] == "2")
        #expect(values["tollgate_request_duration_seconds_count{\(chatRoute),target=\"flash-pool\"}"] == "4")
        #expect(values["tollgate_request_duration_seconds_bucket{\(chatRoute),target=\"flash-pool\",le=\"+Inf\"}"] == "4")
        #expect(values["tollgate_time_to_first_byte_seconds_count{\(chatRoute),target=\"flash-pool\"}"] == "4")
        #expect(values["tollgate_tokens_total{target=\"flash-pool\",kind=\"prompt\"}"] == "\(promptTokens)")
        #expect(values["tollgate_tokens_total{target=\"flash-pool\",kind=\"completion\"}"] == "\(completionTokens)")
        #expect(values["tollgate_cost_total{target=\"flash-pool\",currency=\"USD\"}"] == cost.decimalString)
        #expect(values["tollgate_endpoint_up{target=\"flash-pool\",endpoint=\"\(fixture.engines[0].baseURL)\"}"] == "1", "\(scrape.body)")
        #expect(values["tollgate_endpoint_outstanding{target=\"flash-pool\",endpoint=\"\(fixture.engines[0].baseURL)\"}"] == "0")
        // Buckets only grow, and the sum is the seconds the requests took.
        let buckets = values.filter { $0.key.hasPrefix("tollgate_request_duration_seconds_bucket{\(chatRoute),target=\"flash-pool\"") }
        #expect(buckets.count == 17)
        let sum = try #require(Double(values["tollgate_request_duration_seconds_sum{\(chatRoute),target=\"flash-pool\"}"] ?? ""))
        #expect(sum > 0 && sum < 30)
        // No team, key or model name a client sent appears.
        for secret in ["team-a", GatewayFixture.key, "nope", "deepseek-v4-flash"] {
            #expect(!scrape.body.contains(secret), "\(secret) in the scrape")
        }

        // The admin token guards it, as every /admin route.
        let refused = try await fixture.client.send(.GET, fixture.base + "/admin/metrics", headers: GatewayFixture.auth)
        #expect(refused.status == 401)
        #expect(errorCode(refused.body) == "invalid_admin_token")
    }

    /// Each thread writes its own block without a locked instruction; the sum over blocks is
    /// still exact, also for threads that have ended.
    @Test func countersAddedFromManyThreadsSumExactly() {
        let counters = ShardedCounters(count: 3)
        let done = DispatchGroup()
        for worker in 0..<8 {
            done.enter()
            Thread {
                for _ in 0..<20_000 {
                    counters.add(0)
                    counters.add(2, worker)
                }
                done.leave()
            }.start()
        }
        done.wait()
        counters.add(1, 5)
        #expect(counters.sum(0) == 8 * 20_000)
        #expect(counters.sum(1) == 5)
        #expect(counters.sum(2) == 20_000 * (0..<8).reduce(0, +))
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusText.escape(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
    }
}
