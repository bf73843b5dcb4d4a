import Foundation
import TollgateMoney

/// Turns token counts into money with a ``PriceBook``: an estimate before routing, the actual
/// cost after the response, and the list price for comparison.
///
/// Each meter is priced on its own (`tokens × rate`, rounded once to the nano-unit, half away
/// from zero) and the three rounded amounts are summed; see docs/PRICING.md.
public struct CostEstimator: Sendable {
    public let book: PriceBook

    public init(book: PriceBook) {
        self.book = book
    }

    /// The expected cost of a request on `target` before it is sent, or nil when the book has no
    /// price for `model` there (or no expected-output default is needed but missing).
    ///
    /// Prompt tokens count as cache misses except `predictedCacheHitTokens` (clamped to the
    /// prompt); output is ``expectedOutputTokens(model:maxTokens:thinking:choices:)``.
    /// Prices are those in force at `date`, the request's start.
    public func estimate(
        target: String, model: String, promptTokens: Int, maxTokens: Int?, thinking: Bool, choices: Int = 1,
        predictedCacheHitTokens: Int = 0, at date: Date
    ) -> PricedCost? {
        guard let rates = rates(target: target, model: model, at: date) else { return nil }
        return estimate(
            at: rates, model: model, promptTokens: promptTokens, maxTokens: maxTokens, thinking: thinking,
            choices: choices, predictedCacheHitTokens: predictedCacheHitTokens)
    }

    /// ``estimate(target:model:promptTokens:maxTokens:thinking:choices:predictedCacheHitTokens:at:)``
    /// at rates already looked up (the gateway looks them up once per request and attempt).
    public func estimate(
        at rates: AppliedRates, model: String, promptTokens: Int, maxTokens: Int?, thinking: Bool, choices: Int = 1,
        predictedCacheHitTokens: Int = 0
    ) -> PricedCost? {
        guard let output = expectedOutputTokens(model: model, maxTokens: maxTokens, thinking: thinking, choices: choices)
        else {
            return nil
        }
        let prompt = max(promptTokens, 0)
        let hits = min(max(predictedCacheHitTokens, 0), prompt)
        return price(MeterTokens(inputCacheHit: hits, inputCacheMiss: prompt - hits, output: max(output, 0)), at: rates)
    }

    /// Output tokens an estimate assumes: for each of the `choices` (a request's `n`), `maxTokens`
    /// when given, else the per-model default; at most ``MeterTokens/maxPerMeter``.
    public func expectedOutputTokens(model: String, maxTokens: Int?, thinking: Bool, choices: Int = 1) -> Int? {
        guard let each = maxTokens ?? book.expectedOutputTokens[model]?.tokens(thinking: thinking) else { return nil }
        let (total, overflow) = max(each, 0).multipliedReportingOverflow(by: max(choices, 1))
        return overflow ? MeterTokens.maxPerMeter : min(total, MeterTokens.maxPerMeter)
    }

    /// The cost of a finished request from its usage, priced at the request's start `date`.
    public func actual(target: String, model: String, usage: MeteredUsage, at date: Date) -> PricedCost? {
        rates(target: target, model: model, at: date).map { price(usage.billedTokens, at: $0) }
    }

    /// What the same usage would have cost at the upstream API (the book's `list_price_target`).
    public func listPrice(model: String, usage: MeteredUsage, at date: Date) -> PricedCost? {
        actual(target: book.listPriceTarget, model: model, usage: usage, at: date)
    }

    /// The rates for `model` on `target` in force at `date`, or nil when the book has no price for
    /// the pair there.
    public func rates(target: String, model: String, at date: Date) -> AppliedRates? {
        book.version(at: date).rates(target: target, model: model, at: date)
    }

    /// Prices each meter separately (one rounding each) and sums the results.
    public func price(_ tokens: MeterTokens, at applied: AppliedRates) -> PricedCost {
        let currency = book.currency
        let rates = applied.rates
        let total =
            rates.inputCacheHit.cost(tokens: tokens.inputCacheHit, currency: currency)
            + rates.inputCacheMiss.cost(tokens: tokens.inputCacheMiss, currency: currency)
            + rates.output.cost(tokens: tokens.output, currency: currency)
        return PricedCost(money: total, source: applied.source)
    }
}
