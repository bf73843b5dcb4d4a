import Foundation

/// A daily period (UTC time of day) in which some prices differ, e.g. DeepSeek's off-peak hours.
///
/// `from` is inclusive and `until` exclusive. A window whose `until` is earlier than its `from`
/// crosses midnight: 16:30–00:30 covers 16:30:00 up to 00:29:59 the next day.
public struct TimeWindow: Sendable {
    public let id: String
    /// Minutes after 00:00 UTC, 0...1439.
    public let fromMinute: Int
    /// Minutes after 00:00 UTC, 1...1440 (24:00 is midnight at the end of the day).
    public let untilMinute: Int
    let changes: [TargetModel: PriceChange]
    let line: Int

    /// The same window and changes, wherever in the file they are written.
    func hasSamePrices(as other: TimeWindow) -> Bool {
        id == other.id && fromMinute == other.fromMinute && untilMinute == other.untilMinute && changes == other.changes
    }

    /// True when `date`'s UTC time of day falls in the window.
    public func contains(_ date: Date) -> Bool {
        contains(minuteOfDay: TimeWindow.minuteOfDay(date))
    }

    func contains(minuteOfDay minute: Int) -> Bool {
        if fromMinute < untilMinute { return minute >= fromMinute && minute < untilMinute }
        return minute >= fromMinute || minute < untilMinute
    }

    /// The window as one or two half-open minute ranges within a day, for overlap checks.
    var ranges: [Range<Int>] {
        fromMinute < untilMinute
            ? [fromMinute..<untilMinute]
            : [fromMinute..<1440, 0..<untilMinute].filter { !$0.isEmpty }
    }

    func overlaps(_ other: TimeWindow) -> Bool {
        ranges.contains { mine in other.ranges.contains { $0.overlaps(mine) } }
    }

    /// Whole minutes since 00:00 UTC of the day `date` falls on.
    static func minuteOfDay(_ date: Date) -> Int {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        return Int(secondOfDay / 60)
    }

    /// Parses `HH:MM` (00:00–23:59, and 24:00 when `allowEndOfDay`) into minutes after midnight.
    static func parseTimeOfDay(_ text: String, allowEndOfDay: Bool) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), minute < 60
        else { return nil }
        if hour == 24 && minute == 0 && allowEndOfDay { return 1440 }
        guard hour < 24 else { return nil }
        return hour * 60 + minute
    }
}
