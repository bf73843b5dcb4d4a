/// How many output tokens to expect from a model when the request sets no `max_tokens`.
public struct ExpectedOutputTokens: Hashable, Sendable {
    /// With thinking on (the DeepSeek V4 default): reasoning plus answer.
    public let thinking: Int
    /// With thinking off (chat mode).
    public let chat: Int

    public init(thinking: Int, chat: Int) {
        self.thinking = thinking
        self.chat = chat
    }

    public func tokens(thinking isThinking: Bool) -> Int { isThinking ? thinking : chat }
}
