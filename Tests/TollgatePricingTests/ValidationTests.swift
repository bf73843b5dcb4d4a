import Foundation
import Testing
import TollgateConfig
@testable import TollgatePricing

@Suite("A bad price book is refused with file, line and reason")
struct ValidationTests {
    /// Applies `old → new` to the sample book and expects a refusal on the line holding `new`'s
    /// first line (or `marker`), whose reason contains `reason`.
    func expectRefusal(
        _ old: String, _ new: String, reason: String, marker: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let text = try mutated(old, new)
        let expectedLine = try line(of: marker ?? String(new.split(separator: "\n")[0]), in: text)
        let error = try #require(refusal(text), "the book loaded", sourceLocation: sourceLocation)
        #expect(error.file == "prices-test.yaml", sourceLocation: sourceLocation)
        #expect(error.line == expectedLine, "\(error)", sourceLocation: sourceLocation)
        #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix("prices-test.yaml:\(expectedLine): "), sourceLocation: sourceLocation)
    }

    @Test func sampleLoads() throws {
        #expect(refusal(sampleBook) == nil)
    }

    @Test func unknownMeter() throws {
        try expectRefusal(
            #"flash: {input_cache_hit: "0.0028""#, #"flash: {input_cache_hits: "0.0028""#,
            reason: "unknown meter 'input_cache_hits'")
        try expectRefusal(
            #"pro: {output: "0.87"}"#, #"pro: {reasoning: "0.87"}"#,
            reason: "reasoning tokens bill as output")
    }

    @Test func missingMeter() throws {
        try expectRefusal(
            #"flash: {input_cache_hit: "0.0028", "#, #"flash: {"#, reason: "missing meter 'input_cache_hit'",
            marker: "flash: {input_cache_miss")
    }

    @Test func negativePrice() throws {
        try expectRefusal(#"input_cache_miss: "0.14""#, #"input_cache_miss: "-0.14""#, reason: "negative price")
        try expectRefusal(#"input_cache_miss: "0.14""#, #"input_cache_miss: "-0""#, reason: "negative price -0")
        let poolTail = "\n            gpus: 8\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows"
        try expectRefusal(
            "gpu_cost_per_hour: \"2.00\"" + poolTail, "gpu_cost_per_hour: \"-2.00\"" + poolTail, reason: "negative price")
    }

    @Test func aPriceAboveTheCeilingIsRefused() throws {
        try expectRefusal(#"output: "0.28"}"#, #"output: "1000000.000000001"}"#, reason: "above the most a meter may cost")
        // A local pool whose figures derive a rate above the ceiling (10^9 per GPU hour, eight
        // GPUs, one output token a second): refused where the pool's figures start.
        let poolTail = "\n            gpus: 8\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows"
        let dearTail = "\n            gpus: 8\n            tokens_per_second: {input: 1000000000, output: 1}\n    time_windows"
        let text = try mutated("gpu_cost_per_hour: \"2.00\"" + poolTail, "gpu_cost_per_hour: \"1000000000\"" + dearTail)
        let error = try #require(refusal(text))
        #expect(error.line == (try line(of: "1000000000", in: text)), "\(error)")
        #expect(error.reason.contains("these figures price output above"), "\(error)")
        #expect(error.reason.contains("above the most a meter may cost"), "\(error)")
        // Exactly at the ceiling loads.
        #expect(refusal(try mutated(#"output: "0.28"}"#, #"output: "1000000"}"#)) == nil)
    }

    @Test func notADecimal() throws {
        try expectRefusal(#"output: "0.28"}"#, #"output: 2.8e-1}"#, reason: "is not a decimal amount")
        try expectRefusal(#"output: "0.28"}"#, #"output: "0.0000000001"}"#, reason: "is not a decimal amount")
    }

    @Test func currencyMismatch() throws {
        try expectRefusal(#"output: "0.28"}"#, #"output: "0.28 EUR"}"#, reason: "currency mismatch")
        try expectRefusal(
            #"output: "0.28"}"#, #"output: "USD 0.28"}"#, reason: #"write the amount before the currency, like "0.28 USD""#)
        try expectRefusal("currency: USD", "currency: usd", reason: "three-letter code")
    }

    @Test func priceWithMatchingCurrencyLoads() throws {
        let text = try mutated(#"output: "0.28"}"#, #"output: "0.28 USD"}"#)
        #expect(refusal(text) == nil)
    }

    @Test func overlappingVersions() throws {
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "2026-01-01T00:00:00Z" # v2"#,
            reason: "overlaps version 'v1'", marker: "# v2")
    }

    @Test func versionsOutOfOrder() throws {
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "2025-06-01T12:00:00Z""#,
            reason: "out of order")
    }

    @Test func duplicateVersionID() throws {
        try expectRefusal("  - id: v2", "  - id: v1 # again", reason: "already used", marker: "# again")
    }

    @Test func badTimestamp() throws {
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "2026-06-01T12:00:00+02:00""#,
            reason: "not an ISO 8601 UTC time")
        // Foundation's parser would roll these over to another day; the book would then change
        // prices on a date nobody wrote.
        try expectRefusal(
            #"until: "2026-03-01T00:00:00Z""#, #"until: "2026-02-30T00:00:00Z""#, reason: "2026-02 has 28 days")
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "2026-06-01T24:00:00Z""#,
            reason: "24:00:00 is not a time of day")
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "12026-06-01T12:00:00Z""#,
            reason: "not an ISO 8601 UTC time")
        try expectRefusal(
            #"effective_from: "2026-06-01T12:00:00Z""#, #"effective_from: "2026-06-01T12:00:00ZZ""#,
            reason: "not an ISO 8601 UTC time")
    }

    @Test func badTimeWindows() throws {
        try expectRefusal(#"from: "16:30""#, #"from: "25:30""#, reason: "bad time of day '25:30'")
        try expectRefusal(#"from: "16:30""#, #"from: "24:00""#, reason: "bad time of day '24:00'")
        try expectRefusal(#"until: "00:30""#, #"until: "16:30""#, reason: "is empty")
        try expectRefusal(#"until: "00:30""#, #"until: "0:30""#, reason: "bad time of day")
        try expectRefusal("discount_percent: 50", "discount_percent: 150", reason: "not in 1...100")
        try expectRefusal("models: [flash]", "models: [llama]", reason: "model 'llama'")
        try expectRefusal("targets: [api]", "targets: [apj]", reason: "target 'apj'")
    }

    @Test func overlappingWindows() throws {
        try expectRefusal(
            "        discount_percent: 50\n",
            """
                    discount_percent: 50
                  - id: evening
                    from: "22:00"
                    until: "23:00"
                    targets: [api]
                    discount_percent: 10

            """,
            reason: "time window 'evening' overlaps 'off-peak'", marker: "- id: evening")
    }

    @Test func windowsForDifferentModelsMayOverlap() throws {
        let text = try mutated(
            "        discount_percent: 50\n",
            """
                    discount_percent: 50
                  - id: pro-evening
                    from: "22:00"
                    until: "23:00"
                    targets: [api]
                    models: [pro]
                    discount_percent: 10

            """)
        #expect(refusal(text) == nil)
    }

    @Test func promotionErrors() throws {
        try expectRefusal(
            #"until: "2026-03-01T00:00:00Z""#, #"until: "2026-01-01T00:00:00Z""#, reason: "ends before it starts")
        try expectRefusal(
            "    prices:\n          api:\n            pro:",
            "    discount_percent: 10\n        prices:\n          api:\n            pro:",
            reason: "has both discount_percent and prices", marker: "- id: pro-promo")
        try expectRefusal(
            #"pro: {output: "0.87"}"#, #"llama: {output: "0.87"}"#, reason: "names model 'llama'")
    }

    @Test func overlappingPromotions() throws {
        try expectRefusal(
            "    promotions:\n",
            """
                promotions:
                  - id: early
                    from: "2026-01-15T00:00:00Z"
                    until: "2026-02-02T00:00:00Z"
                    targets: [api]
                    models: [pro]
                    discount_percent: 75

            """,
            reason: "promotion 'pro-promo' overlaps 'early'", marker: "- id: pro-promo")
    }

    @Test func unknownKeys() throws {
        try expectRefusal(
            "    effective_from: \"2026-06-01T12:00:00Z\"",
            "    effective_from: \"2026-06-01T12:00:00Z\"\n    effective_until: \"2027-01-01T00:00:00Z\"",
            reason: "unknown key 'effective_until'", marker: "effective_until")
        try expectRefusal("list_price_target: api", "list_price_targets: api", reason: "unknown key 'list_price_targets'")
        try expectRefusal(
            "gpus: 8\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows",
            "gpu: 8\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows",
            reason: "unknown key 'gpu'")
    }

    @Test func listPriceTargetMustBeUpstream() throws {
        try expectRefusal("list_price_target: api", "list_price_target: pool", reason: "must be an upstream target")
        try expectRefusal("list_price_target: api", "list_price_target: nowhere", reason: "has no prices in version 'v1'")
    }

    @Test func badYAMLNamesItsLine() throws {
        let text = try mutated("  flash: {thinking: 4000, chat: 1000}", "  flash: {thinking: 4000, chat: 1000")
        let error = try #require(refusal(text))
        #expect(error.line > 0)
        #expect(error.reason.contains("invalid YAML"))
    }

    /// Errors libyaml finds outside its parser (a key twice in one mapping, a byte it cannot
    /// read) name a line too.
    @Test func aDuplicateKeyOrAnUnreadableByteNamesItsLine() throws {
        let duplicate = try mutated("list_price_target: api", "list_price_target: api\ncurrency: EUR")
        let twice = try #require(refusal(duplicate))
        #expect(twice.line == 1, "\(twice)")  // the top-level mapping
        #expect(twice.reason == "invalid YAML: the mapping that starts here has the key 'currency' more than once", "\(twice)")

        let nested = try mutated("  flash: {thinking: 4000, chat: 1000}", "  flash: {thinking: 4000, thinking: 1000}")
        let inFlow = try #require(refusal(nested))
        #expect(inFlow.line == (try line(of: "  flash: {thinking: 4000, thinking", in: nested)), "\(inFlow)")
        #expect(inFlow.reason.contains("'thinking' more than once"), "\(inFlow)")

        let control = try mutated("list_price_target: api", "list_price_target: api\u{7}")
        let unreadable = try #require(refusal(control))
        #expect(unreadable.line == (try line(of: "list_price_target: api", in: control)), "\(unreadable)")
        #expect(unreadable.reason.contains("invalid YAML"), "\(unreadable)")
    }

    @Test("validate(targets:) refuses a target serving a model without a price")
    func targetWithoutPrice() throws {
        let book = try parseBook()
        try book.validate(targets: [(target: "api", models: ["flash", "pro"]), (target: "pool", models: ["flash"])])

        let missingModel = try #require(throwsConfigError { try book.validate(targets: [(target: "pool", models: ["flash", "pro"])]) })
        // The first version's pool block (its first key, `kind: local`).
        let poolLine = try line(of: "kind: local", in: sampleBook)
        #expect(missingModel.line == poolLine, "\(missingModel)")
        #expect(missingModel.reason.contains("target 'pool' serves 'pro' but has no price for it"))

        let missingTarget = try #require(throwsConfigError { try book.validate(targets: [(target: "pro-pool", models: ["pro"])]) })
        #expect(missingTarget.line == (try line(of: "- id: v1", in: sampleBook)))
        #expect(missingTarget.reason.contains("no prices for target 'pro-pool'"))

        let noDefault = try mutated("  pro: {thinking: 8000, chat: 2000}\n", "")
        let noDefaultBook = try parseBook(noDefault)
        let missingDefault = try #require(throwsConfigError { try noDefaultBook.validate(targets: [(target: "api", models: ["pro"])]) })
        #expect(missingDefault.reason.contains("expected_output_tokens has no default for model 'pro'"))
        #expect(missingDefault.line == (try line(of: "flash: {thinking", in: noDefault)))
    }

    func throwsConfigError(_ body: () throws -> Void) -> ConfigError? {
        do {
            try body()
            return nil
        } catch {
            return error as? ConfigError
        }
    }

    /// A reload may add versions and change ones still to come, but a version that has been in
    /// force keeps its prices, its start and its place: the ledger names it on every request it
    /// priced. Where the file writes it, and its comments, may change.
    @Test func aReloadKeepsEveryVersionThatHasBeenInForce() throws {
        let running = try parseBook()
        let betweenVersions = try utc("2026-03-15T00:00:00Z")  // v1 in force, v2 still to come
        func reloadRefusal(_ text: String, at date: Date) throws -> ConfigError? {
            do {
                try parseBook(text).validate(replacing: running, at: date)
                return nil
            } catch let error as ConfigError {
                return error
            }
        }

        // v2 has not started: it may change. Moved and commented, v1 is the same version.
        let v2Changed = try mutated(#"flash: {input_cache_hit: "0.003", input_cache_miss: "0.15", output: "0.30"}"#, #"flash: {input_cache_hit: "0.003", input_cache_miss: "0.15", output: "0.31"}"#)
        #expect(try reloadRefusal(v2Changed, at: betweenVersions) == nil)
        #expect(try reloadRefusal("# comment\n\n" + sampleBook, at: betweenVersions) == nil)

        // Once v2 is in force, the same edit is refused on its line.
        let v2Started = try utc("2026-06-01T12:00:00Z")
        let changed = try #require(try reloadRefusal(v2Changed, at: v2Started))
        #expect(changed.line == (try line(of: "- id: v2", in: v2Changed)))
        #expect(changed.reason.contains("version 'v2' differs from the running one: it has priced requests since 2026-06-01T12:00:00Z"), "\(changed)")

        // A past version's rates, start, windows and promotions are all part of it.
        for (old, new) in [
            (#"output: "0.28"}"#, #"output: "0.29"}"#),
            (#"effective_from: "2026-01-01T00:00:00Z""#, #"effective_from: "2025-12-01T00:00:00Z""#),
            ("discount_percent: 50", "discount_percent: 40"),
            (#"until: "2026-03-01T00:00:00Z""#, #"until: "2026-04-01T00:00:00Z""#),
            ("gpus: 8\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows", "gpus: 9\n            tokens_per_second: {input: 50000, output: 1600}\n    time_windows"),
        ] {
            let text = try mutated(old, new)
            let error = try #require(try reloadRefusal(text, at: betweenVersions), "\(new)")
            #expect(error.reason.contains("version 'v1' differs"), "\(error)")
        }

        // Dropped, it is missing; the refusal names the version that took its place.
        let dropped = sampleBook.replacingOccurrences(of: "- id: v1", with: "- id: v0")
        let missing = try #require(try reloadRefusal(dropped, at: betweenVersions))
        #expect(missing.reason.contains("version 'v1' is missing: it has priced requests since 2026-01-01T00:00:00Z"), "\(missing)")
        #expect(missing.line == (try line(of: "- id: v0", in: dropped)))

        // Another currency is refused first.
        let euros = try #require(try reloadRefusal(sampleBook.replacingOccurrences(of: "currency: USD", with: "currency: EUR"), at: betweenVersions))
        #expect(euros.reason.contains("currency is EUR but the running book's is USD"))
    }
}
