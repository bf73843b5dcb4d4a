import Foundation

/// Prices of one model on one target, as written in one version of the book.
public struct ModelPrice: Sendable {
    /// The rates outside any window or promotion.
    public let base: ModelRates
    /// Set for a local pool: the cost figures the rates were derived from.
    public let localPool: LocalPoolCost?
}

/// How a target is priced: by list prices (an upstream API) or from GPU cost (a local pool).
public enum TargetKind: String, Sendable {
    case upstream
    case local
}

/// The prices of one target's models in one version.
public struct TargetPrices: Sendable {
    public let kind: TargetKind
    public let models: [String: ModelPrice]
    let line: Int
}

/// Rates in force for one model on one target at one moment, with what made them so.
public struct AppliedRates: Hashable, Sendable {
    public let rates: ModelRates
    public let bookVersion: String
    /// The time window whose prices applied, if any.
    public let window: String?
    /// The promotion that applied, if any.
    public let promotion: String?
}

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
