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

    /// Bodies up to this size are counted on the event loop (a few microseconds); larger prompts
    /// are counted on the thread pool so a 1M-token prompt never stalls other connections.
    static let inlineCountLimit = 32 * 1024

    init(book: PriceBook, tokenizer: DeepSeekTokenizer) {
        self.estimator = CostEstimator(book: book)
        self.counter = ChatPromptCounter(tokenizer: tokenizer)
    }

    var currency: String { estimator.book.currency }

    /// The prompt's token count, or nil when the body cannot be laid out (the engine will judge it).
    func countPrompt(_ body: ByteBuffer, endpoint: InferenceEndpoint) -> PromptCount? {
        body.withUnsafeReadableBytes { bytes -> PromptCount? in
            switch endpoint {
            case .chat:
                return try? counter.countChat(requestJSON: bytes)
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
        estimator.estimate(
            target: target.name, model: request.model, promptTokens: promptTokens, maxTokens: request.maxTokens,
            thinking: request.thinking, at: date)
    }

    /// The bill of a finished request: the usage as billed, its cost on the target that served it and
    /// what the API would have charged at list price.
    func settle(target: Target, model: String, usage: MeteredUsage, at date: Date) -> Settlement {
        Settlement(
            usage: usage,
            cost: estimator.actual(target: target.name, model: model, usage: usage, at: date),
            listPrice: estimator.listPrice(model: model, usage: usage, at: date))
    }
}

/// What one request cost.
struct Settlement: Sendable {
    var usage: MeteredUsage
    var cost: PricedCost?
    var listPrice: PricedCost?
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

/// Adds `"cost":"<decimal>"` to a usage object (OpenRouter's field), given the object's range.
func costSplice(usageRange: Range<Int>, cost: Money) -> Splice {
    let at = usageRange.upperBound - 1
    let separator = usageRange.count > 2 ? "," : ""
    return Splice(range: at..<at, replacement: Array(#"\#(separator)"cost":"\#(cost.decimalString)""#.utf8))
}
