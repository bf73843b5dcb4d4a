import Foundation

/// One version of the price book: complete prices for every target from `effectiveFrom` until
/// the next version takes effect.
public struct PriceBookVersion: Sendable {
    public let id: String
    public let effectiveFrom: Date
    public let targets: [String: TargetPrices]
    public let timeWindows: [TimeWindow]
    public let promotions: [Promotion]
    let line: Int

    /// The rates for `model` on `target` for a request that starts at `date`, or nil when this
    /// version has no price for that pair.
    ///
    /// The base price is changed first by the time window containing `date` (at most one per pair,
    /// checked at load), then by the active promotion (likewise at most one).
    public func rates(target: String, model: String, at date: Date) -> AppliedRates? {
        guard let price = targets[target]?.models[model] else { return nil }
        let pair = TargetModel(target: target, model: model)
        var rates = price.base
        var windowID: String?
        var promotionID: String?
        if let window = timeWindows.first(where: { $0.changes[pair] != nil && $0.contains(date) }),
            let change = window.changes[pair]
        {
            rates = PriceBookVersion.apply(change, to: rates)
            windowID = window.id
        }
        if let promotion = promotions.first(where: { $0.changes[pair] != nil && $0.isActive(at: date) }),
            let change = promotion.changes[pair]
        {
            rates = PriceBookVersion.apply(change, to: rates)
            promotionID = promotion.id
        }
        return AppliedRates(rates: rates, bookVersion: id, window: windowID, promotion: promotionID)
    }

    static func apply(_ change: PriceChange, to rates: ModelRates) -> ModelRates {
        guard let changed = rates.applying(change) else {
            // The parser tries every window × promotion combination and refuses a book that overflows.
            preconditionFailure("price change overflow slipped past load-time validation")
        }
        return changed
    }
}
