import ArgumentParser
import Foundation
import TollgateConfig
import TollgatePricing
import TollgateTokenizer
import TollgateWire

/// `tollgate price --chat` (or `--completion`): what a request would cost on every target in the
/// price book.
///
/// Counts the prompt as DeepSeek V4 lays it out (a completion's prompt as given, summed over a
/// batch), takes the output from `--max-tokens`, the request's `max_completion_tokens`/`max_tokens`,
/// or the book's default for the model and mode (times the request's `n`, and a batch's prompts),
/// and prints one estimate per model per target (docs/PRICING.md).
/// The request is read by the gateway's own parser: what the gateway refuses, this refuses.
struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "price",
        abstract: "Estimate what a chat or completions request costs on every target in the price book.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    @Flag(help: "The input is an OpenAI chat completion request (JSON).")
    var chat = false

    @Flag(help: "The input is a /v1/completions request (JSON): its prompt, or batch of prompts, and FIM suffix.")
    var completion = false

    @Option(help: "Read the request from this file instead of standard input.")
    var file: String?

    @Option(help: "The price book (default: policies/prices.yaml in the current folder or in $TOLLGATE_HOME).")
    var prices: String?

    @Option(name: .customLong("max-tokens"), help: "Expected output tokens (overrides the request's max_tokens).")
    var maxTokens: Int?

    @Option(name: .customLong("cache-hit-tokens"), help: "Prompt tokens predicted to be cache hits.")
    var cacheHitTokens = 0

    @Option(help: "Price as of this time (ISO 8601 UTC, e.g. 2026-11-01T17:00:00Z) instead of now.")
    var at: String?

    @Option(help: "table or json.")
    var format: OutputFormat = .table

    func validate() throws {
        guard chat != completion else {
            throw ValidationError("pass --chat for a chat completion request or --completion for a /v1/completions one")
        }
        if let maxTokens, !(0...TokenUsage.maxCount).contains(maxTokens) {
            throw ValidationError("--max-tokens must be from 0 to \(TokenUsage.maxCount)")
        }
        guard cacheHitTokens >= 0 else { throw ValidationError("--cache-hit-tokens must not be negative") }
    }

    func run() async throws {
        let bookPath = try prices ?? RepositoryFile.locate("policies/prices.yaml")
        let book = try PriceBook.load(path: bookPath)
        let date = try at.map(Self.parseDate) ?? Date()
        let body = Array(try readCommandInput(file: file))
        // The fields the gateway reads (model, max_tokens, n, thinking), by its own parser.
        let endpoint: InferenceEndpoint = chat ? .chat : .completions
        let routed: InferenceRequest
        do {
            routed = try body.withUnsafeBytes { try InferenceRequest.parse($0, endpoint: endpoint) }
        } catch let error as GatewayError {
            throw InputError(message: "the gateway would refuse this request: \(error.message)")
        }
        let count = try ChatPromptCounter(tokenizer: try DeepSeekTokenizer.shared).countRequest(body, chat: chat)
        let thinking = routed.thinking
        let requested = maxTokens ?? routed.maxTokens
        let estimator = CostEstimator(book: book)
        let rows = estimator.estimateAll(
            promptTokens: count.tokens, maxTokens: requested, thinking: thinking, choices: routed.choices,
            predictedCacheHitTokens: cacheHitTokens, at: date)
        let version = book.version(at: date)
        switch format {
        case .table:
            try writeCommandOutput(
                Self.table(
                    rows: rows, book: book, version: version.id, file: bookPath, date: date, count: count,
                    thinking: thinking, requestedMaxTokens: requested, choices: routed.choices,
                    requestModel: routed.model, endpoint: endpoint) + "\n")
        case .json:
            try writeCommandOutput(
                try Self.json(
                    rows: rows, book: book, version: version.id, date: date, count: count, thinking: thinking,
                    requestModel: routed.model) + "\n")
        }
    }

    // MARK: - Request fields

    static func parseDate(_ text: String) throws -> Date {
        do {
            return try ISOTime.parse(text)
        } catch {
            throw InputError(message: "--at: \(error.reason)")
        }
    }

    static func isoString(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    // MARK: - Output

    static func table(
        rows: [TargetEstimate], book: PriceBook, version: String, file: String, date: Date, count: PromptCount,
        thinking: Bool, requestedMaxTokens: Int?, choices: Int, requestModel: String?, endpoint: InferenceEndpoint
    ) -> String {
        var lines: [String] = []
        lines.append("prices   \(file), version \(version), \(book.currency), at \(isoString(date))")
        let exactness = count.exact ? "exact" : "estimated: " + count.estimateReasons.joined(separator: "; ")
        func tokens(_ n: Int) -> String { n == 1 ? "1 token" : "\(n) tokens" }
        lines.append("prompt   \(tokens(count.tokens)) (\(exactness)), \(thinking ? "thinking" : "chat") mode")
        lines.append(
            "output   "
                + (requestedMaxTokens.map { "\(tokens($0)) (max_tokens)" }
                    ?? "book default per model (\(thinking ? "thinking" : "chat"))")
                + (choices > 1 ? " for each of \(choices) choices (\(endpoint == .chat ? "n" : "n × prompts"))" : ""))
        lines.append("")
        let header = ["target", "kind", "model", "prompt", "cache hit", "output", "estimate (\(book.currency))", "note"]
        var cells: [[String]] = [header]
        for row in rows {
            var notes: [String] = []
            if row.model == requestModel { notes.append("requested model") }
            if let window = row.cost.window { notes.append("window \(window)") }
            if let promotion = row.cost.promotion { notes.append("promotion \(promotion)") }
            cells.append([
                row.target, row.kind.rawValue, row.model, String(row.promptTokens), String(row.cacheHitTokens),
                String(row.outputTokens), row.cost.money.decimalString, notes.joined(separator: ", "),
            ])
        }
        let numeric: Set<Int> = [3, 4, 5, 6]
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        for row in cells {
            let padded = row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return numeric.contains(column) ? pad + cell : cell + pad
            }
            lines.append(padded.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        if rows.isEmpty { lines.append("(the book prices no target at this time)") }
        return lines.joined(separator: "\n")
    }

    struct JSONReport: Encodable {
        struct Row: Encodable {
            var target: String
            var kind: String
            var model: String
            var prompt_tokens: Int
            var cache_hit_tokens: Int
            var output_tokens: Int
            var cost: String
            var book_version: String
            var window: String?
            var promotion: String?
        }
        var currency: String
        var book_version: String
        var at: String
        var request_model: String?
        var prompt_tokens: Int
        var prompt_exact: Bool
        var prompt_estimate_reasons: [String]
        var thinking: Bool
        var estimates: [Row]
    }

    static func json(
        rows: [TargetEstimate], book: PriceBook, version: String, date: Date, count: PromptCount, thinking: Bool,
        requestModel: String?
    ) throws -> String {
        let report = JSONReport(
            currency: book.currency, book_version: version, at: isoString(date), request_model: requestModel,
            prompt_tokens: count.tokens, prompt_exact: count.exact, prompt_estimate_reasons: count.estimateReasons,
            thinking: thinking,
            estimates: rows.map {
                JSONReport.Row(
                    target: $0.target, kind: $0.kind.rawValue, model: $0.model, prompt_tokens: $0.promptTokens,
                    cache_hit_tokens: $0.cacheHitTokens, output_tokens: $0.outputTokens,
                    cost: $0.cost.money.decimalString, book_version: $0.cost.bookVersion, window: $0.cost.window,
                    promotion: $0.cost.promotion)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
