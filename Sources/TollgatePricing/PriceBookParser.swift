import Foundation
import TollgateConfig
import TollgateMoney

/// Reads a price book from its YAML tree and refuses anything it cannot price exactly.
enum PriceBookParser {
    static func parse(root: ConfigNode) throws -> PriceBook {
        let top = try root.mapping()
        try top.allowOnly(["currency", "list_price_target", "expected_output_tokens", "versions"])

        let currencyNode = try top.required("currency")
        let currency = try currencyNode.string()
        guard currency.count == 3, currency.unicodeScalars.allSatisfy({ $0 >= "A" && $0 <= "Z" }) else {
            throw currencyNode.error("currency must be a three-letter code such as USD, found '\(currency)'")
        }
        let listNode = try top.required("list_price_target")
        let listPriceTarget = try listNode.nonEmptyString()

        let expectedNode = try top.required("expected_output_tokens")
        let expected = try parseExpectedOutput(expectedNode)

        let versionsNode = try top.required("versions")
        let versionNodes = try versionsNode.sequence()
        guard !versionNodes.isEmpty else { throw versionsNode.error("the book needs at least one version") }
        var versions: [PriceBookVersion] = []
        for node in versionNodes {
            let version = try parseVersion(node, currency: currency)
            if let previous = versions.first(where: { $0.id == version.id }) {
                throw node.error("version id '\(version.id)' is already used at line \(previous.line)")
            }
            if let previous = versions.last {
                let at = try node.mapping().required("effective_from")
                if version.effectiveFrom == previous.effectiveFrom {
                    throw at.error(
                        "version '\(version.id)' overlaps version '\(previous.id)': both take effect at the same time")
                }
                if version.effectiveFrom < previous.effectiveFrom {
                    throw at.error(
                        "version '\(version.id)' is out of order: it takes effect before '\(previous.id)' (list versions oldest first)")
                }
            }
            versions.append(version)
        }

        for version in versions {
            guard let prices = version.targets[listPriceTarget] else {
                throw listNode.error("list_price_target '\(listPriceTarget)' has no prices in version '\(version.id)'")
            }
            guard prices.kind == .upstream else {
                throw listNode.error("list_price_target '\(listPriceTarget)' must be an upstream target, not a local pool")
            }
        }
        return PriceBook(
            currency: currency, listPriceTarget: listPriceTarget, expectedOutputTokens: expected,
            versions: versions, file: root.file, currencyLine: currencyNode.line, expectedOutputLine: expectedNode.line)
    }

    // MARK: - Versions

    static func parseVersion(_ node: ConfigNode, currency: String) throws -> PriceBookVersion {
        let map = try node.mapping()
        try map.allowOnly(["id", "effective_from", "targets", "time_windows", "promotions"])
        let id = try map.required("id").nonEmptyString()
        let effectiveFrom = try parseInstant(map.required("effective_from"))

        let targetsNode = try map.required("targets")
        var targets: [String: TargetPrices] = [:]
        for (name, targetNode) in try targetsNode.mapping().pairs {
            targets[name] = try parseTarget(targetNode, currency: currency)
        }
        guard !targets.isEmpty else { throw targetsNode.error("a version must price at least one target") }

        var windows: [TimeWindow] = []
        for windowNode in try map.optional("time_windows")?.sequence() ?? [] {
            let window = try parseWindow(windowNode, targets: targets, currency: currency)
            if let earlier = windows.first(where: { $0.id == window.id }) {
                throw windowNode.error("time window id '\(window.id)' is already used at line \(earlier.line)")
            }
            for earlier in windows where window.overlaps(earlier) {
                if let shared = sharedPair(window.changes, earlier.changes) {
                    throw windowNode.error(
                        "time window '\(window.id)' overlaps '\(earlier.id)' (line \(earlier.line)) for \(shared)")
                }
            }
            windows.append(window)
        }

        var promotions: [Promotion] = []
        for promotionNode in try map.optional("promotions")?.sequence() ?? [] {
            let promotion = try parsePromotion(promotionNode, targets: targets, currency: currency)
            if let earlier = promotions.first(where: { $0.id == promotion.id }) {
                throw promotionNode.error("promotion id '\(promotion.id)' is already used at line \(earlier.line)")
            }
            for earlier in promotions where promotion.overlaps(earlier) {
                if let shared = sharedPair(promotion.changes, earlier.changes) {
                    throw promotionNode.error(
                        "promotion '\(promotion.id)' overlaps '\(earlier.id)' (line \(earlier.line)) for \(shared)")
                }
            }
            promotions.append(promotion)
        }

        try checkCombinations(targets: targets, windows: windows, promotions: promotions, file: node.file)
        return PriceBookVersion(
            id: id, effectiveFrom: effectiveFrom, targets: targets, timeWindows: windows,
            promotions: promotions, line: node.line)
    }

    /// Applies every window × promotion combination once, so a rate that would overflow is refused
    /// here instead of failing while a request is priced.
    static func checkCombinations(
        targets: [String: TargetPrices], windows: [TimeWindow], promotions: [Promotion], file: String
    ) throws {
        for (target, prices) in targets {
            for (model, price) in prices.models {
                let pair = TargetModel(target: target, model: model)
                let windowChanges: [(PriceChange, Int)?] =
                    [nil] + windows.compactMap { w in w.changes[pair].map { ($0, w.line) } }
                let promotionChanges: [(PriceChange, Int)?] =
                    [nil] + promotions.compactMap { p in p.changes[pair].map { ($0, p.line) } }
                for window in windowChanges {
                    for promotion in promotionChanges {
                        var rates = price.base
                        for (change, line) in [window, promotion].compactMap({ $0 }) {
                            guard let changed = rates.applying(change) else {
                                throw ConfigError(file: file, line: line, reason: "this price change overflows for \(pair)")
                            }
                            rates = changed
                        }
                    }
                }
            }
        }
    }

    static func sharedPair(_ a: [TargetModel: PriceChange], _ b: [TargetModel: PriceChange]) -> TargetModel? {
        a.keys.sorted { ($0.target, $0.model) < ($1.target, $1.model) }.first { b[$0] != nil }
    }

    // MARK: - Targets

    static func parseTarget(_ node: ConfigNode, currency: String) throws -> TargetPrices {
        let map = try node.mapping()
        try map.allowOnly(["kind", "models"])
        let kindNode = try map.required("kind")
        guard let kind = TargetKind(rawValue: try kindNode.oneOf(["upstream", "local"])) else {
            throw kindNode.error("kind must be upstream or local")
        }
        let modelsNode = try map.required("models")
        var models: [String: ModelPrice] = [:]
        for (model, modelNode) in try modelsNode.mapping().pairs {
            switch kind {
            case .upstream:
                let meters = try parseMeters(modelNode, currency: currency, requireAll: true)
                guard let hit = meters[.inputCacheHit], let miss = meters[.inputCacheMiss], let out = meters[.output]
                else { throw modelNode.error("missing meter") }
                models[model] = ModelPrice(
                    base: ModelRates(inputCacheHit: hit, inputCacheMiss: miss, output: out), localPool: nil)
            case .local:
                let pool = try parseLocalPool(modelNode, currency: currency)
                guard let rates = pool.rates else {
                    throw modelNode.error("cannot derive prices from these figures (too large)")
                }
                for meter in Meter.allCases where rates[meter].exceedsCeiling {
                    throw modelNode.error(
                        "these figures price \(meter.rawValue) above the most a meter may cost (\(ceilingText))")
                }
                models[model] = ModelPrice(base: rates, localPool: pool)
            }
        }
        guard !models.isEmpty else { throw modelsNode.error("a target must price at least one model") }
        return TargetPrices(kind: kind, models: models, line: node.line)
    }

    /// Meter prices in currency per 1M tokens. With `requireAll`, all three meters must be given.
    static func parseMeters(_ node: ConfigNode, currency: String, requireAll: Bool) throws -> [Meter: MeterRate] {
        let map = try node.mapping()
        var rates: [Meter: MeterRate] = [:]
        for (key, value) in map.pairs {
            guard let meter = Meter(rawValue: key) else {
                let hint = key.hasPrefix("reasoning") ? "reasoning tokens bill as output; " : ""
                throw value.error("unknown meter '\(key)' (\(hint)meters: \(Meter.names))")
            }
            let price = try parsePrice(value, currency: currency)
            guard let rate = MeterRate(perMillion: price) else { throw value.error("negative price") }
            if rate.exceedsCeiling {
                throw value.error("price \(price.decimalString) is above the most a meter may cost (\(ceilingText))")
            }
            rates[meter] = rate
        }
        if requireAll {
            for meter in Meter.allCases where rates[meter] == nil {
                throw node.error("missing meter '\(meter.rawValue)' (meters: \(Meter.names))")
            }
        } else if rates.isEmpty {
            throw node.error("give at least one meter (meters: \(Meter.names))")
        }
        return rates
    }

    static func parseLocalPool(_ node: ConfigNode, currency: String) throws -> LocalPoolCost {
        let map = try node.mapping()
        try map.allowOnly(["gpu_cost_per_hour", "gpus", "tokens_per_second"])
        let cost = try parsePrice(map.required("gpu_cost_per_hour"), currency: currency)
        let gpus = try map.required("gpus").int(in: 1...100_000)
        let throughput = try map.required("tokens_per_second").mapping()
        try throughput.allowOnly(["input", "output", "input_cache_hit"])
        let range = 1...1_000_000_000
        return LocalPoolCost(
            gpuCostPerHour: cost, gpus: gpus,
            inputTokensPerSecond: try throughput.required("input").int(in: range),
            outputTokensPerSecond: try throughput.required("output").int(in: range),
            cacheHitTokensPerSecond: try throughput.optional("input_cache_hit")?.int(in: range))
    }

    /// ``MeterRate/ceiling`` as an error message shows it.
    static let ceilingText = "1000000 per 1M tokens, so that no request's cost can overflow"

    /// A non-negative decimal amount, written as a string (`"0.14"`) or plain scalar, optionally
    /// followed by the currency code (`"0.14 USD"`), which must be the book's.
    static func parsePrice(_ node: ConfigNode, currency: String) throws -> Money {
        let text = try node.string().trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 1 || parts.count == 2 else {
            throw node.error("'\(text)' is not a price (write it like \"0.14\" or \"0.14 \(currency)\")")
        }
        if parts.count == 2, parts[1] != currency {
            if Money(decimal: String(parts[1]), currency: currency) != nil {
                throw node.error("'\(text)': write the amount before the currency, like \"\(parts[1]) \(currency)\"")
            }
            throw node.error("currency mismatch: price is in \(parts[1]) but the book is in \(currency)")
        }
        // Checked on the text: Money reads "-0" as zero, and a minus sign is a mistake whatever follows.
        guard !parts[0].hasPrefix("-") else { throw node.error("negative price \(parts[0])") }
        guard let money = Money(decimal: String(parts[0]), currency: currency) else {
            throw node.error("'\(parts[0])' is not a decimal amount (digits with at most 9 decimals, e.g. \"0.14\")")
        }
        return money
    }

    // MARK: - Windows and promotions

    static func parseWindow(_ node: ConfigNode, targets: [String: TargetPrices], currency: String) throws -> TimeWindow {
        let map = try node.mapping()
        try map.allowOnly(["id", "from", "until", "discount_percent", "prices", "targets", "models"])
        let id = try map.required("id").nonEmptyString()
        let fromNode = try map.required("from")
        let untilNode = try map.required("until")
        guard let from = TimeWindow.parseTimeOfDay(try fromNode.string(), allowEndOfDay: false) else {
            throw fromNode.error("bad time of day '\(try fromNode.string())' (UTC, HH:MM from 00:00 to 23:59)")
        }
        guard let until = TimeWindow.parseTimeOfDay(try untilNode.string(), allowEndOfDay: true) else {
            throw untilNode.error("bad time of day '\(try untilNode.string())' (UTC, HH:MM from 00:00 to 24:00)")
        }
        guard from != until % 1440 || (from == 0 && until == 1440) else {
            throw untilNode.error("time window '\(id)' is empty: from and until are equal (all day is 00:00 to 24:00)")
        }
        let changes = try parseChanges(map, what: "time window '\(id)'", targets: targets, currency: currency)
        return TimeWindow(id: id, fromMinute: from, untilMinute: until, changes: changes, line: node.line)
    }

    static func parsePromotion(_ node: ConfigNode, targets: [String: TargetPrices], currency: String) throws -> Promotion {
        let map = try node.mapping()
        try map.allowOnly(["id", "from", "until", "discount_percent", "prices", "targets", "models"])
        let id = try map.required("id").nonEmptyString()
        let from = try parseInstant(map.required("from"))
        var until: Date?
        if let untilNode = map.optional("until") {
            let end = try parseInstant(untilNode)
            guard end > from else { throw untilNode.error("promotion '\(id)' ends before it starts") }
            until = end
        }
        let changes = try parseChanges(map, what: "promotion '\(id)'", targets: targets, currency: currency)
        return Promotion(id: id, from: from, until: until, changes: changes, line: node.line)
    }

    /// Either `discount_percent` with `targets` (and optionally `models`), or `prices` naming
    /// target → model → meters to replace.
    static func parseChanges(
        _ map: ConfigMapping, what: String, targets: [String: TargetPrices], currency: String
    ) throws -> [TargetModel: PriceChange] {
        let discountNode = map.optional("discount_percent")
        let pricesNode = map.optional("prices")
        var changes: [TargetModel: PriceChange] = [:]
        switch (discountNode, pricesNode) {
        case (nil, nil):
            throw map.owner.error("\(what) needs discount_percent or prices")
        case (.some, .some):
            throw map.owner.error("\(what) has both discount_percent and prices; use one")
        case let (.some(discountNode), nil):
            let percent = try discountNode.int(in: 1...100)
            let targetsNode = try map.required("targets")
            let modelNodes = try map.optional("models")?.sequence()
            for targetNode in try targetsNode.sequence() {
                let target = try targetNode.nonEmptyString()
                guard let prices = targets[target] else {
                    throw targetNode.error("\(what) names target '\(target)', which this version does not price")
                }
                var models = Array(prices.models.keys)
                if let modelNodes {
                    models = []
                    for modelNode in modelNodes {
                        let model = try modelNode.nonEmptyString()
                        guard targets.values.contains(where: { $0.models[model] != nil }) else {
                            throw modelNode.error("\(what) names model '\(model)', which this version does not price")
                        }
                        if prices.models[model] != nil { models.append(model) }
                    }
                }
                for model in models {
                    changes[TargetModel(target: target, model: model)] = .discount(percentOff: percent)
                }
            }
        case let (nil, .some(pricesNode)):
            if let stray = map.optional("targets") ?? map.optional("models") {
                throw stray.error("targets and models go with discount_percent; prices names its own targets")
            }
            for (target, targetNode) in try pricesNode.mapping().pairs {
                guard let prices = targets[target] else {
                    throw targetNode.error("\(what) names target '\(target)', which this version does not price")
                }
                for (model, modelNode) in try targetNode.mapping().pairs {
                    guard prices.models[model] != nil else {
                        throw modelNode.error("\(what) names model '\(model)', which target '\(target)' is not priced for")
                    }
                    let meters = try parseMeters(modelNode, currency: currency, requireAll: false)
                    changes[TargetModel(target: target, model: model)] = .set(meters)
                }
            }
        }
        guard !changes.isEmpty else { throw map.owner.error("\(what) changes no price") }
        return changes
    }

    // MARK: - Scalars

    /// An ISO 8601 time in UTC, e.g. `2026-09-01T00:00:00Z` (fractional seconds allowed), read
    /// strictly: a day that does not exist is refused, not rolled over into the next month.
    static func parseInstant(_ node: ConfigNode) throws -> Date {
        let text = try node.string()
        do {
            return try ISOTime.parse(text)
        } catch {
            throw node.error(error.reason)
        }
    }

    static func parseExpectedOutput(_ node: ConfigNode) throws -> [String: ExpectedOutputTokens] {
        var result: [String: ExpectedOutputTokens] = [:]
        for (model, modelNode) in try node.mapping().pairs {
            let map = try modelNode.mapping()
            try map.allowOnly(["thinking", "chat"])
            let range = 1...100_000_000
            result[model] = ExpectedOutputTokens(
                thinking: try map.required("thinking").int(in: range), chat: try map.required("chat").int(in: range))
        }
        return result
    }
}
