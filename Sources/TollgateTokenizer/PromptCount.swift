/// The prompt-token count of a request, and whether it is exact.
///
/// `exact` means the prompt was laid out exactly as DeepSeek V4's encoder lays it out and
/// tokenized exactly; otherwise `estimateReasons` says what was approximated. The ledger can store
/// this next to the engine-reported usage to measure the error of estimates.
public struct PromptCount: Sendable, Equatable, Codable {
    public var tokens: Int
    public var exact: Bool
    /// Why the count is an estimate (empty when exact). Stable short phrases, no request text.
    public var estimateReasons: [String]
    /// The tokens of the longest single prompt: `tokens`, except for a batch of `/v1/completions`
    /// prompts, where `tokens` is their sum and each prompt must fit a context on its own.
    public var longestPrompt: Int

    public init(tokens: Int, exact: Bool, estimateReasons: [String] = [], longestPrompt: Int? = nil) {
        self.tokens = tokens
        self.exact = exact
        self.estimateReasons = estimateReasons
        self.longestPrompt = longestPrompt ?? tokens
    }
}
