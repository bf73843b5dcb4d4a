/// An exact amount of money in nano-units (10⁻⁹) of one currency.
///
/// Money is never a floating-point number in Tollgate: prices, reservations, ledger rows and
/// reports all carry nano-units as `Int64` (±9.2 billion currency units, plenty for a bill).
/// Rounding happens in exactly one place, ``Money/fromRatio(_:_:_:)``; see docs/PRICING.md.
public struct Money: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nano-units of the currency: 1 USD = 1_000_000_000.
    public var nanos: Int64
    public var currency: String

    public static let nanosPerUnit: Int64 = 1_000_000_000

    public init(nanos: Int64, currency: String) {
        self.nanos = nanos
        self.currency = currency
    }

    public static func zero(_ currency: String) -> Money { Money(nanos: 0, currency: currency) }

    /// Parses a plain decimal such as `"50"`, `"0.0028"` or `"-1.5"` (at most 9 fractional digits,
    /// no exponent, no grouping). Returns nil for anything else, so bad input is never guessed at.
    public init?(decimal text: String, currency: String) {
        guard let nanos = Money.parseNanos(text) else { return nil }
        self.init(nanos: nanos, currency: currency)
    }

    /// The amount as a decimal string with trailing zeros trimmed: `"0.00014"`, `"12"`, `"-3.5"`.
    public var decimalString: String { Money.format(nanos: nanos) }

    public var description: String { "\(decimalString) \(currency)" }

    public static func < (lhs: Money, rhs: Money) -> Bool {
        precondition(lhs.currency == rhs.currency, "comparing \(lhs.currency) with \(rhs.currency)")
        return lhs.nanos < rhs.nanos
    }

    public static func + (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "adding \(lhs.currency) to \(rhs.currency)")
        return Money(nanos: lhs.nanos + rhs.nanos, currency: lhs.currency)
    }

    public static func - (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "subtracting \(rhs.currency) from \(lhs.currency)")
        return Money(nanos: lhs.nanos - rhs.nanos, currency: lhs.currency)
    }

    /// `numerator × quantity / denominator` nano-units, rounded half away from zero.
    ///
    /// This is Tollgate's only rounding step: a meter's cost is `tokens × nanosPerMillion / 1_000_000`,
    /// computed in 128-bit arithmetic and rounded once, to the nearest nano-unit, ties away from zero.
    public static func fromRatio(_ quantity: Int64, _ numerator: Int64, _ denominator: Int64, currency: String) -> Money {
        precondition(denominator > 0, "denominator must be positive")
        // Fast path, same rule: a product that fits in 64 bits needs no 128-bit division.
        let (narrow, overflow) = quantity.multipliedReportingOverflow(by: numerator)
        if !overflow {
            var (quotient, remainder) = narrow.quotientAndRemainder(dividingBy: denominator)
            if remainder.magnitude * 2 >= denominator.magnitude { quotient += narrow < 0 ? -1 : 1 }
            return Money(nanos: quotient, currency: currency)
        }
        let quotient = roundedRatio(quantity, numerator, denominator)
        precondition(quotient <= Int128(Int64.max) && quotient >= Int128(Int64.min), "money overflow")
        return Money(nanos: Int64(quotient), currency: currency)
    }

    /// ``fromRatio(_:_:_:currency:)``'s rule in 128 bits, where no result overflows: for figures
    /// derived from money that need not fit in it, such as a report's percentages.
    public static func roundedRatio(_ quantity: Int64, _ numerator: Int64, _ denominator: Int64) -> Int128 {
        precondition(denominator > 0, "denominator must be positive")
        let product = quantity.multipliedFullWidth(by: numerator)
        let wide = (Int128(product.high) << 64) | Int128(product.low)
        let den = Int128(denominator)
        var quotient = wide / den
        let remainder = wide % den
        if remainder.magnitude * 2 >= den.magnitude {
            quotient += wide < 0 ? -1 : 1
        }
        return quotient
    }

    static func parseNanos(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(isDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : []
        if parts.count == 2 && fraction.isEmpty { return nil }
        guard fraction.count <= 9, fraction.allSatisfy(isDigit) else { return nil }
        var units: Int64 = 0
        for digit in whole {
            let (m, o1) = units.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(digit - 48))
            if o1 || o2 { return nil }
            units = s
        }
        var nanosPart: Int64 = 0
        var scale: Int64 = 100_000_000
        for digit in fraction {
            nanosPart += Int64(digit - 48) * scale
            scale /= 10
        }
        let (m, o1) = units.multipliedReportingOverflow(by: nanosPerUnit)
        let (total, o2) = m.addingReportingOverflow(nanosPart)
        if o1 || o2 { return nil }
        return negative ? -total : total
    }

    static func format(nanos: Int64) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxDecimalLength) { buffer in
            let count = writeDecimal(nanos: nanos, into: buffer)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }

    /// The most bytes ``decimalString`` can have: a sign, 10 whole digits, a point, 9 decimals.
    public static let maxDecimalLength = 21

    /// Writes ``decimalString``'s bytes to the start of `out` (at least ``maxDecimalLength``
    /// bytes) and returns how many it wrote. The cost written into every priced response is
    /// formatted this way, without a `String` in between.
    public func writeDecimal(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        Money.writeDecimal(nanos: nanos, into: out)
    }

    /// ``writeDecimal(into:)`` for an amount held as its nanos alone.
    public static func writeDecimal(nanos: Int64, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(out.count >= Money.maxDecimalLength, "decimal buffer too small")
        // Digits are written right to left, then moved to the front.
        var end = Money.maxDecimalLength
        var magnitude = nanos.magnitude
        var fraction = magnitude % UInt64(Money.nanosPerUnit)
        magnitude /= UInt64(Money.nanosPerUnit)
        if fraction != 0 {
            var digits = 9
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            for _ in 0..<digits {
                end -= 1
                out[end] = UInt8(ascii: "0") + UInt8(fraction % 10)
                fraction /= 10
            }
            end -= 1
            out[end] = UInt8(ascii: ".")
        }
        repeat {
            end -= 1
            out[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if nanos < 0 {
            end -= 1
            out[end] = UInt8(ascii: "-")
        }
        let count = Money.maxDecimalLength - end
        if end > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: out.baseAddress! + end, byteCount: count) }
        return count
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
