import Testing
import TollgateMoney
@testable import TollgatePricing

@Suite("Cost estimates before routing, actual costs after")
struct CostEstimatorTests {
    // Sample book, v1 api flash: 0.0028 / 0.14 / 0.28 USD per 1M = 2_800_000 / 140_000_000 /
    // 280_000_000 nanos per 1M tokens.
    let hit: Int64 = 2_800_000
    let miss: Int64 = 140_000_000
    let out: Int64 = 280_000_000

    /// tokens × nanos per 1M / 1e6, rounded half up (all amounts here are positive).
    func nanos(_ tokens: Int64, _ perMillion: Int64) -> Int64 {
        (tokens * perMillion + 500_000) / 1_000_000
    }

    @Test("estimate: prompt as misses, output from max_tokens or the per-mode default")
    func estimate() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let withMax = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: 500, thinking: true, at: at))
        #expect(withMax.money.nanos == nanos(10_000, miss) + nanos(500, out))
        #expect(withMax.bookVersion == "v1")

        let thinking = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: nil, thinking: true, at: at))
        #expect(thinking.money.nanos == nanos(10_000, miss) + nanos(4_000, out))
        let chat = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: nil, thinking: false, at: at))
        #expect(chat.money.nanos == nanos(10_000, miss) + nanos(1_000, out))
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: nil, thinking: true) == 8_000)
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: 7, thinking: true) == 7)
    }

    @Test("n choices: each gets the expected output; the total is capped, so no estimate overflows")
    func choices() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: 7, thinking: true, choices: 3) == 21)
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: nil, thinking: false, choices: 4) == 8_000)
        let three = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: 500, thinking: true, choices: 3, at: at))
        #expect(three.money.nanos == nanos(10_000, miss) + nanos(1_500, out))
        let most = MeterTokens.maxPerMeter
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: most, thinking: true, choices: 128) == most)
        #expect(estimator.expectedOutputTokens(model: "pro", maxTokens: most, thinking: true, choices: Int.max) == most)
        // The dearest book allowed, the most tokens on every meter: still inside Int64.
        let dearest = MeterRate.ceiling
        let rates = ModelRates(inputCacheHit: dearest, inputCacheMiss: dearest, output: dearest)
        let cost = estimator.price(
            MeterTokens(inputCacheHit: most, inputCacheMiss: most, output: most),
            at: AppliedRates(rates: rates, source: PriceSource(bookVersion: "v1")))
        #expect(cost.money.nanos == 3 * Int64(most) * 1_000_000_000)
    }

    @Test("a predicted cache hit moves prompt tokens to the hit meter, at most the whole prompt")
    func predictedHits() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let predicted = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: 100, thinking: false,
                predictedCacheHitTokens: 6_000, at: at))
        #expect(predicted.money.nanos == nanos(6_000, hit) + nanos(4_000, miss) + nanos(100, out))
        let overPredicted = estimator.estimate(
            target: "api", model: "flash", promptTokens: 10_000, maxTokens: 100, thinking: false,
            predictedCacheHitTokens: 50_000, at: at)
        #expect(overPredicted?.money.nanos == nanos(10_000, hit) + nanos(100, out))
    }

    @Test("actual: hit/miss split and reasoning billed as output")
    func actual() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let usage = MeteredUsage(
            promptTokens: 10_000, cacheHitTokens: 6_000, cacheMissTokens: 4_000, completionTokens: 800,
            reasoningTokens: 600)
        let cost = try #require(estimator.actual(target: "api", model: "flash", usage: usage, at: at))
        #expect(cost.money.nanos == nanos(6_000, hit) + nanos(4_000, miss) + nanos(800, out))
        #expect(cost.money.nanos == 16_800 + 560_000 + 224_000)

        // The estimate for the same request (its max_tokens was 800, no hit predicted) is higher.
        let estimate = try #require(
            estimator.estimate(
                target: "api", model: "flash", promptTokens: 10_000, maxTokens: 800, thinking: true, at: at))
        #expect(estimate.money > cost.money)
        #expect(estimate.money.nanos - cost.money.nanos == nanos(6_000, miss) - nanos(6_000, hit))

        // An engine that reports only prompt_tokens: all of it bills as cache misses.
        let bare = MeteredUsage(promptTokens: 10_000, completionTokens: 800)
        #expect(bare.cacheMissTokens == 10_000)
        #expect(estimator.actual(target: "api", model: "flash", usage: bare, at: at)?.money.nanos
            == nanos(10_000, miss) + nanos(800, out))
        // A split that leaves prompt tokens uncovered bills the rest as misses.
        let partial = MeteredUsage(
            promptTokens: 10_000, cacheHitTokens: 6_000, cacheMissTokens: 0, completionTokens: 800)
        #expect(partial.billedTokens.inputCacheMiss == 4_000)
        // Reasoning reported larger than the completion is never under-billed.
        let odd = MeteredUsage(promptTokens: 0, completionTokens: 10, reasoningTokens: 300)
        #expect(odd.billedTokens.output == 300)
    }

    @Test("estimated usage bills like reported usage and keeps its flag")
    func estimatedUsage() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let reported = MeteredUsage(promptTokens: 1_234, completionTokens: 56)
        var counted = reported
        counted.estimated = true
        #expect(counted.estimated && !reported.estimated)
        #expect(
            estimator.actual(target: "pool", model: "flash", usage: counted, at: at)
                == estimator.actual(target: "pool", model: "flash", usage: reported, at: at))
    }

    @Test("list price: the same usage at the list-price target, with its own version")
    func listPrice() throws {
        let estimator = CostEstimator(book: try parseBook())
        let usage = MeteredUsage(promptTokens: 10_000, cacheHitTokens: 2_000, completionTokens: 1_000)
        let v1 = try utc("2026-01-10T10:00:00Z")
        let local = try #require(estimator.actual(target: "pool", model: "flash", usage: usage, at: v1))
        let list = try #require(estimator.listPrice(model: "flash", usage: usage, at: v1))
        #expect(list == estimator.actual(target: "api", model: "flash", usage: usage, at: v1))
        #expect(list.money != local.money)
        let v2 = try utc("2026-07-01T10:00:00Z")
        let later = try #require(estimator.listPrice(model: "flash", usage: usage, at: v2))
        #expect(later.bookVersion == "v2")
        #expect(later.money.nanos == nanos(2_000, 3_000_000) + nanos(8_000, 150_000_000) + nanos(1_000, 300_000_000))
    }

    @Test("no price, no cost: unknown targets and models give nil")
    func unknowns() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let usage = MeteredUsage(promptTokens: 10, completionTokens: 10)
        #expect(estimator.actual(target: "pool", model: "pro", usage: usage, at: at) == nil)
        #expect(estimator.actual(target: "nowhere", model: "flash", usage: usage, at: at) == nil)
        #expect(estimator.listPrice(model: "llama", usage: usage, at: at) == nil)
        #expect(
            estimator.estimate(target: "api", model: "llama", promptTokens: 10, maxTokens: nil, thinking: true, at: at)
                == nil)
    }

    @Test("the window is chosen by the request's start time, and the cost says so")
    func windowByStartTime() throws {
        let estimator = CostEstimator(book: try parseBook())
        let usage = MeteredUsage(promptTokens: 0, completionTokens: 1_000_000)
        let offPeak = try #require(
            estimator.actual(target: "api", model: "flash", usage: usage, at: try utc("2026-01-10T23:00:00Z")))
        #expect(offPeak.window == "off-peak")
        #expect(offPeak.money.nanos == out / 2)
        let peak = try #require(
            estimator.actual(target: "api", model: "flash", usage: usage, at: try utc("2026-01-10T12:00:00Z")))
        #expect(peak.window == nil)
        #expect(peak.money.nanos == out)
    }

    @Test("estimateAll: one row per model per target, in order, each equal to estimate()")
    func estimateAll() throws {
        let estimator = CostEstimator(book: try parseBook())
        let at = try utc("2026-01-10T10:00:00Z")
        let rows = estimator.estimateAll(promptTokens: 2_000, maxTokens: nil, thinking: false, at: at)
        #expect(rows.map { "\($0.target)/\($0.model)" } == ["api/flash", "api/pro", "pool/flash"])
        for row in rows {
            #expect(row.promptTokens == 2_000)
            #expect(row.outputTokens == (row.model == "pro" ? 2_000 : 1_000))
            #expect(row.kind == (row.target == "pool" ? .local : .upstream))
            #expect(
                row.cost
                    == estimator.estimate(
                        target: row.target, model: row.model, promptTokens: 2_000, maxTokens: nil, thinking: false,
                        at: at))
        }
    }
}
