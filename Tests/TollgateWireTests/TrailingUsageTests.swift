import Testing

@testable import TollgateWire

/// `TrailingUsage` must find exactly what the forward walk finds, or nothing (then the gateway
/// walks forwards); it must never point at a `usage` that is not the top-level one.
@Suite struct TrailingUsageTests {
    func trailing(_ json: String) -> String? {
        let bytes = Array(json.utf8)
        return bytes.withUnsafeBytes { raw in
            TrailingUsage.find(in: raw).map { String(decoding: raw[$0], as: UTF8.self) }
        }
    }

    func forward(_ json: String) -> String? {
        let bytes = Array(json.utf8)
        return bytes.withUnsafeBytes { raw in
            ResponseShape.inspect(raw)?.usageRange.map { String(decoding: raw[$0], as: UTF8.self) }
        }
    }

    @Test func findsUsageWhereEnginesPutIt() {
        let usage = #"{"prompt_tokens":10,"total_tokens":26,"completion_tokens":16,"prompt_tokens_details":null}"#
        // vLLM: usage, then prompt_logprobs and friends.
        let vllm = #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":"#
            + usage + #","prompt_logprobs":null,"prompt_token_ids":null,"kv_transfer_params":null}"#
        // OpenAI, DeepSeek, SGLang, llama.cpp: usage last.
        let last = #"{"id":"x","choices":[],"usage":"# + usage + "}"
        let pretty = "{\n  \"id\": \"x\",\n  \"usage\": {\n    \"prompt_tokens\": 1,\n    \"completion_tokens\": 2\n  }\n}\n"
        let first = #"{"usage":{"prompt_tokens":1,"completion_tokens":2},"id":"x"}"#
        for json in [vllm, last, pretty, first] {
            #expect(trailing(json) != nil, "\(json)")
            #expect(trailing(json) == forward(json), "\(json)")
        }
        #expect(trailing(vllm) == usage)
    }

    @Test func findsNothingThatIsNotTheTopLevelUsage() {
        #expect(trailing(#"{"choices":[{"message":{"usage":{"prompt_tokens":1}}}]}"#) == nil)
        #expect(trailing(#"{"id":"x","usage":null}"#) == nil)
        #expect(trailing(#"{"id":"x","usage":[1,2]}"#) == nil)
        // A duplicate key: the last one wins, both ways.
        let duplicate = #"{"usage":{"prompt_tokens":1},"usage":null}"#
        #expect(trailing(duplicate) == nil)
        #expect(forward(duplicate) == nil)
        #expect(trailing(#"[{"usage":{"prompt_tokens":1}}]"#) == nil)
        #expect(trailing(#"{}"#) == nil)
        #expect(trailing("") == nil)
        #expect(trailing(#"{"id":"x","usage":{"prompt_tokens":1}"#) == nil)  // cut short
    }

    @Test func givesUpOnEscapedQuotesAndFarAwayUsage() {
        // Escapes other than a quote read backwards as they are.
        #expect(trailing(#"{"usage":{"prompt_tokens":1},"note":"a\nb \\"}"#) == #"{"prompt_tokens":1}"#)
        // An escaped quote cannot be told from an opening one: nil, and the walk decides.
        let escaped = #"{"usage":{"prompt_tokens":1,"completion_tokens":2},"note":"say \"usage\":{}"}"#
        #expect(trailing(escaped) == nil)
        #expect(forward(escaped) == #"{"prompt_tokens":1,"completion_tokens":2}"#)
        // An escaped quote that would look like the start of a string read backwards.
        let quoted = #"{"a":"x\",\"usage\":{\"b\":1}"}"#
        #expect(trailing(quoted) == nil)
        #expect(forward(quoted) == nil)
        // More members after the usage than it reads.
        let many = (0..<TrailingUsage.maxMembers).map { #","k\#($0)":\#($0)"# }.joined()
        #expect(trailing(#"{"usage":{"prompt_tokens":1}"# + many + "}") == nil)
    }

    /// Random objects with the usage at random places: whenever the backward read answers, it
    /// answers what the forward walk does, and it answers whenever it can.
    @Test func agreesWithTheForwardWalkOnRandomAnswers() {
        var generator = SystemRandomNumberGenerator()
        var answered = 0
        for _ in 0..<3_000 {
            var random = RandomJSON(generator: generator)
            var members = (0..<Int.random(in: 0...10, using: &generator)).map { "\"k\($0)\":" + random.value(depth: 0) }
            let usageAt = Int.random(in: 0...members.count, using: &generator)
            let hasUsage = Bool.random(using: &generator)
            if hasUsage { members.insert(#""usage":{"prompt_tokens":3,"completion_tokens":4}"#, at: usageAt) }
            let json = "{" + members.joined(separator: random.separator()) + "}"
            let found = trailing(json)
            #expect(found == nil || found == forward(json), "\(json)")
            let tail = members.suffix(from: hasUsage ? usageAt : members.count)
            if hasUsage && tail.count <= TrailingUsage.maxMembers && !tail.joined().contains("\\\"") {
                #expect(found == #"{"prompt_tokens":3,"completion_tokens":4}"#, "\(json)")
            }
            if found != nil { answered += 1 }
        }
        #expect(answered > 500)
    }
}

/// Small random JSON values: nested objects and arrays, numbers, literals, strings with and
/// without escapes (some spelling `usage`), and random white space.
private struct RandomJSON {
    var generator: SystemRandomNumberGenerator

    mutating func separator() -> String {
        [",", " , ", ",\n  "].randomElement(using: &generator)!
    }

    mutating func value(depth: Int) -> String {
        let pick = Int.random(in: 0..<(depth < 3 ? 9 : 6), using: &generator)
        switch pick {
        case 0: return String(Int.random(in: -1000...1000, using: &generator))
        case 1: return ["true", "false", "null", "1.5e-3", "0"].randomElement(using: &generator)!
        case 2: return ["\"usage\"", "\"a b\"", "\"\"", "\"{\\\"usage\\\":{}}\"", "\"é\"", "\"x\\\\\""].randomElement(using: &generator)!
        case 3, 4, 5: return ["\"plain\"", "\"usage:{\"", "\"]}\""].randomElement(using: &generator)!
        case 6, 7:
            let members = (0..<Int.random(in: 0...3, using: &generator)).map {
                ($0 == 0 ? "\"usage\"" : "\"m\($0)\"") + ":" + value(depth: depth + 1)
            }
            return "{" + members.joined(separator: separator()) + "}"
        default:
            let elements = (0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth: depth + 1) }
            return "[" + elements.joined(separator: separator()) + "]"
        }
    }
}
