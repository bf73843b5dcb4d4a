import TollgateMoney

/// The exact price of one token on one meter: `nanosNumerator / tokensDenominator` nano-units.
///
/// Rates are kept as reduced fractions so that derived prices (a local pool's GPU hour spread over
/// its throughput, a percentage discount) are exact; rounding happens only when a token count is
/// turned into ``Money``, through ``Money/fromRatio(_:_:_:currency:)``.
public struct MeterRate: Hashable, Sendable, CustomStringConvertible {
    /// Nano-units charged for `tokensDenominator` tokens.
    public let nanosNumerator: Int64
    /// Tokens that cost `nanosNumerator` nano-units; always positive.
    public let tokensDenominator: Int64

    /// A rate of `nanosNumerator` nano-units per `tokensDenominator` tokens, reduced. Nil when the
    /// denominator is not positive or the numerator is negative.
    public init?(nanosNumerator: Int64, tokensDenominator: Int64) {
        guard tokensDenominator > 0, nanosNumerator >= 0 else { return nil }
        let divisor = gcd(nanosNumerator, tokensDenominator)
        self.nanosNumerator = nanosNumerator / divisor
        self.tokensDenominator = tokensDenominator / divisor
    }

    /// A list price quoted per one million tokens, e.g. 0.14 USD per 1M = 140_000_000 nanos per 1M.
    public init?(perMillion price: Money) {
        self.init(nanosNumerator: price.nanos, tokensDenominator: 1_000_000)
    }

    public static let free = MeterRate(nanosNumerator: 0, tokensDenominator: 1)!

    /// The dearest rate a book may set: 10⁹ nano-units a token (1,000,000 currency units per 1M
    /// tokens). Tollgate takes at most 2³¹ − 1 tokens a meter from a client or an engine, so the
    /// three meters of one request cost under 6.5 × 10¹⁸ nano-units: pricing never overflows `Int64`.
    public static let ceiling = MeterRate(nanosNumerator: 1_000_000_000, tokensDenominator: 1)!

    /// Whether this rate is dearer than ``ceiling``.
    public var exceedsCeiling: Bool {
        let (limit, overflow) = MeterRate.ceiling.nanosNumerator.multipliedReportingOverflow(by: tokensDenominator)
        return !overflow && nanosNumerator > limit
    }

    /// The cost of `tokens` tokens, rounded once to the nano-unit, half away from zero.
    public func cost(tokens: Int, currency: String) -> Money {
        Money.fromRatio(Int64(tokens), nanosNumerator, tokensDenominator, currency: currency)
    }

    /// The price of one million tokens (rounded to the nano-unit), for display and comparison.
    public func perMillion(currency: String) -> Money {
        cost(tokens: 1_000_000, currency: currency)
    }

    /// The rate after `percentOff` percent off (0...100); nil if the fraction would overflow.
    func discounted(percentOff: Int) -> MeterRate? {
        let (numerator, o1) = nanosNumerator.multipliedReportingOverflow(by: Int64(100 - percentOff))
        let (denominator, o2) = tokensDenominator.multipliedReportingOverflow(by: 100)
        if o1 || o2 { return nil }
        return MeterRate(nanosNumerator: numerator, tokensDenominator: denominator)
    }

    public var description: String { "\(nanosNumerator)/\(tokensDenominator) nanos per token" }
}

private func gcd(_ a: Int64, _ b: Int64) -> Int64 {
    var (x, y) = (a.magnitude, b.magnitude)
    while y != 0 { (x, y) = (y, x % y) }
    return x == 0 ? 1 : Int64(x)
}
