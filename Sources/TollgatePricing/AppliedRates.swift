/// Which prices priced an amount: the book version, and the time window and promotion that
/// applied, if any. One shared reference per combination, resolved when the book loads, so that
/// copying a price on the request path is one reference count instead of three strings.
public final class PriceSource: Hashable, Sendable, CustomStringConvertible {
    public let bookVersion: String
    public let window: String?
    public let promotion: String?

    public init(bookVersion: String, window: String? = nil, promotion: String? = nil) {
        self.bookVersion = bookVersion
        self.window = window
        self.promotion = promotion
    }

    public static func == (lhs: PriceSource, rhs: PriceSource) -> Bool {
        lhs === rhs
            || (lhs.bookVersion == rhs.bookVersion && lhs.window == rhs.window && lhs.promotion == rhs.promotion)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bookVersion)
        hasher.combine(window)
        hasher.combine(promotion)
    }

    public var description: String {
        [bookVersion, window.map { "window \($0)" }, promotion.map { "promotion \($0)" }].compactMap { $0 }
            .joined(separator: ", ")
    }
}

/// Rates in force for one model on one target at one moment, with what made them so. One shared
/// object per combination, resolved when the book loads: a priced request holds a reference.
public final class AppliedRates: Hashable, Sendable {
    public let rates: ModelRates
    public let source: PriceSource

    init(rates: ModelRates, source: PriceSource) {
        self.rates = rates
        self.source = source
    }

    public static func == (lhs: AppliedRates, rhs: AppliedRates) -> Bool {
        lhs === rhs || (lhs.rates == rhs.rates && lhs.source == rhs.source)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rates)
        hasher.combine(source)
    }

    public var bookVersion: String { source.bookVersion }
    /// The time window whose prices applied, if any.
    public var window: String? { source.window }
    /// The promotion that applied, if any.
    public var promotion: String? { source.promotion }
}
