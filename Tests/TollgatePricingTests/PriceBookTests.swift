import Foundation
import Testing
import TollgateMoney
@testable import TollgatePricing

@Suite("Price book: versions, time windows, promotions")
struct PriceBookTests {
    func perMillion(_ book: PriceBook, _ target: String, _ model: String, _ meter: Meter, at date: Date) throws -> String {
        let applied = try #require(book.version(at: date).rates(target: target, model: model, at: date))
        return applied.rates[meter].perMillion(currency: book.currency).decimalString
    }

    @Test("the version is chosen by the request's start time")
    func versionSelection() throws {
        let book = try parseBook()
        #expect(book.currency == "USD")
        #expect(book.versions.map(\.id) == ["v1", "v2"])
        #expect(book.version(at: try utc("2026-01-01T00:00:00Z")).id == "v1")
        #expect(book.version(at: try utc("2026-06-01T11:59:59Z")).id == "v1")
        #expect(book.version(at: try utc("2026-06-01T12:00:00Z")).id == "v2")
        #expect(book.version(at: try utc("2030-01-01T00:00:00Z")).id == "v2")
        // Before the first version (a skewed clock): the earliest prices known.
        #expect(book.version(at: try utc("2020-01-01T00:00:00Z")).id == "v1")
        #expect(try perMillion(book, "api", "flash", .output, at: try utc("2026-06-02T10:00:00Z")) == "0.3")
        #expect(try perMillion(book, "api", "flash", .output, at: try utc("2026-05-02T10:00:00Z")) == "0.28")
    }

    @Test("a window crossing midnight covers both sides of it, until exclusive")
    func windowAcrossMidnight() throws {
        let book = try parseBook()
        let cases: [(String, String?)] = [
            ("2026-01-10T16:29:59Z", nil),
            ("2026-01-10T16:30:00Z", "off-peak"),
            ("2026-01-10T23:59:59Z", "off-peak"),
            ("2026-01-11T00:00:00Z", "off-peak"),
            ("2026-01-11T00:29:59Z", "off-peak"),
            ("2026-01-11T00:30:00Z", nil),
            ("2026-01-11T12:00:00Z", nil),
        ]
        for (time, expected) in cases {
            let date = try utc(time)
            let applied = try #require(book.version(at: date).rates(target: "api", model: "flash", at: date))
            #expect(applied.window == expected, "at \(time)")
            let output = applied.rates.output.perMillion(currency: "USD").decimalString
            #expect(output == (expected == nil ? "0.28" : "0.14"), "at \(time)")
        }
        // The window names only flash on api: pro and the pool keep their prices.
        let night = try utc("2026-01-10T20:00:00Z")
        #expect(book.version(at: night).rates(target: "api", model: "pro", at: night)?.window == nil)
        #expect(book.version(at: night).rates(target: "pool", model: "flash", at: night)?.window == nil)
        #expect(TimeWindow.minuteOfDay(try utc("1969-12-31T23:59:00Z")) == 1439)
    }

    @Test("a promotion applies from its start until (exclusive) its end, to the meters it names")
    func promotion() throws {
        let book = try parseBook()
        let before = try utc("2026-01-31T23:59:59Z")
        let during = try utc("2026-02-15T09:00:00Z")
        let after = try utc("2026-03-01T00:00:00Z")
        #expect(try perMillion(book, "api", "pro", .output, at: before) == "3.48")
        #expect(try perMillion(book, "api", "pro", .output, at: during) == "0.87")
        #expect(try perMillion(book, "api", "pro", .inputCacheMiss, at: during) == "1.74")
        #expect(try perMillion(book, "api", "pro", .output, at: after) == "3.48")
        let cost = CostEstimator(book: book).actual(
            target: "api", model: "pro", usage: MeteredUsage(promptTokens: 0, completionTokens: 1_000_000), at: during)
        #expect(cost == PricedCost(money: Money(nanos: 870_000_000, currency: "USD"), bookVersion: "v1", promotion: "pro-promo"))
    }

    @Test("a promotion's discount applies on top of a window's price")
    func windowThenPromotion() throws {
        let text = try mutated(
            """
                promotions:
                  - id: pro-promo
            """,
            """
                promotions:
                  - id: flash-half
                    from: "2026-04-01T00:00:00Z"
                    targets: [api, pool]
                    discount_percent: 50
                  - id: pro-promo
            """)
        let book = try parseBook(text)
        let night = try utc("2026-04-02T22:00:00Z")
        let applied = try #require(book.version(at: night).rates(target: "api", model: "flash", at: night))
        #expect(applied.window == "off-peak")
        #expect(applied.promotion == "flash-half")
        #expect(applied.rates.output.perMillion(currency: "USD").decimalString == "0.07")  // 0.28 × 0.5 × 0.5
        #expect(applied.rates.inputCacheHit.perMillion(currency: "USD").decimalString == "0.0007")
        // The open-ended promotion covers both targets' models, and both pro promotions coexist
        // because they do not overlap in time.
        let pool = try #require(book.version(at: night).rates(target: "pool", model: "flash", at: night))
        #expect(pool.promotion == "flash-half")
        #expect(book.version(at: night).rates(target: "api", model: "pro", at: night)?.promotion == "flash-half")
    }

    @Test("local pool prices are derived exactly from GPU cost and throughput")
    func localPoolDerivation() throws {
        let book = try parseBook()
        let date = try utc("2026-01-10T10:00:00Z")
        let applied = try #require(book.version(at: date).rates(target: "pool", model: "flash", at: date))
        let poolNanosPerHour: Int64 = 2_000_000_000 * 8
        // Per 1M tokens: poolNanosPerHour × 1e6 / (3600 × tokens per second), rounded half up.
        func expectedPerMillion(_ tokensPerSecond: Int64) -> Int64 {
            let denominator = 3_600 * tokensPerSecond
            return (poolNanosPerHour * 1_000_000 + denominator / 2) / denominator
        }
        #expect(applied.rates.inputCacheMiss.perMillion(currency: "USD").nanos == expectedPerMillion(50_000))
        #expect(applied.rates.output.perMillion(currency: "USD").nanos == expectedPerMillion(1_600))
        #expect(applied.rates.inputCacheHit.cost(tokens: 1_000_000, currency: "USD").nanos == 0)
        // The fraction is exact: a billion input tokens are not 1000 × the rounded per-1M price.
        let billion = applied.rates.inputCacheMiss.cost(tokens: 1_000_000_000, currency: "USD").nanos
        let exact = (poolNanosPerHour * 1_000 + 90) / 180  // 16e9 × 1e9 / 1.8e8, rounded
        #expect(billion == exact)
        #expect(billion != expectedPerMillion(50_000) * 1_000)
        let pool = try #require(book.versions[0].targets["pool"]?.models["flash"]?.localPool)
        #expect(pool.gpus == 8 && pool.inputTokensPerSecond == 50_000 && pool.outputTokensPerSecond == 1_600)
    }

    @Test("a declared cache-hit throughput prices local cache hits")
    func localCacheHitThroughput() throws {
        let text = try mutated(
            "tokens_per_second: {input: 50000, output: 1600}\n    time_windows",
            "tokens_per_second: {input: 50000, output: 1600, input_cache_hit: 500000}\n    time_windows")
        let book = try parseBook(text)
        let date = try utc("2026-01-10T10:00:00Z")
        let rates = try #require(book.version(at: date).rates(target: "pool", model: "flash", at: date)?.rates)
        // 16e9 nanos per hour over 1.8e9 tokens per hour: 8.888… nanos per token.
        #expect(rates.inputCacheHit.cost(tokens: 9, currency: "USD").nanos == 80)
        #expect(rates.inputCacheHit.perMillion(currency: "USD").nanos == 8_888_889)
    }
}
