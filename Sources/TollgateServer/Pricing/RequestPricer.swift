import Foundation
import NIOCore
import TollgateMoney
import TollgatePricing
import TollgateRouting
import TollgateTokenizer
import TollgateWire

/// Prices requests: counts the prompt exactly as DeepSeek V4 lays it out, estimates the cost on a
/// target before sending, and turns the final usage into the actual cost and the API list price.
final class RequestPricer: Sendable {
    let estimator: CostEstimator
    private let counter: ChatPromptCounter
    /// Counts of the long texts (system prompts, histories) each team sends again and again; nil
    /// when the configuration turns the table off.
    let repeatedTexts: RepeatedTextCounts?

    /// Bodies up to this size are counted on the event loop (a few microseconds); larger prompts
    /// are counted on the thread pool so a 1M-token prompt never stalls other connections.
    static let inlineCountLimit = 32 * 1024

    init(book: PriceBook, tokenizer: DeepSeekTokenizer, repeatedTextSlots: Int) {
        self.estimator = CostEstimator(book: book)
        self.counter = ChatPromptCounter(tokenizer: tokenizer)
        self.repeatedTexts = repeatedTextSlots > 0 ? RepeatedTextCounts(slots: repeatedTextSlots) : nil
    }

    private init(estimator: CostEstimator, counter: ChatPromptCounter, repeatedTexts: RepeatedTextCounts?) {
        self.estimator = estimator
        self.counter = counter
        self.repeatedTexts = repeatedTexts
    }

    /// A pricer for a reloaded `book`: prices change, counts do not, so the tokenizer and the
    /// table of repeated texts are shared.
    func replacingBook(with book: PriceBook) -> RequestPricer {
        RequestPricer(estimator: CostEstimator(book: book), counter: counter, repeatedTexts: repeatedTexts)
    }

    var currency: String { estimator.book.currency }

    /// The prompt's token count, or nil when the body cannot be laid out (the engine will judge it).
    /// A plain chat is counted from the turns `request`'s parse recorded in `body`; long texts
    /// `team` sent before are looked up rather than counted again.
    func countPrompt(_ body: ByteBuffer, request: InferenceRequest, team: String) -> PromptCount? {
        body.withUnsafeReadableBytes { bytes -> PromptCount? in
            switch request.endpoint {
            case .chat:
                // A body this short holds no text worth looking up: short requests skip the table.
                let repeats = repeatedTexts.flatMap { bytes.count >= $0.minimumBytes ? $0.scoped(team) : nil }
                return try? counter.countChat(parsed: request, body: bytes, repeats: repeats)
            case .completions:
                guard let request = try? JSONValue.parse(bytes) else { return nil }
                return try? counter.countCompletion(request: request)
            }
        }
    }

    /// Counts tokens of generated text (for engines that report no usage).
    func countText(_ text: String) -> Int {
        counter.tokenizer.count(text)
    }

    func estimate(target: Target, request: InferenceRequest, promptTokens: Int, at date: Date) -> PricedCost? {
        estimator.rates(target: target.name, model: request.model, at: date).flatMap {
            estimate(at: $0, request: request, promptTokens: promptTokens)
        }
    }

    /// The rates for `model` on `target` at the request's start, looked up once per attempt and
    /// used for both its estimate and its bill.
    func rates(target: Target, model: String, at date: Date) -> AppliedRates? {
        estimator.rates(target: target.name, model: model, at: date)
    }

    func estimate(at rates: AppliedRates, request: InferenceRequest, promptTokens: Int) -> PricedCost? {
        estimator.estimate(
            at: rates, model: request.model, promptTokens: promptTokens, maxTokens: request.maxTokens,
            thinking: request.thinking, choices: request.choices)
    }

    /// The bill of a finished request: the usage as billed, its cost at `rates` (those of the
    /// target that served it) and, when `withListPrice` (only the ledger reads it), what the API
    /// would have charged at list price.
    func settle(rates: AppliedRates?, model: String, usage: MeteredUsage, at date: Date, withListPrice: Bool) -> Settlement {
        Settlement(
            usage: usage,
            cost: rates.map { cost(of: usage, at: $0) },
            listPrice: withListPrice ? estimator.listPrice(model: model, usage: usage, at: date) : nil)
    }

    /// What `usage` costs at `rates` (those of the target that served it).
    func cost(of usage: MeteredUsage, at rates: AppliedRates) -> PricedCost {
        estimator.price(usage.billedTokens, at: rates)
    }
}

/// What one request cost. A class, made once per request: passing it along is one reference
/// count, where a value would be copied field by field (and the copying code is more code to run
/// cold on every request than the allocation: `bench/footprint/run.sh`).
final class Settlement: Sendable {
    let usage: MeteredUsage
    let cost: PricedCost?
    let listPrice: PricedCost?

    init(usage: MeteredUsage, cost: PricedCost?, listPrice: PricedCost?) {
        self.usage = usage
        self.cost = cost
        self.listPrice = listPrice
    }
}

extension MeteredUsage {
    /// Usage as an engine reported it.
    init(_ reported: TokenUsage) {
        self.init(
            promptTokens: reported.promptTokens, cacheHitTokens: reported.cacheHitTokens ?? 0,
            completionTokens: reported.completionTokens, reasoningTokens: reported.reasoningTokens ?? 0,
            estimated: false)
    }
}
