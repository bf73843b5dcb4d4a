import Foundation
import Testing
@testable import TollgateTokenizer

/// Swift ids must equal Hugging Face `tokenizers` 0.23.3 ids, computed in the same CI run.
@Suite struct ParityTests {
    static let tokenizer: DeepSeekTokenizer = try! DeepSeekTokenizer.loadBundled()

    @Test func referenceIsFromThePinnedVersionAndTheBundledFile() throws {
        guard let ref = ReferenceCases.require() else { return }
        #expect(ref.tokenizersVersion == "0.23.3")
        #expect(ref.tokenizerSHA256 == "8f9f37ca37fdc4f5fd36d5cf4d3b0e8392edb4e894fd10cc0d70b4957c8633cf")
        #expect(ref.cases.count > 6000, "the reference should hold fixture, random and sweep cases")
    }

    @Test func fixtureCasesMatchHuggingFace() {
        check(kind: "fixture", minimum: 90)
    }

    @Test func randomizedCasesMatchHuggingFace() {
        check(kind: "random", minimum: 1000)
    }

    @Test func everyUnicodeCodePointSweepMatchesHuggingFace() {
        check(kind: "sweep", minimum: 1000)
    }

    private func check(kind: String, minimum: Int) {
        guard let ref = ReferenceCases.require() else { return }
        let cases = ref.cases.filter { $0.kind == kind }
        #expect(cases.count >= minimum, "too few \(kind) cases in the reference")
        var failures = 0
        for c in cases {
            let ids = Self.tokenizer.encode(c.text)
            let countOnly = Self.tokenizer.count(c.text)
            let fromBytes = try? Self.tokenizer.encode(utf8: Array(c.text.utf8))
            if ids != c.ids || countOnly != c.ids.count || fromBytes != c.ids {
                failures += 1
                if failures <= 10 {
                    let firstDiff = zip(ids, c.ids).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
                        ?? min(ids.count, c.ids.count)
                    Issue.record("""
                        \(kind) case '\(c.name)' (seed \(ref.seed)) differs from HF at id #\(firstDiff): \
                        text "\(escaped(c.text))" swift \(Array(ids[min(firstDiff, ids.count)...].prefix(8))) \
                        hf \(Array(c.ids[min(firstDiff, c.ids.count)...].prefix(8))) count \(countOnly)
                        """)
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(cases.count) \(kind) cases differ from HF (seed \(ref.seed))")
    }
}
