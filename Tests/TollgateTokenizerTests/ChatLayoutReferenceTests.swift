import Foundation
import Testing
@testable import TollgateTokenizer

/// Chat prompts must be laid out exactly as vLLM 0.33.0's own DeepSeek V4 encoder lays them out,
/// and counted as Hugging Face counts that prompt. The reference is rendered by the real encoder
/// just before `swift test` (scripts/tokenizer-reference/prepare.sh); missing, the tests fail.
@Suite struct ChatLayoutReferenceTests {
    static let counter = ChatPromptCounter(tokenizer: try! DeepSeekTokenizer.shared)

    struct Case {
        var name: String
        /// The request's text: the fixture's `body` as written, else its `request` serialised.
        var request: String
        /// Given as exact text (keys written twice), which the plain path leaves to the general one.
        var isRaw: Bool
        var prompt: String
        var tokens: Int
    }

    static let path: String = {
        if let p = ProcessInfo.processInfo.environment["TOLLGATE_CHAT_REFERENCE"], !p.isEmpty { return p }
        return URL(fileURLWithPath: ReferenceCases.path).deletingLastPathComponent()
            .appendingPathComponent("chat-reference.json").path
    }()

    /// The reference's fixture layouts (`cases`), or its generated conversations (`random`).
    static func load(_ key: String = "cases") -> [Case]? {
        guard let data = FileManager.default.contents(atPath: path), let doc = try? JSONValue.parse(data) else {
            Issue.record("vLLM chat reference not found or unreadable at \(path); run scripts/tokenizer-reference/prepare.sh")
            return nil
        }
        #expect(doc["vllm"]?.stringValue == "0.33.0")
        return (doc[key]?.arrayValue ?? []).map { c in
            var tokens = -1
            if case .number(let n)? = c["tokens"] { tokens = Int(n) ?? -1 }
            let body = c["body"]?.stringValue
            return Case(
                name: c["name"]?.stringValue ?? "", request: body ?? PythonJSON.dumps(c["request"] ?? .null),
                isRaw: body != nil, prompt: c["prompt"]?.stringValue ?? "", tokens: tokens)
        }
    }

    @Test func everyReferenceLayoutIsRenderedAndCountedExactly() throws {
        guard let cases = Self.load() else { return }
        #expect(cases.count >= 25, "too few chat layout cases in the reference")
        for c in cases { try Self.expectRenderedAndCountedExactly(c) }
    }

    /// The prompt text byte for byte, no estimate reasons, and the count, as vLLM + HF give them.
    static func expectRenderedAndCountedExactly(_ c: Case) throws {
        let rendered = try counter.render(chatRequest: JSONValue.parse(c.request))
        #expect(rendered.text == c.prompt, "\(c.name): layout differs from vLLM's encoder; request \(c.request)")
        #expect(rendered.reasons.isEmpty, "\(c.name): marked as estimated: \(rendered.reasons)")
        let count = try counter.countChat(requestJSON: Array(c.request.utf8))
        #expect(count.tokens == c.tokens, "\(c.name): \(count.tokens) tokens, vLLM + HF say \(c.tokens)")
    }

    /// Conversations generated with a fresh seed each run (turns of every role in many orders,
    /// reasoning, tool schemas, calls and results, text parts, every way of choosing the mode),
    /// rendered by vLLM's encoder: the layout, the count and the plain path's count must match.
    @Test func randomConversationsAreRenderedAndCountedExactly() throws {
        guard let cases = Self.load("random") else { return }
        #expect(cases.count >= 200, "too few generated conversations in the reference (prepare.sh makes 400)")
        let repeats = RepeatedTextCounts(minimumBytes: 1).scoped("team")
        var viaShortcut = 0
        for c in cases {
            try Self.expectRenderedAndCountedExactly(c)
            let throughTable = try Array(c.request.utf8).withUnsafeBytes { try Self.counter.countChat(requestBytes: $0, repeats: repeats) }
            #expect(throughTable.tokens == c.tokens, "\(c.name): \(throughTable.tokens) through the table")
            if let tokens = Self.counter.shortcutCount(c.request) {
                viaShortcut += 1
                #expect(tokens == c.tokens, "\(c.name): shortcut counted \(tokens), vLLM + HF say \(c.tokens)")
            }
        }
        // The generated requests are plain chats: the gateway's own path must take nearly all.
        #expect(viaShortcut * 10 >= cases.count * 9, "the shortcut took only \(viaShortcut) of \(cases.count)")
    }

    /// Every piece through the table of repeated texts, twice: the count must not move.
    @Test func everyReferenceLayoutCountsTheSameThroughTheTableOfRepeatedTexts() throws {
        guard let cases = Self.load() else { return }
        let repeats = RepeatedTextCounts(minimumBytes: 1).scoped("team")
        for c in cases {
            let request = try JSONValue.parse(c.request)
            for _ in 0..<2 {
                let plainOrGeneral = try Array(c.request.utf8).withUnsafeBytes { try Self.counter.countChat(requestBytes: $0, repeats: repeats) }
                #expect(plainOrGeneral.tokens == c.tokens, "\(c.name)")
                #expect(try Self.counter.countChat(request: request, repeats: repeats).tokens == c.tokens, "\(c.name)")
            }
        }
    }

    @Test func theShortcutCoversThePlainReferenceCases() throws {
        guard let cases = Self.load() else { return }
        var plain = 0
        for c in cases {
            let tokens = Self.counter.shortcutCount(c.request)
            // Keys written twice are for the general path: parsers disagree on which one wins.
            if c.isRaw { #expect(tokens == nil, "\(c.name): the shortcut took a key written twice") }
            guard let tokens else { continue }
            plain += 1
            #expect(tokens == c.tokens, "\(c.name): shortcut counted \(tokens), vLLM + HF say \(c.tokens)")
        }
        // Every other reference case is plain (five set thinking through chat_template_kwargs);
        // requests the shortcut must refuse are PlainChatTests' business.
        let expected = cases.filter { !$0.isRaw }.count
        #expect(plain == expected, "the shortcut should take every reference case given as a request (took \(plain) of \(expected))")
    }
}
