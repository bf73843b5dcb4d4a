import Foundation
import TollgatePricing
import TollgateTokenizer
import TollgateWire

/// What the gateway learns about one request on its way through, to bill it exactly once.
/// A class: it is filled in by the pipeline and then the exchange, on one event loop, and handing
/// one reference along is cheaper than copying a dozen optional fields.
final class RequestAccount {
    let startedAt: Date
    /// The pricer in force when the request arrived (nil without a price book): the request is
    /// counted, admitted, estimated and billed with this one even when a reload lands meanwhile.
    let pricer: RequestPricer?
    /// The prompt as Tollgate counted it before sending (nil without a price book).
    var prompt: PromptCount?
    /// The price-book rates of the target the request was sent to, at `startedAt`.
    var rates: AppliedRates?
    /// The estimated cost on the target the request was sent to.
    var estimate: PricedCost?
    /// Usage as the engine reported it.
    var reported: TokenUsage?
    /// Content events seen in a stream: about one token each; the count of last resort.
    var streamedEvents = 0
    /// Generated text and reasoning, kept only for engines that never report usage in streams
    /// (llama.cpp), or for an answer without a usage.
    var generatedText: String?
    var generatedReasoning: String?
    var settlement: Settlement?

    init(pricer: RequestPricer?, startedAt: Date = Date()) {
        self.pricer = pricer
        self.startedAt = startedAt
    }

    /// The usage to bill: the engine's when it reported one, else Tollgate's own count (prompt from
    /// the tokenizer, completion from the generated text or the streamed events), marked estimated.
    /// Its own count is at most `request`'s `max_tokens` times its choices: the text counted again,
    /// or events without a token (a stream's opening role), can come to more than the engine could
    /// have generated, and a client is never billed past its own limit. Reasoning is counted apart
    /// (it bills as output all the same) and is at most the completion.
    func usageToBill(pricer: RequestPricer, request: InferenceRequest) -> MeteredUsage {
        if let reported { return MeteredUsage(reported) }
        let reasoning = generatedReasoning.map(pricer.countText) ?? 0
        let counted = generatedText.map { pricer.countText($0) + reasoning } ?? streamedEvents
        let completion = request.maxTokens.map { min(counted, $0 * request.choices) } ?? counted
        return MeteredUsage(
            promptTokens: prompt?.tokens ?? 0, completionTokens: completion,
            reasoningTokens: min(reasoning, completion), estimated: true)
    }
}
