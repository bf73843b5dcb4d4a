import Foundation
import Testing
import TollgateMoney
@testable import TollgatePricing

@Suite("The shipped policies/prices.yaml")
struct ShippedPriceBookTests {
    static var path: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("policies/prices.yaml").path
    }

    @Test("loads and validates against the demo targets")
    func loadsAndValidates() throws {
        let book = try PriceBook.load(path: Self.path)
        #expect(book.currency == "USD")
        #expect(book.listPriceTarget == "deepseek-api")
        try book.validate(targets: [
            (target: "flash-pool", models: ["deepseek-v4-flash"]),
            (target: "pro-pool", models: ["deepseek-v4-pro"]),
            (target: "deepseek-api", models: ["deepseek-v4-flash", "deepseek-v4-pro"]),
        ])
    }

    @Test("carries DeepSeek's list prices and the 75%-off Pro promotion")
    func listPrices() throws {
        let book = try PriceBook.load(path: Self.path)
        func prices(_ model: String, at text: String) throws -> [String] {
            let date = try utc(text)
            let applied = try #require(book.version(at: date).rates(target: "deepseek-api", model: model, at: date))
            return Meter.allCases.map { applied.rates[$0].perMillion(currency: "USD").decimalString }
        }
        #expect(try prices("deepseek-v4-flash", at: "2026-11-15T00:00:00Z") == ["0.0028", "0.14", "0.28"])
        #expect(try prices("deepseek-v4-pro", at: "2026-11-15T00:00:00Z") == ["0.0145", "1.74", "3.48"])
        #expect(try prices("deepseek-v4-pro", at: "2026-08-01T00:00:00Z") == ["0.003625", "0.435", "0.87"])
    }

    @Test("local pools get derived prices on the same scale")
    func localPools() throws {
        let book = try PriceBook.load(path: Self.path)
        let date = try utc("2026-11-15T00:00:00Z")
        for (target, model) in [("flash-pool", "deepseek-v4-flash"), ("pro-pool", "deepseek-v4-pro")] {
            let applied = try #require(book.version(at: date).rates(target: target, model: model, at: date))
            let pool = try #require(book.version(at: date).targets[target]?.models[model]?.localPool)
            let hourly = pool.gpuCostPerHour.nanos * Int64(pool.gpus)
            // One hour of output at the declared rate costs one pool-hour (to the nano-unit).
            let hourOfOutput = applied.rates.output.cost(tokens: pool.outputTokensPerSecond * 3_600, currency: "USD")
            #expect(hourOfOutput.nanos == hourly)
            #expect(applied.rates.output.perMillion(currency: "USD") > applied.rates.inputCacheMiss.perMillion(currency: "USD"))
        }
    }

    @Test("the worked estimates in docs/PRICING.md hold (figures computed there with exact fractions)")
    func documentedEstimates() throws {
        let estimator = CostEstimator(book: try PriceBook.load(path: Self.path))
        let at = try utc("2026-11-15T00:00:00Z")
        let documented: [(String, String, String)] = [
            ("deepseek-api", "deepseek-v4-flash", "0.00229376"),
            ("flash-pool", "deepseek-v4-flash", "0.012276501"),
            ("deepseek-api", "deepseek-v4-pro", "0.04276224"),
        ]
        for (target, model, total) in documented {
            let cost = try #require(
                estimator.estimate(
                    target: target, model: model, promptTokens: 8_192, maxTokens: nil, thinking: true, at: at))
            #expect(cost.money.decimalString == total, "\(target) \(model)")
            #expect(cost.bookVersion == "v4-2026-11")
        }
    }
}
