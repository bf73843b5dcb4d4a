import TollgateMoney

/// An amount of money together with the price-book version (and window or promotion) that priced it.
public struct PricedCost: Hashable, Sendable, CustomStringConvertible {
    public var money: Money
    public let source: PriceSource

    public init(money: Money, source: PriceSource) {
        self.money = money
        self.source = source
    }

    public init(money: Money, bookVersion: String, window: String? = nil, promotion: String? = nil) {
        self.init(money: money, source: PriceSource(bookVersion: bookVersion, window: window, promotion: promotion))
    }

    /// The id of the price-book version whose prices were used.
    public var bookVersion: String { source.bookVersion }
    /// The time window whose prices applied, if any.
    public var window: String? { source.window }
    /// The promotion that applied, if any.
    public var promotion: String? { source.promotion }

    public var description: String { "\(money) (prices \(bookVersion))" }
}
