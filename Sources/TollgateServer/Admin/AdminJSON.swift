import Foundation
import NIOCore
import TollgateConfig
import TollgateLedger
import TollgateMoney
import TollgateWire

/// JSON in and out of the admin API. Money is always a decimal string (never a float); dates
/// are ISO 8601 in UTC.
enum AdminJSON {
    /// A request body as a JSON object; an empty body is an empty object.
    static func object(_ body: ByteBuffer) throws(GatewayError) -> [String: Any] {
        guard body.readableBytes > 0 else { return [:] }
        let data = Data(body.readableBytesView)
        guard let parsed = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw GatewayError(
                status: 400, type: "invalid_request_error", code: "invalid_json", message: "The request body is not valid JSON.")
        }
        guard let object = parsed as? [String: Any] else { throw .invalidRequest("The request body must be a JSON object.") }
        return object
    }

    /// Serialises `object` with sorted keys (stable output for clients and tests).
    static func bytes(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// A key as the admin API shows it: never its hash or plaintext.
    static func key(_ record: KeyRecord, now: Date = Date()) -> [String: Any] {
        let status = record.revokedAt != nil ? "revoked" : (record.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
        return [
            "object": "key", "id": record.id, "prefix": record.prefix, "team": record.teamName,
            "name": record.name as Any? ?? NSNull(),
            "budget": record.budgetNanos.map { Money(nanos: $0, currency: record.currency).decimalString } as Any? ?? NSNull(),
            "budget_period": record.budgetPeriod.rawValue, "currency": record.currency,
            "rpm": record.requestsPerMinute as Any? ?? NSNull(), "tpm": record.tokensPerMinute as Any? ?? NSNull(),
            "models": record.models,
            "expires_at": record.expiresAt.map(iso8601) as Any? ?? NSNull(),
            "revoked_at": record.revokedAt.map(iso8601) as Any? ?? NSNull(),
            "created_at": iso8601(record.createdAt), "status": status,
        ]
    }

    /// A price book as loaded: its versions and the one in force now.
    static func priceBook(_ loaded: CurrentPricer.Loaded) -> [String: Any] {
        let book = loaded.book
        return [
            "object": "price_book", "file": book.file, "currency": book.currency, "list_price_target": book.listPriceTarget,
            "loaded_at": iso8601(loaded.loadedAt), "in_force": book.version(at: Date()).id,
            "versions": book.versions.map { ["id": $0.id, "effective_from": iso8601($0.effectiveFrom)] },
            "last_refusal": loaded.lastRefusal.map { ["at": iso8601($0.at), "reason": $0.reason] } as Any? ?? NSNull(),
        ]
    }

    static func team(_ record: TeamRecord) -> [String: Any] {
        [
            "object": "team", "id": record.id, "name": record.name,
            "budget": record.budgetNanos.map { Money(nanos: $0, currency: record.currency).decimalString } as Any? ?? NSNull(),
            "budget_period": record.budgetPeriod.rawValue, "currency": record.currency,
            "rpm": record.requestsPerMinute as Any? ?? NSNull(), "tpm": record.tokensPerMinute as Any? ?? NSNull(),
        ]
    }
}

/// Typed reads of one JSON object's fields, each failing with a 400 that names the field.
struct AdminFields {
    let object: [String: Any]

    /// Refuses fields the route does not know, so a typo (`budjet`) never passes silently.
    func allowOnly(_ names: Set<String>) throws(GatewayError) {
        if let unknown = object.keys.sorted().first(where: { !names.contains($0) }) {
            throw .invalidRequest("Unknown field '\(unknown.prefix(64))'.", param: String(unknown.prefix(64)))
        }
    }

    /// JSON `true`/`false` come back as NSNumbers of Objective-C type `c` (on Linux and Darwin);
    /// JSON numbers never do.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// Whether the field is present (null included).
    func has(_ name: String) -> Bool { object[name] != nil }

    func isNull(_ name: String) -> Bool { object[name] is NSNull }

    func string(_ name: String) throws(GatewayError) -> String? {
        guard let value = object[name], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw .invalidRequest("'\(name)' must be a string.", param: name) }
        return text
    }

    /// A positive whole number (JSON booleans are refused even though Foundation bridges them).
    func positiveInt(_ name: String) throws(GatewayError) -> Int? {
        guard let value = object[name], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number),
            let int = Int(exactly: number.doubleValue), int > 0, Double(int) == number.doubleValue
        else { throw .invalidRequest("'\(name)' must be a positive integer or null.", param: name) }
        return int
    }

    /// An amount as a decimal string ("50", "12.5") or a JSON integer; never a float.
    func money(_ name: String, currency: String) throws(GatewayError) -> Money? {
        guard let value = object[name], !(value is NSNull) else { return nil }
        var text: String?
        if let string = value as? String {
            text = string
        } else if let number = value as? NSNumber, !Self.isBoolean(number),
            let int = Int64(exactly: number.doubleValue), Double(int) == number.doubleValue {
            text = String(int)
        }
        guard let text, let money = Money(decimal: text, currency: currency), money.nanos >= 0 else {
            throw .invalidRequest("'\(name)' must be a non-negative decimal string such as \"50\" or \"12.5\".", param: name)
        }
        return money
    }

    func period(_ name: String) throws(GatewayError) -> BudgetPeriod? {
        guard let text = try string(name) else { return nil }
        guard let period = BudgetPeriod(rawValue: text) else {
            throw .invalidRequest("'\(name)' is one of total, daily, weekly, monthly.", param: name)
        }
        return period
    }

    func strings(_ name: String) throws(GatewayError) -> [String]? {
        guard let value = object[name], !(value is NSNull) else { return nil }
        guard let list = value as? [Any], let strings = list as? [String], strings.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidRequest("'\(name)' must be an array of model names.", param: name)
        }
        return strings
    }

    /// ISO 8601 time (`2026-12-31T12:00:00Z`) or day (`2026-12-31`, midnight UTC).
    func date(_ name: String) throws(GatewayError) -> Date? {
        guard let text = try string(name) else { return nil }
        do {
            return try ISOTime.parse(text, accepting: [.day, .offset])
        } catch {
            throw .invalidRequest("'\(name)' must be an ISO 8601 date or time: \(error.reason).", param: name)
        }
    }
}

/// A parsed query string; values percent-decoded, `+` read as a space, repeated names kept.
struct QueryParameters {
    private(set) var pairs: [(String, String)] = []

    init(uri: String) {
        guard let mark = uri.firstIndex(of: "?") else { return }
        for part in uri[uri.index(after: mark)...].split(separator: "&") where !part.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(pieces[0])
            let value = pieces.count > 1 ? Self.decode(pieces[1]) : ""
            pairs.append((name, value))
        }
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Every value given for `name`, in order.
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// The single value of `name`; a repeated parameter is refused rather than guessed at.
    func single(_ name: String) throws(GatewayError) -> String? {
        let values = all(name)
        guard values.count <= 1 else { throw .invalidRequest("'\(name)' is given more than once.", param: name) }
        return values.first
    }

    var names: Set<String> { Set(pairs.map(\.0)) }
}
