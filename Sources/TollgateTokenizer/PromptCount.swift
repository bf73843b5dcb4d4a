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

    public init(tokens: Int, exact: Bool, estimateReasons: [String] = []) {
        self.tokens = tokens
        self.exact = exact
        self.estimateReasons = estimateReasons
    }
}
