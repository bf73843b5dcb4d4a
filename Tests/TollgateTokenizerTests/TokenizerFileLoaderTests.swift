import Foundation
import Testing
@testable import TollgateTokenizer

/// The loader on small hand-written `tokenizer.json` files: both merge spellings, escaped and
/// unreachable tokens, ids out of order, and the files it must refuse. The bundled file exercises
/// only one spelling and no escapes, so these cases would otherwise go untested.
@Suite struct TokenizerFileLoaderTests {
    /// The bundled file's pre-tokenizer, which the loader insists on, as JSON text.
    static let preTokenizer: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/TollgateTokenizer/Resources/tokenizer.json")
        let doc = try! JSONSerialization.jsonObject(with: try! Data(contentsOf: url)) as! [String: Any]
        return String(decoding: try! JSONSerialization.data(withJSONObject: doc["pre_tokenizer"]!), as: UTF8.self)
    }()

    /// The byte-level alphabet's character for byte `b`, as JSON string content.
    static func byteCharacter(_ b: Int) -> String {
        let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
        let scalar: Int
        if printable {
            scalar = b
        } else {
            scalar = 0x100 + (0..<b).filter { !((0x21...0x7E).contains($0) || (0xA1...0xAC).contains($0) || (0xAE...0xFF).contains($0)) }.count
        }
        let text = String(Character(Unicode.Scalar(scalar)!))
        return text == "\"" ? "\\\"" : text == "\\" ? "\\\\" : text
    }

    /// A document with the 256 byte tokens (ids 0-255), `extraVocab` and `merges` spliced in as JSON text.
    static func document(extraVocab: String, merges: String) -> [UInt8] {
        let bytes = (0..<256).map { "\"\(byteCharacter($0))\": \($0)" }.joined(separator: ", ")
        let doc = """
            {"added_tokens": [], "normalizer": null, "pre_tokenizer": \(preTokenizer), "post_processor": null,
             "model": {"type": "BPE", "dropout": null, "vocab": {\(extraVocab), \(bytes)}, "merges": [\(merges)]}}
            """
        return Array(doc.utf8)
    }

    // Ids out of order, an escaped key (\u0079 is "y"), a token outside the alphabet (中), and a
    // leading-space token spelled with the alphabet's Ġ.
    static let vocab = #""cd": 261, "ab": 256, "abc": 257, "Ġa": 258, "中": 259, "x\u0079": 260"#

    @Test func bothMergeSpellingsEscapesAndOrderLoad() throws {
        let merges = #""c d", "a b", ["ab", "c"], "Ġ a", ["x", "\u0079"]"#
        let t = try DeepSeekTokenizer(jsonBytes: Self.document(extraVocab: Self.vocab, merges: merges))
        #expect(t.vocabularySize == 262)
        #expect(t.encode("abc") == [257])
        #expect(t.encode("ab") == [256])
        #expect(t.encode(" a") == [258])
        #expect(t.encode("xy") == [260])
        // "c d" ranks first, so "abcd" never forms "abc".
        #expect(t.encode("abcd") == [256, 261])
        #expect(t.encode("abd") == [256, 100])
        // 中 is kept for decoding but, not being byte-level, is never produced by encoding.
        #expect(t.decode([259]) == Array("中".utf8))
        #expect(t.encode("中") == [228, 184, 173])
    }

    @Test(arguments: [
        (#""a b", "q z""#, "merge 1 uses a token that is not in the vocabulary"),
        (#""a b", ["a", "中"]"#, "merge 1 is not two byte-level tokens"),
        (#""ab""#, "merge 0 is not two byte-level tokens"),
        (#""a b c""#, "merge 0 is not two byte-level tokens"),
    ])
    func badMergesAreRefusedWithTheirIndex(_ merges: String, _ message: String) {
        #expect {
            try DeepSeekTokenizer(jsonBytes: Self.document(extraVocab: Self.vocab, merges: merges))
        } throws: { error in
            (error as? TokenizerError)?.code == .malformedFile && (error as? TokenizerError)?.message == message
        }
    }

    /// A file cut short anywhere is a clear error, never a crash or a half-loaded tokenizer.
    @Test func truncatedFilesAreRefused() throws {
        let whole = Self.document(extraVocab: Self.vocab, merges: #""c d", "a b", ["ab", "c"], ["x", "\u0079"]"#)
        _ = try DeepSeekTokenizer(jsonBytes: whole)
        var accepted: [Int] = []
        for end in stride(from: 0, to: whole.count - 1, by: 3) {
            do {
                _ = try DeepSeekTokenizer(jsonBytes: Array(whole[..<end]))
                accepted.append(end)
            } catch let error as TokenizerError {
                #expect(error.code == .malformedFile || error.code == .unsupportedTokenizer)
            }
        }
        #expect(accepted.isEmpty, "loaded from a truncated file at \(accepted.prefix(5))")
    }

    @Test func duplicateTokensAndIdsAreRefused() {
        #expect(throws: TokenizerError.self) {
            try DeepSeekTokenizer(jsonBytes: Self.document(extraVocab: #""ab": 256, "a\u0062": 257"#, merges: ""))
        }
        #expect(throws: TokenizerError.self) {
            try DeepSeekTokenizer(jsonBytes: Self.document(extraVocab: #""ab": 256, "cd": 256"#, merges: ""))
        }
        #expect(throws: TokenizerError.self) {
            try DeepSeekTokenizer(jsonBytes: Self.document(extraVocab: #""ab": 0256"#, merges: ""))
        }
    }
}
