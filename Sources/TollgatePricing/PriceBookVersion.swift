import Foundation

/// One version of the price book: complete prices for every target from `effectiveFrom` until
/// the next version takes effect. A class: it is immutable and handed out on every priced request.
public final class PriceBookVersion: Sendable {
    public let id: String
    public let effectiveFrom: Date
    public let targets: [String: TargetPrices]
    public let timeWindows: [TimeWindow]
    public let promotions: [Promotion]
    let line: Int
    /// Per target and model, the base rates and the windows and promotions that change them,
    /// resolved at load so that pricing a request is one lookup.
    private let schedules: [TargetModel: Schedule]

    private struct Schedule: Sendable {
        let windows: [(window: TimeWindow, change: PriceChange)]
        let promotions: [(promotion: Promotion, change: PriceChange)]
        /// The rates of each combination, changes applied: `applied[w][p]`, index 0 meaning none.
        let applied: [[AppliedRates]]
    }

    /// True when `other` prices every request exactly as this version does: the same start,
    /// targets, rates, windows and promotions (where the file writes them aside).
    func hasSamePrices(as other: PriceBookVersion) -> Bool {
        id == other.id && effectiveFrom == other.effectiveFrom
            && targets.count == other.targets.count
            && targets.allSatisfy { name, prices in other.targets[name].map(prices.hasSamePrices) ?? false }
            && timeWindows.count == other.timeWindows.count
            && zip(timeWindows, other.timeWindows).allSatisfy { $0.hasSamePrices(as: $1) }
            && promotions.count == other.promotions.count
            && zip(promotions, other.promotions).allSatisfy { $0.hasSamePrices(as: $1) }
    }

    init(
        id: String, effectiveFrom: Date, targets: [String: TargetPrices], timeWindows: [TimeWindow],
        promotions: [Promotion], line: Int
    ) {
        self.id = id
        self.effectiveFrom = effectiveFrom
        self.targets = targets
        self.timeWindows = timeWindows
        self.promotions = promotions
        self.line = line
        var schedules: [TargetModel: Schedule] = [:]
        for (target, prices) in targets {
            for (model, price) in prices.models {
                let pair = TargetModel(target: target, model: model)
                let windows = timeWindows.compactMap { window in window.changes[pair].map { (window, $0) } }
                let promos = promotions.compactMap { promotion in promotion.changes[pair].map { (promotion, $0) } }
                let windowChoices: [(window: TimeWindow, change: PriceChange)?] = [nil] + windows
                let promotionChoices: [(promotion: Promotion, change: PriceChange)?] = [nil] + promos
                // The window's change first, then the promotion's (the parser checked every pair).
                let applied = windowChoices.map { w in
                    promotionChoices.map { p in
                        var rates = price.base
                        if let w { rates = PriceBookVersion.apply(w.change, to: rates) }
                        if let p { rates = PriceBookVersion.apply(p.change, to: rates) }
                        return AppliedRates(
                            rates: rates, source: PriceSource(bookVersion: id, window: w?.window.id, promotion: p?.promotion.id))
                    }
                }
                schedules[pair] = Schedule(windows: windows, promotions: promos, applied: applied)
            }
        }
        self.schedules = schedules
    }

    /// The rates for `model` on `target` for a request that starts at `date`, or nil when this
    /// version has no price for that pair.
    ///
    /// The base price is changed first by the time window containing `date` (at most one per pair,
    /// checked at load), then by the active promotion (likewise at most one). Every combination is
    /// resolved at load, so this only picks one.
    public func rates(target: String, model: String, at date: Date) -> AppliedRates? {
        guard let schedule = schedules[TargetModel(target: target, model: model)] else { return nil }
        var windowIndex = 0
        if !schedule.windows.isEmpty {
            let minute = TimeWindow.minuteOfDay(date)
            if let index = schedule.windows.firstIndex(where: { $0.window.contains(minuteOfDay: minute) }) {
                windowIndex = index + 1
            }
        }
        let promotionIndex = schedule.promotions.firstIndex(where: { $0.promotion.isActive(at: date) }).map { $0 + 1 } ?? 0
        return schedule.applied[windowIndex][promotionIndex]
    }

    static func apply(_ change: PriceChange, to rates: ModelRates) -> ModelRates {
        guard let changed = rates.applying(change) else {
            // The parser tries every window × promotion combination and refuses a book that overflows.
            preconditionFailure("price change overflow slipped past load-time validation")
        }
        return changed
    }
}
