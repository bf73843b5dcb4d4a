import Foundation
import Testing
import TollgateConfig
@testable import TollgatePricing

/// A small price book used across the suites: an upstream `api` target (flash and pro), a local
/// `pool` for flash, an off-peak window crossing midnight, a Pro promotion, and a second version.
let sampleBook = """
    currency: USD
    list_price_target: api
    expected_output_tokens:
      flash: {thinking: 4000, chat: 1000}
      pro: {thinking: 8000, chat: 2000}
    versions:
      - id: v1
        effective_from: "2026-01-01T00:00:00Z"
        targets:
          api:
            kind: upstream
            models:
              flash: {input_cache_hit: "0.0028", input_cache_miss: "0.14", output: "0.28"}
              pro: {input_cache_hit: "0.0145", input_cache_miss: "1.74", output: "3.48"}
          pool:
            kind: local
            models:
              flash:
                gpu_cost_per_hour: "2.00"
                gpus: 8
                tokens_per_second: {input: 50000, output: 1600}
        time_windows:
          - id: off-peak
            from: "16:30"
            until: "00:30"
            targets: [api]
            models: [flash]
            discount_percent: 50
        promotions:
          - id: pro-promo
            from: "2026-02-01T00:00:00Z"
            until: "2026-03-01T00:00:00Z"
            prices:
              api:
                pro: {output: "0.87"}
      - id: v2
        effective_from: "2026-06-01T12:00:00Z"
        targets:
          api:
            kind: upstream
            models:
              flash: {input_cache_hit: "0.003", input_cache_miss: "0.15", output: "0.30"}
              pro: {input_cache_hit: "0.0145", input_cache_miss: "1.74", output: "3.48"}
          pool:
            kind: local
            models:
              flash:
                gpu_cost_per_hour: "2.00"
                gpus: 8
                tokens_per_second: {input: 50000, output: 1600}
    """

func parseBook(_ text: String = sampleBook) throws -> PriceBook {
    try PriceBook.parse(text: text, file: "prices-test.yaml")
}

/// A UTC instant from ISO 8601 text.
func utc(_ text: String) throws -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return try #require(formatter.date(from: text), "bad test date \(text)")
}

/// The 1-based line of the first line containing `marker`, so tests name lines without counting.
func line(of marker: String, in text: String) throws -> Int {
    let lines = text.components(separatedBy: "\n")
    let index = try #require(lines.firstIndex { $0.contains(marker) }, "marker '\(marker)' not in text")
    return index + 1
}

/// The refusal `text` gets at load (or nil if it loads).
func refusal(_ text: String) -> ConfigError? {
    do {
        _ = try parseBook(text)
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// Replaces the only occurrence of `old` in the sample book (fails the test if not exactly one).
func mutated(_ old: String, _ new: String, in text: String = sampleBook) throws -> String {
    try #require(text.components(separatedBy: old).count == 2, "'\(old)' must occur exactly once")
    return text.replacingOccurrences(of: old, with: new)
}
