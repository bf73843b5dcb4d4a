import Foundation
import TollgateMoney

/// How often a budget starts over. Windows are aligned to UTC: days at midnight, weeks on
/// Monday, months on the 1st; a `total` budget never resets.
public enum BudgetPeriod: String, Sendable, Hashable, CaseIterable, Codable {
    case total, daily, weekly, monthly

    /// The start of the window that contains `date`.
    public func windowStart(containing date: Date) -> Date {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        switch self {
        case .total:
            return Date(timeIntervalSince1970: 0)
        case .daily:
            return calendar.startOfDay(for: date)
        case .weekly:
            let components = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return calendar.date(from: components)!
        case .monthly:
            let components = calendar.dateComponents([.year, .month], from: date)
            return calendar.date(from: components)!
        }
    }
}

/// The limits that apply to a key or to its team. `nil` means no limit of that kind.
public struct Limits: Sendable, Hashable {
    /// The budget for one period, in the price book's currency.
    public var budget: Money?
    public var budgetPeriod: BudgetPeriod
    /// Requests per minute.
    public var requestsPerMinute: Int?
    /// Tokens (prompt and completion) per minute.
    public var tokensPerMinute: Int?

    public init(budget: Money? = nil, budgetPeriod: BudgetPeriod = .total, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.budget = budget
        self.budgetPeriod = budgetPeriod
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }

    public static let none = Limits()
}
