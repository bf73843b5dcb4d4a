import TollgateMoney

/// An amount of money together with the price-book version (and window or promotion) that priced it.
public struct PricedCost: Hashable, Sendable, CustomStringConvertible {
    public var money: Money
    /// The id of the price-book version whose prices were used.
    public var bookVersion: String
    /// The time window whose prices applied, if any.
    public var window: String?
    /// The promotion that applied, if any.
    public var promotion: String?

    public init(money: Money, bookVersion: String, window: String? = nil, promotion: String? = nil) {
        self.money = money
        self.bookVersion = bookVersion
        self.window = window
        self.promotion = promotion
    }

    public var description: String { "\(money) (prices \(bookVersion))" }
}
