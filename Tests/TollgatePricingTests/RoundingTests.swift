import Testing
import TollgateMoney
@testable import TollgatePricing

@Suite("Rounding: one rule, per meter, at the nano-unit")
struct RoundingTests {
    @Test("ties round half away from zero, for charges and refunds alike")
    func ties() throws {
        let half = try #require(MeterRate(nanosNumerator: 1, tokensDenominator: 2))
        #expect(half.cost(tokens: 1, currency: "USD").nanos == 1)  // 0.5 → 1
        #expect(half.cost(tokens: 3, currency: "USD").nanos == 2)  // 1.5 → 2
        #expect(half.cost(tokens: 2, currency: "USD").nanos == 1)  // exact
        #expect(half.cost(tokens: -1, currency: "USD").nanos == -1)  // -0.5 → -1
        #expect(half.cost(tokens: -3, currency: "USD").nanos == -2)  // -1.5 → -2
        let justUnder = try #require(MeterRate(nanosNumerator: 4_999, tokensDenominator: 10_000))
        #expect(justUnder.cost(tokens: 1, currency: "USD").nanos == 0)
        #expect(justUnder.cost(tokens: -1, currency: "USD").nanos == 0)
    }

    @Test("a per-1M list price is tokens × nanos / 1e6, rounded once")
    func listPriceArithmetic() throws {
        let price = try #require(Money(decimal: "0.0028", currency: "USD"))
        let hit = try #require(MeterRate(perMillion: price))
        // 2.8 nanos per token.
        #expect(hit.cost(tokens: 1, currency: "USD").nanos == 3)
        #expect(hit.cost(tokens: 5, currency: "USD").nanos == 14)
        #expect(hit.cost(tokens: 6_000, currency: "USD").nanos == 16_800)
        #expect(hit.perMillion(currency: "USD") == Money(decimal: "0.0028", currency: "USD"))
    }

    @Test("1M-token prompts and very large counts stay exact")
    func largeValues() throws {
        let book = try parseBook()
        let estimator = CostEstimator(book: book)
        let at = try utc("2026-01-10T10:00:00Z")
        let usage = MeteredUsage(promptTokens: 1_000_000, completionTokens: 0)
        let cost = try #require(estimator.actual(target: "api", model: "pro", usage: usage, at: at))
        #expect(cost.money == Money(decimal: "1.74", currency: "USD"))
        let allHits = MeteredUsage(promptTokens: 1_000_000, cacheHitTokens: 1_000_000, completionTokens: 0)
        #expect(
            estimator.actual(target: "api", model: "flash", usage: allHits, at: at)?.money
                == Money(decimal: "0.0028", currency: "USD"))
        // A trillion output tokens at 3.48 per 1M: 3,480,000 USD, no overflow, no drift.
        let huge = MeteredUsage(promptTokens: 0, completionTokens: 1_000_000_000_000)
        #expect(
            estimator.actual(target: "api", model: "pro", usage: huge, at: at)?.money
                == Money(decimal: "3480000", currency: "USD"))
    }

    @Test("meters are rounded separately, then summed")
    func perMeterRounding() throws {
        // Every meter at 0.0000005 per 1M (500 nanos): 1,000 tokens cost exactly half a nano-unit.
        var text = try mutated(
            #"flash: {input_cache_hit: "0.0028", input_cache_miss: "0.14", output: "0.28"}"#,
            #"flash: {input_cache_hit: "0.0000005", input_cache_miss: "0.0000005", output: "0.0000005"}"#)
        text = try mutated("discount_percent: 50", "discount_percent: 1", in: text)
        let estimator = CostEstimator(book: try parseBook(text))
        let usage = MeteredUsage(promptTokens: 2_000, cacheHitTokens: 1_000, cacheMissTokens: 1_000, completionTokens: 1_000)
        let cost = try #require(
            estimator.actual(target: "api", model: "flash", usage: usage, at: try utc("2026-01-10T10:00:00Z")))
        // Rounded per meter: 1 + 1 + 1. Summing first would give round(1.5) = 2.
        #expect(cost.money.nanos == 3)
    }

    @Test("decimal strings trim trailing zeros and read back to the same nanos")
    func decimalStrings() throws {
        let cases: [(Int64, String)] = [
            (0, "0"), (1, "0.000000001"), (-1, "-0.000000001"), (45_764, "0.000045764"),
            (1_000_000_000, "1"), (-3_500_000_000, "-3.5"), (12_340_000_000, "12.34"),
            (Int64.max, "9223372036.854775807"), (Int64.min, "-9223372036.854775808"),
        ]
        for (nanos, text) in cases {
            #expect(Money(nanos: nanos, currency: "USD").decimalString == text)
            #expect(Money(decimal: text, currency: "USD")?.nanos == nanos || nanos == Int64.min)
            // The byte writer the cost splice uses writes the same text at the buffer's start.
            var buffer = [UInt8](repeating: 0xFF, count: Money.maxDecimalLength + 3)
            let count = buffer.withUnsafeMutableBufferPointer { Money(nanos: nanos, currency: "USD").writeDecimal(into: $0) }
            #expect(String(decoding: buffer[..<count], as: UTF8.self) == text)
            #expect(count <= Money.maxDecimalLength)
        }
        for _ in 0..<10_000 {
            let nanos = Int64.random(in: -10_000_000_000_000...10_000_000_000_000)
            #expect(Money(decimal: Money(nanos: nanos, currency: "USD").decimalString, currency: "USD")?.nanos == nanos)
        }
    }

    @Test("the 64-bit fast path rounds exactly like 128-bit arithmetic")
    func narrowAndWideAgree() {
        func reference(_ q: Int64, _ n: Int64, _ d: Int64) -> Int64 {
            let wide = Int128(q) * Int128(n)
            var quotient = wide / Int128(d)
            if (wide % Int128(d)).magnitude * 2 >= UInt128(d) { quotient += wide < 0 ? -1 : 1 }
            return Int64(quotient)
        }
        for _ in 0..<20_000 {
            let d = Int64.random(in: 1...3_000_000)
            let q = Int64.random(in: -2_000_000_000...2_000_000_000)
            let n = Int64.random(in: 0...4_000_000_000)
            #expect(Money.fromRatio(q, n, d, currency: "USD").nanos == reference(q, n, d), "\(q) × \(n) / \(d)")
        }
        // Ties on both sides of zero, on the fast path.
        #expect(Money.fromRatio(1, 1, 2, currency: "USD").nanos == 1)
        #expect(Money.fromRatio(-1, 1, 2, currency: "USD").nanos == -1)
        #expect(Money.fromRatio(3, 1, 2, currency: "USD").nanos == 2)
        #expect(Money.fromRatio(-3, 1, 2, currency: "USD").nanos == -2)
    }
}
