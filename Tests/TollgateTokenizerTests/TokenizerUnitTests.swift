import Foundation
import Testing
@testable import TollgateTokenizer

/// Properties that need no reference implementation.
@Suite struct TokenizerUnitTests {
    static let tokenizer: DeepSeekTokenizer = try! DeepSeekTokenizer.loadBundled()

    @Test func bundledFileHasTheDocumentedShape() {
        let t = Self.tokenizer
        #expect(t.vocabularySize == 128_000)
        #expect(t.addedTokenID("<｜begin▁of▁sentence｜>") == 0)
        #expect(t.addedTokenID("<｜User｜>") == 128803)
        #expect(t.addedTokenID("<|User|>") == nil)
    }

    /// The whole-piece vocabulary shortcut is exact only if every reachable token encodes to itself
    /// through the merges alone; check all of them.
    @Test func everyVocabularyTokenMergesToItself() {
        let t = Self.tokenizer
        var wrong: [Int] = []
        for id in 3..<t.vocabularySize {
            let bytes = t.tokenBytes(id)
            if t.mergeOnly(bytes) != [id] { wrong.append(id) }
        }
        #expect(wrong.isEmpty, "tokens not reproduced by their merges: \(wrong.prefix(20))")
    }

    @Test func addedTokensAreCutOutBeforePreTokenization() {
        let t = Self.tokenizer
        let space = t.encode(" ")
        #expect(space.count == 1)
        #expect(t.encode(" <｜User｜> ") == [space[0], 128803, space[0]])
        #expect(t.encode("<｜begin▁of▁sentence｜>") == [0])
    }

    @Test(arguments: ["", "a", "hello world", "漢字かな 123456 👨‍👩‍👧", "\n \n\n  x", String(repeating: " ", count: 3000)])
    func decodeRoundTripsAndCountMatches(_ text: String) throws {
        let t = Self.tokenizer
        let ids = t.encode(text)
        #expect(t.decode(ids) == Array(text.utf8))
        #expect(t.count(text) == ids.count)
        #expect(try t.encode(utf8: Array(text.utf8)) == ids)
        #expect(try t.count(utf8: Array(text.utf8)[...]) == ids.count)
    }

    @Test(arguments: [
        ([0x61, 0xFF, 0x62] as [UInt8], 1),
        ([0xC0, 0x80], 0),  // overlong NUL
        ([0x61, 0x62, 0xED, 0xA0, 0x80], 2),  // surrogate
        ([0xF4, 0x90, 0x80, 0x80], 0),  // above U+10FFFF
        ([0xE4, 0xB8], 0),  // truncated
        ([0x80], 0),  // lone continuation
    ])
    func invalidUTF8IsAClearError(_ bytes: [UInt8], _ offset: Int) {
        #expect(throws: TokenizerError.invalidUTF8(at: offset)) { try Self.tokenizer.encode(utf8: bytes) }
        #expect(throws: TokenizerError.invalidUTF8(at: offset)) { try Self.tokenizer.count(utf8: bytes) }
    }

    @Test func otherTokenizerFilesAreRefused() throws {
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array("{}".utf8)) }
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array("not json".utf8)) }
        // A file whose pre-tokenizer differs must be refused, not silently mis-tokenized.
        let doc = #"{"added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array(doc.utf8)) }
    }

    @Test func longPiecesAreNotQuadratic() {
        let t = Self.tokenizer
        let text = String(repeating: " ", count: 200_000) + String(repeating: "ab", count: 100_000)
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = t.count(text) }
        #expect(elapsed < .seconds(10), "400 KB of long pieces took \(elapsed)")
        #expect(t.decode(t.encode(text)) == Array(text.utf8))
    }

    @Test func concurrentEncodesAgree() async {
        let t = Self.tokenizer
        let texts = (0..<16).map { i in String(repeating: "línea \(i) 数字\(i * 1234) <think>x</think>\n", count: 200 + i) }
        let expected = texts.map { t.encode($0) }
        let results = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, t.encode(text)) } }
            var out = [[Int]](repeating: [], count: texts.count)
            for await (i, ids) in group { out[i] = ids }
            return out
        }
        #expect(results == expected)
    }
}
