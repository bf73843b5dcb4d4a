import Foundation

/// Strict ISO 8601 times and days, as operators write them in price books, on the command line and
/// in admin API queries.
///
/// Foundation's `ISO8601DateFormatter` is lenient on Linux: it rolls `2026-02-30` over to March 2,
/// reads `T24:00:00` as the next day and ignores extra digits and trailing characters, so a typo in
/// a price book would move a price change to a date nobody wrote. This parser accepts only
/// what it can read back exactly and says what is wrong otherwise.
public enum ISOTime {
    /// What a caller accepts besides `2026-09-01T00:00:00Z` (with optional fractional seconds).
    public struct Forms: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// A day alone, `2026-09-01`: its midnight UTC.
        public static let day = Forms(rawValue: 1)
        /// An offset instead of `Z`, `2026-09-01T02:00:00+02:00`.
        public static let offset = Forms(rawValue: 2)
    }

    /// Why a text is not a time.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The instant `text` names.
    public static func parse(_ text: String, accepting forms: Forms = []) throws(Invalid) -> Date {
        var reader = Reader(Array(text.utf8))
        let example = forms.contains(.day) ? "2026-09-01 or 2026-09-01T00:00:00Z" : "2026-09-01T00:00:00Z"
        let shape = Invalid(reason: "'\(text)' is not an ISO 8601 \(forms.contains(.day) ? "day or " : "")UTC time such as \(example)")

        guard let year = reader.digits(4), reader.take(UInt8(ascii: "-")),
              let month = reader.digits(2), reader.take(UInt8(ascii: "-")),
              let day = reader.digits(2)
        else { throw shape }
        guard (1...12).contains(month) else { throw Invalid(reason: "'\(text)': there is no month \(month)") }
        let daysInMonth = Self.daysIn(month: month, year: year)
        guard (1...daysInMonth).contains(day) else {
            throw Invalid(reason: "'\(text)': \(String(format: "%04d-%02d", year, month)) has \(daysInMonth) days")
        }
        var seconds = Double(Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400)
        if reader.atEnd {
            guard forms.contains(.day) else { throw shape }
            return Date(timeIntervalSince1970: seconds)
        }

        guard reader.take(UInt8(ascii: "T")),
              let hour = reader.digits(2), reader.take(UInt8(ascii: ":")),
              let minute = reader.digits(2), reader.take(UInt8(ascii: ":")),
              let second = reader.digits(2)
        else { throw shape }
        guard hour < 24, minute < 60, second < 60 else {
            throw Invalid(reason: "'\(text)': \(String(format: "%02d:%02d:%02d", hour, minute, second)) is not a time of day (00:00:00 to 23:59:59)")
        }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if reader.take(UInt8(ascii: ".")) {
            guard let fraction = reader.fraction() else { throw shape }
            seconds += fraction
        }

        if reader.take(UInt8(ascii: "Z")) {
            // Nothing to adjust.
        } else if forms.contains(.offset), let sign = reader.sign(),
                  let offsetHours = reader.digits(2), reader.take(UInt8(ascii: ":")), let offsetMinutes = reader.digits(2) {
            guard offsetHours < 24, offsetMinutes < 60 else { throw shape }
            seconds -= Double(sign * (offsetHours * 3600 + offsetMinutes * 60))
        } else {
            throw shape
        }
        guard reader.atEnd else { throw shape }
        return Date(timeIntervalSince1970: seconds)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
    /// `days_from_civil`).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// ASCII only: `Character.isNumber` would let full-width digits through.
    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func digits(_ count: Int) -> Int? {
            guard bytes.count - index >= count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// The digits after a decimal point, as a fraction of a second (at least one digit).
        mutating func fraction() -> Double? {
            var scale = 0.1
            var value = 0.0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                value += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            return index > start ? value : nil
        }

        mutating func sign() -> Int? {
            if take(UInt8(ascii: "+")) { return 1 }
            if take(UInt8(ascii: "-")) { return -1 }
            return nil
        }
    }
}
