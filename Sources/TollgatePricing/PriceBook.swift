import Foundation
import TollgateConfig

/// A versioned price book in one currency (see docs/PRICING.md for the file format).
///
/// Loading validates everything that can be checked without the gateway's target list; the
/// gateway then calls ``validate(targets:)`` with its targets. Every failure is a ``ConfigError``
/// naming the file, the line and the reason.
public struct PriceBook: Sendable {
    /// ISO 4217-style code of the book's only currency, e.g. `USD`.
    public let currency: String
    /// The upstream target whose prices say what a request would have cost at the API.
    public let listPriceTarget: String
    /// Output tokens to expect per model when a request sets no `max_tokens`.
    public let expectedOutputTokens: [String: ExpectedOutputTokens]
    /// Versions in order of `effectiveFrom`, strictly increasing.
    public let versions: [PriceBookVersion]
    /// The file the book was read from, for error messages.
    public let file: String
    let currencyLine: Int
    let expectedOutputLine: Int

    /// Reads and validates a price book file.
    public static func load(path: String) throws -> PriceBook {
        try PriceBookParser.parse(root: ConfigNode.load(path: path))
    }

    /// Parses and validates price-book YAML; `file` names it in errors.
    public static func parse(text: String, file: String) throws -> PriceBook {
        try PriceBookParser.parse(root: ConfigNode.parse(text, file: file))
    }

    /// The version in effect at `date`: the last one whose `effectiveFrom` is not after `date`.
    ///
    /// A date before the first version (a skewed clock) gets the first version: the earliest
    /// prices the book knows are a better guess than none, and the version id says which was used.
    public func version(at date: Date) -> PriceBookVersion {
        for version in versions.reversed() where version.effectiveFrom <= date { return version }
        return versions[0]
    }

    /// Refuses a book that cannot replace `running` at `date` (a reload): one in another currency
    /// (budgets and the ledger are kept in the running book's), or one that changes or drops a
    /// version that has been in force. Requests were priced by that version, and the ledger names
    /// it on each of them: under its id the book must keep saying what they were charged.
    public func validate(replacing running: PriceBook, at date: Date) throws {
        guard currency == running.currency else {
            throw ConfigError(
                file: file, line: currencyLine,
                reason: "currency is \(currency) but the running book's is \(running.currency): budgets and the ledger are kept in it, so changing it needs a restart")
        }
        let since = { (version: PriceBookVersion) in ISO8601DateFormatter().string(from: version.effectiveFrom) }
        for old in running.versions where old.effectiveFrom <= date {
            guard let new = versions.first(where: { $0.id == old.id }) else {
                throw ConfigError(
                    file: file, line: version(at: old.effectiveFrom).line,
                    reason: "version '\(old.id)' is missing: it has priced requests since \(since(old)), and the ledger names it; keep it as it is")
            }
            guard new.hasSamePrices(as: old) else {
                throw ConfigError(
                    file: file, line: new.line,
                    reason: "version '\(old.id)' differs from the running one: it has priced requests since \(since(old)), and the ledger names it; add a new version with a later effective_from instead")
            }
        }
    }

    /// Checks that every version prices every model each target serves, that the list-price
    /// target is an upstream target, and that every served model has expected-output defaults.
    /// The gateway calls this with its configured targets after loading both files.
    public func validate(targets: [(target: String, models: [String])]) throws {
        for (target, models) in targets {
            for version in versions {
                guard let prices = version.targets[target] else {
                    throw ConfigError(
                        file: file, line: version.line,
                        reason: "version '\(version.id)' has no prices for target '\(target)'")
                }
                for model in models where prices.models[model] == nil {
                    throw ConfigError(
                        file: file, line: prices.line,
                        reason: "version '\(version.id)': target '\(target)' serves '\(model)' but has no price for it")
                }
            }
            for model in models where expectedOutputTokens[model] == nil {
                throw ConfigError(
                    file: file, line: expectedOutputLine,
                    reason: "expected_output_tokens has no default for model '\(model)' (served by '\(target)')")
            }
        }
    }
}
