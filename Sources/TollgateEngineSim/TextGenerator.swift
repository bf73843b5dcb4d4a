/// Deterministic stand-in text: one word per token, chosen by a seed and the token's position, so
/// equal requests get equal answers. Words are plain ASCII and need no JSON escaping, which lets
/// the writer append them straight into a JSON string.
enum TextGenerator {
    enum Kind {
        case content, reasoning
    }

    private static let contentVocabulary = [
        "the", "gateway", "routes", "each", "request", "to", "a", "pool", "of", "engines", "that", "serve",
        "model", "with", "low", "latency", "and", "cost", "tokens", "are", "counted", "before", "prices",
        "apply", "budgets", "hold", "across", "replicas", "while", "streams", "flow", "back", "cache", "hits",
        "make", "prompts", "cheaper", "queue", "grows", "when", "load", "rises", "so", "capacity", "matters",
        "every", "answer", "names", "its", "target", "simple", "fast", "clear", "steady", "reply", "plan",
        "for", "teams", "running", "long", "context", "windows", "on", "GPUs",
    ]
    private static let reasoningVocabulary = [
        "first", "consider", "what", "the", "user", "asks", "then", "check", "each", "step", "carefully",
        "so", "the", "answer", "should", "be", "short", "and", "correct", "maybe", "compare", "options",
        "weigh", "cost", "against", "speed", "note", "constraints", "recall", "facts", "verify", "result",
    ]

    /// Words with a leading space, capitalised words without one (sentence starts).
    private static let contentSpaced = contentVocabulary.map { Array(" \($0)".utf8) }
    private static let contentCapitalised = contentVocabulary.map { Array($0.prefix(1).uppercased().utf8) + Array($0.dropFirst().utf8) }
    private static let reasoningSpaced = reasoningVocabulary.map { Array(" \($0)".utf8) }
    private static let reasoningCapitalised = reasoningVocabulary.map { Array($0.prefix(1).uppercased().utf8) + Array($0.dropFirst().utf8) }

    /// Sentences are this many tokens long.
    static let sentenceLength = 12

    /// Appends the text of token `index` (of `count`) to `out`.
    @inline(__always)
    static func appendToken(_ kind: Kind, seed: UInt64, index: Int, count: Int, to out: inout [UInt8]) {
        let pick = Int(PromptHash.mix(seed, UInt64(truncatingIfNeeded: index)) >> 33)
        let position = index % sentenceLength
        switch kind {
        case .content:
            if index == 0 {
                out.append(contentsOf: contentCapitalised[pick % contentCapitalised.count])
            } else if position == 0 {
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: contentCapitalised[pick % contentCapitalised.count])
            } else {
                out.append(contentsOf: contentSpaced[pick % contentSpaced.count])
            }
        case .reasoning:
            if index == 0 {
                out.append(contentsOf: reasoningCapitalised[pick % reasoningCapitalised.count])
            } else if position == 0 {
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: reasoningCapitalised[pick % reasoningCapitalised.count])
            } else {
                out.append(contentsOf: reasoningSpaced[pick % reasoningSpaced.count])
            }
        }
        if position == sentenceLength - 1 || index == count - 1 { out.append(UInt8(ascii: ".")) }
    }

    /// The text of `count` tokens.
    static func appendText(_ kind: Kind, seed: UInt64, count: Int, to out: inout [UInt8]) {
        for index in 0..<count { appendToken(kind, seed: seed, index: index, count: count, to: &out) }
    }
}
