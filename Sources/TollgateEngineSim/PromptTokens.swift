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
/// bytes / 4) + 1, plus 3 with a FIM `suffix`. Integer token arrays count one token each.
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
    private var completionParts = 0

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

    mutating func addCompletionPrompt(bytes: Int) {
        tokens += Self.tokens(forBytes: bytes)
        completionParts += 1
    }

    mutating func addTokenIDs(_ count: Int) {
        tokens += count
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
            // BOS, and the three FIM markers when a suffix came with the prompt.
            let extra = completionParts > 1 ? 4 : 1
            tokens += extra
            if collectSegments {
                segments.insert(.special(Self.bosID), at: 0)
                for _ in 1..<extra { segments.append(.special(Self.markerID)) }
            }
        }
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

    /// Bytes of a completions `prompt`: a string, strings, or token ids (counted directly).
    static func promptBytes(_ scanner: inout JSONScanner, segments counter: inout PromptTokens) throws -> Int {
        guard try scanner.peekKind() == .array else { return try textBytes(&scanner, segments: &counter) }
        var total = 0
        try scanner.walkArray { _, item in
            switch try item.peekKind() {
            case .number:
                _ = try item.skipValue()
                counter.addTokenIDs(1)
            case .array:
                total += try promptBytes(&item, segments: &counter)
            default:
                total += try textBytes(&item, segments: &counter)
            }
        }
        return total
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
