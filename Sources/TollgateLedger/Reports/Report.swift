import Foundation
import TollgateMoney

/// A column a report can be grouped by.
public enum ReportDimension: String, Sendable, Hashable, CaseIterable, Codable {
    case team, model, target, day
}

/// A calendar day in UTC, `YYYY-MM-DD`.
public struct LedgerDay: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Parses `YYYY-MM-DD` (or the date part of an ISO 8601 timestamp); nil for anything else.
    public init?(_ text: String) {
        let datePart = text.prefix(10)
        let parts = datePart.split(separator: "-", omittingEmptySubsequences: false)
        // Digits only: `Int` alone would read "+1" as a month.
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
            calendar.component(.day, from: date) == day
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC day containing `date`.
    public init(_ date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        self.year = parts.year!
        self.month = parts.month!
        self.day = parts.day!
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: LedgerDay, rhs: LedgerDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = LedgerDay(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected YYYY-MM-DD"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What to report on: days `from` through `to` inclusive (UTC), optionally one team only.
public struct ReportQuery: Sendable, Hashable {
    public var from: LedgerDay
    public var to: LedgerDay
    public var team: String?
    public var groupBy: [ReportDimension]

    public init(from: LedgerDay, to: LedgerDay, team: String? = nil, groupBy: [ReportDimension] = [.team]) {
        self.from = from
        self.to = to
        self.team = team
        self.groupBy = groupBy
    }
}

/// Sums of one group (or of the whole report).
public struct UsageTotals: Sendable, Hashable {
    public var requests: Int64 = 0
    public var errors: Int64 = 0
    public var promptTokens: Int64 = 0
    public var cacheHitTokens: Int64 = 0
    public var completionTokens: Int64 = 0
    public var reasoningTokens: Int64 = 0
    public var costNanos: Int64 = 0
    public var listCostNanos: Int64 = 0

    public init() {}

    /// What using Tollgate saved against the API list price (may be negative).
    public var savingsNanos: Int64 { listCostNanos - costNanos }

    /// Savings as a percentage of the list price with two decimals (`"37.50"`), exact integer
    /// maths rounded half away from zero; nil when the list price is zero.
    public var savingsPercent: String? { twoDecimals(savingsNanos, times: 100, over: listCostNanos) }

    mutating func add(_ other: UsageTotals) throws {
        func sum(_ a: Int64, _ b: Int64) throws -> Int64 {
            let (value, overflow) = a.addingReportingOverflow(b)
            if overflow { throw LedgerError.invalidArgument("report total overflows 64-bit nano-units") }
            return value
        }
        requests = try sum(requests, other.requests)
        errors = try sum(errors, other.errors)
        promptTokens = try sum(promptTokens, other.promptTokens)
        cacheHitTokens = try sum(cacheHitTokens, other.cacheHitTokens)
        completionTokens = try sum(completionTokens, other.completionTokens)
        reasoningTokens = try sum(reasoningTokens, other.reasoningTokens)
        costNanos = try sum(costNanos, other.costNanos)
        listCostNanos = try sum(listCostNanos, other.listCostNanos)
    }
}

/// One row of a report: the group's dimension values and its sums.
public struct ReportRow: Sendable, Hashable {
    public var team: String?
    public var model: String?
    public var target: String?
    public var day: LedgerDay?
    public var currency: String
    public var totals: UsageTotals

    public func value(of dimension: ReportDimension) -> String {
        switch dimension {
        case .team: return team ?? ""
        case .model: return model ?? ""
        case .target: return target ?? ""
        case .day: return day?.description ?? ""
        }
    }
}

/// A spend report: rows per group and the total, which equals the sum of the ledger rows.
public struct Report: Sendable, Hashable {
    public var query: ReportQuery
    public var rows: [ReportRow]
    public var total: UsageTotals
    public var currency: String
}

/// `value × scale ÷ whole` as a decimal with two places, rounded by the money rule
/// (`Money.roundedRatio`), so report figures are the same on every machine; nil when `whole` is
/// zero. In 128 bits: a cost a million times its list price is a figure, not an overflow.
func twoDecimals(_ value: Int64, times scale: Int64, over whole: Int64) -> String? {
    guard whole > 0 else { return nil }
    let hundredths = Money.roundedRatio(value, scale * 100, whole)
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = hundredths.magnitude
    let fraction = String(magnitude % 100)
    return "\(sign)\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
}
