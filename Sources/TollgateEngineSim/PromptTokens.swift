import TollgateWire

/// A prefix of the prompt ending after one message, for the simulated prefix cache.
struct PromptPrefix: Equatable {
    var hash: UInt64
    var tokens: Int
}

/// A piece of the prompt for `/tokenize`: a special marker or a run of text in the body.
enum PromptSegment {
    case special(Int)
    case text(Range<Int>)
}

/// The simulator's prompt-token approximation, documented in docs/ENGINE_SIM.md:
/// text tokens = ceil(raw JSON string bytes / 4) per message, plus 4 per message for the role
/// markers, plus 3 for the frame (BOS, the assistant opener, `<think>` or `</think>`); tools add
/// ceil(raw `tools` JSON bytes / 4) + 4; in thinking mode the reasoning-effort preamble vLLM
/// 0.33.0 puts first (its exact length, ``effortPreambleTokens(_:)``). Completions: ceil(prompt
/// bytes / 4) + 1, plus 3 and the suffix's tokens with a FIM `suffix`. Integer token arrays count
/// one token each. Each prompt of a batch is counted on its own, with its own overhead.
struct PromptTokens {
    static let perMessage = 4
    static let chatFrame = 3
    static let toolsOverhead = 4
    /// Stand-in token ids of the markers, for `/tokenize` (DeepSeek V4's BOS is 0).
    static let bosID = 0
    static let markerID = 128_803

    let collectSegments: Bool
    private(set) var tokens = 0
    private(set) var prefixes: [PromptPrefix] = []
    private(set) var segments: [PromptSegment] = []
    private(set) var prefixHash: UInt64 = PromptHash.offsetBasis
    private var toolTokens = 0
    private var preambleTokens = 0
    private var toolsHash: UInt64?
    /// Completions: the text tokens of each prompt of the batch (one for a single prompt).
    private var completionPrompts: [Int] = []
    private var suffixTokens: Int?
    /// Completions: the tokens of the longest prompt, overhead included (the engine checks each
    /// prompt of a batch against the context on its own). Chat: the whole prompt.
    private(set) var longestPrompt = 0
    /// Completions: how many prompts the batch holds (each gets `n` choices).
    var promptCount: Int { max(1, completionPrompts.count) }

    init(collectSegments: Bool) {
        self.collectSegments = collectSegments
    }

    static func tokens(forBytes bytes: Int) -> Int { (bytes + 3) / 4 }

    /// Tokens of the effort preamble in thinking mode, by `reasoning_effort` (measured with the
    /// DeepSeek V4 tokenizer): the "high" text for no effort, `high` or any other string; the
    /// "max" text for `max`; nothing for `low`, `minimal`, `medium`.
    static func effortPreambleTokens(_ effort: String?) -> Int {
        switch effort {
        case "max": return 92
        case "low", "minimal", "medium": return 0
        default: return 79
        }
    }

    mutating func addEffortPreamble(tokens: Int) {
        preambleTokens = tokens
    }

    mutating func addText(_ range: Range<Int>) {
        if collectSegments { segments.append(.text(range)) }
    }

    mutating func addMessage(bytes: Int) {
        tokens += Self.tokens(forBytes: bytes) + Self.perMessage
        if collectSegments {
            for _ in 0..<Self.perMessage { segments.append(.special(Self.markerID)) }
        }
    }

    mutating func notePrefix(_ hash: UInt64) {
        prefixHash = hash
        prefixes.append(PromptPrefix(hash: hash, tokens: tokens))
    }

    /// A completions `prompt`: a string, a list of ids (one prompt), or a batch of strings or
    /// id lists.
    mutating func addCompletionPrompt(_ scanner: inout JSONScanner) throws {
        guard try scanner.peekKind() == .array else {
            return completionPrompts.append(Self.tokens(forBytes: try Self.textBytes(&scanner, segments: &self)))
        }
        var ids = 0
        var prompts: [Int] = []
        try scanner.walkArray { _, item in
            switch try item.peekKind() {
            case .number:
                try item.skipValue()
                ids += 1
            case .array:
                var count = 0
                try item.walkArray { _, id in
                    try id.skipValue()
                    count += 1
                }
                prompts.append(count)
            default:
                prompts.append(Self.tokens(forBytes: try Self.textBytes(&item, segments: &self)))
            }
        }
        if ids > 0 { prompts.append(ids) }
        completionPrompts += prompts
    }

    /// A FIM `suffix`; null means none.
    mutating func addSuffix(_ scanner: inout JSONScanner) throws {
        guard try scanner.peekKind() == .string else {
            try scanner.skipValue()
            return
        }
        suffixTokens = Self.tokens(forBytes: try Self.textBytes(&scanner, segments: &self))
    }

    mutating func addTools(range: Range<Int>, hash: UInt64) {
        toolTokens = Self.tokens(forBytes: range.count) + Self.toolsOverhead
        toolsHash = hash
        if collectSegments {
            segments.append(.text(range))
            for _ in 0..<Self.toolsOverhead { segments.append(.special(Self.markerID)) }
        }
    }

    mutating func finish(endpoint: InferenceEndpoint) {
        switch endpoint {
        case .chat:
            let front = Self.chatFrame + toolTokens + preambleTokens
            tokens += front
            for index in prefixes.indices {
                prefixes[index].tokens += front
                if let toolsHash { prefixes[index].hash = PromptHash.mix(prefixes[index].hash, toolsHash) }
            }
            if collectSegments {
                segments.insert(contentsOf: Array(repeating: .special(Self.markerID), count: preambleTokens), at: 0)
                segments.insert(.special(Self.bosID), at: 0)
                segments.append(.special(Self.markerID))
                segments.append(.special(Self.markerID))
            }
        case .completions:
            // Each prompt: BOS, and with a suffix the three FIM markers and the suffix.
            let overhead = 1 + (suffixTokens.map { 3 + $0 } ?? 0)
            let prompts = completionPrompts.isEmpty ? [0] : completionPrompts
            tokens = prompts.reduce(0, +) + prompts.count * overhead
            longestPrompt = (prompts.max() ?? 0) + overhead
            if collectSegments {
                segments.insert(.special(Self.bosID), at: 0)
                if suffixTokens != nil { segments += Array(repeating: .special(Self.markerID), count: 3) }
            }
            return
        }
        longestPrompt = tokens
    }

    // MARK: reading text values

    /// Bytes of a message `content`: a string, an array of parts (their `text`), or null.
    static func textBytes(_ scanner: inout JSONScanner, segments counter: inout PromptTokens) throws -> Int {
        switch try scanner.peekKind() {
        case .string:
            let range = try scanner.skipValue().range
            let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
            counter.addText(inner)
            return inner.count
        case .array:
            var total = 0
            try scanner.walkArray { index, part in
                switch try part.peekKind() {
                case .object:
                    try part.walkObject { key, _, value in
                        if JSONScanner.key(key, is: "text") {
                            total += try textBytes(&value, segments: &counter)
                            if index > 0 { total += 1 }  // parts are joined with a newline
                        }
                    }
                case .string:
                    total += try textBytes(&part, segments: &counter)
                default:
                    try part.skipValue()
                }
            }
            return total
        default:
            try scanner.skipValue()
            return 0
        }
    }
}

/// 64-bit FNV-1a, for request seeds and prompt-prefix identities.
enum PromptHash {
    static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x100_0000_01B3

    static func fnv(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = offsetBasis) -> UInt64 {
        var hash = seed
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* prime
        }
        return hash
    }

    /// SplitMix64 finaliser: spreads bits, cheap, deterministic.
    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ b &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
