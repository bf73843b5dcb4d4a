import TollgateRouting
import TollgateTokenizer
import TollgateWire

/// Which candidate targets can hold a request's prompt and its answer in their context
/// (`max_model_len`), decided from Tollgate's own exact count before anything is sent.
///
/// A target too small for the request is skipped, so a long conversation goes to the target that
/// can take it instead of failing at the first one. When none can, the request is refused with the
/// engine's own error (400 `context_length_exceeded`), before any budget is reserved.
///
/// Only exact counts decide: an estimated layout (an image part, a FIM suffix) could be a few
/// tokens off and refuse a request that fits, so those go to the engine, which decides for
/// itself. Each prompt of a batched completions request must fit on its own: the longest decides.
enum ContextFit {
    /// Only `fitting` hold the request, in their order; `skipped` do not.
    case narrowed(fitting: [Target], skipped: [Target])
    /// None holds it: the answer to send.
    case refused(GatewayError)

    /// Tokens a request takes of a target's context: the prompt and `max_tokens`, or without
    /// `max_tokens` the prompt and at least one token of answer (as vLLM checks a chat; for a
    /// completion vLLM assumes `max_tokens` 16 and may refuse up to 15 tokens earlier, and then
    /// its refusal moves the request on).
    static func requiredTokens(prompt: Int, maxTokens: Int?) -> Int {
        let (sum, overflow) = prompt.addingReportingOverflow(maxTokens ?? 1)
        return overflow ? Int.max : sum
    }

    /// Nil when every candidate holds the request, the case of almost every request: then
    /// nothing is copied, and the work is a comparison per candidate.
    static func check(_ candidates: [Target], prompt: PromptCount, request: InferenceRequest) -> ContextFit? {
        guard prompt.exact else { return nil }
        let required = requiredTokens(prompt: prompt.longestPrompt, maxTokens: request.maxTokens)
        for index in candidates.indices where (candidates[index].maxModelLen ?? .max) < required {
            return narrowing(candidates, required: required, prompt: prompt.longestPrompt, request: request)
        }
        return nil
    }

    /// Kept out of line: the code of the rare case stays out of the common one's way.
    @inline(never)
    private static func narrowing(_ candidates: [Target], required: Int, prompt: Int, request: InferenceRequest) -> ContextFit {
        let fitting = candidates.filter { $0.holds(tokens: required) }
        if !fitting.isEmpty { return .narrowed(fitting: fitting, skipped: candidates.filter { !$0.holds(tokens: required) }) }
        let largest = candidates.compactMap(\.maxModelLen).max() ?? 0
        let message = message(limit: largest, prompt: prompt, maxTokens: request.maxTokens)
        return .refused(.contextLengthExceeded(message, param: request.endpoint.promptParam))
    }

    /// vLLM's wording, so clients that read it keep working whichever side refused.
    static func message(limit: Int, prompt: Int, maxTokens: Int?) -> String {
        guard let maxTokens else {
            return "This model's maximum context length is \(limit) tokens. However, your messages resulted in "
                + "\(prompt) tokens. Please reduce the length of the messages."
        }
        return "This model's maximum context length is \(limit) tokens. However, you requested "
            + "\(requiredTokens(prompt: prompt, maxTokens: maxTokens)) tokens (\(prompt) in the messages, "
            + "\(maxTokens) in the completion). Please reduce the length of the messages or completion."
    }
}
