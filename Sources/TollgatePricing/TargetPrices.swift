/// Prices of one model on one target, as written in one version of the book.
public struct ModelPrice: Hashable, Sendable {
    /// The rates outside any window or promotion.
    public let base: ModelRates
    /// Set for a local pool: the cost figures the rates were derived from.
    public let localPool: LocalPoolCost?
}

/// How a target is priced: by list prices (an upstream API) or from GPU cost (a local pool).
public enum TargetKind: String, Hashable, Sendable {
    case upstream
    case local
}

/// The prices of one target's models in one version.
public struct TargetPrices: Sendable {
    public let kind: TargetKind
    public let models: [String: ModelPrice]
    let line: Int

    /// The same prices, wherever in the file they are written.
    func hasSamePrices(as other: TargetPrices) -> Bool {
        kind == other.kind && models == other.models
    }
}
