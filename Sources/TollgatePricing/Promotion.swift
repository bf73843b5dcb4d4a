import Foundation

/// A temporary price change with its own start and end, e.g. "75% off V4-Pro until the 31st".
public struct Promotion: Sendable {
    public let id: String
    /// Inclusive.
    public let from: Date
    /// Exclusive; nil when the promotion runs until the next price-book version.
    public let until: Date?
    let changes: [TargetModel: PriceChange]
    let line: Int

    /// The same promotion and changes, wherever in the file they are written.
    func hasSamePrices(as other: Promotion) -> Bool {
        id == other.id && from == other.from && until == other.until && changes == other.changes
    }

    public func isActive(at date: Date) -> Bool {
        date >= from && (until.map { date < $0 } ?? true)
    }

    func overlaps(_ other: Promotion) -> Bool {
        let myEnd = until ?? .distantFuture
        let otherEnd = other.until ?? .distantFuture
        return from < otherEnd && other.from < myEnd
    }
}
