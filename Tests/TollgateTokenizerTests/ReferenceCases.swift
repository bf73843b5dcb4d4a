import Foundation
import Testing
@testable import TollgateTokenizer

/// The reference ids computed by Hugging Face `tokenizers` 0.23.3 just before `swift test`
/// (scripts/tokenizer-reference/prepare.sh). Never committed: the tests fail when it is missing.
struct ReferenceCases: Sendable {
    struct Case: Sendable {
        var kind: String
        var name: String
        var text: String
        var ids: [Int]
    }

    var tokenizersVersion: String
    var tokenizerSHA256: String
    var seed: String
    var cases: [Case]

    static let path: String = {
        if let p = ProcessInfo.processInfo.environment["TOLLGATE_TOKENIZER_REFERENCE"], !p.isEmpty { return p }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build-tokenizer-reference/reference.json").path
    }()

    static let loaded: Result<ReferenceCases, ReferenceMissing> = {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ReferenceMissing(message: """
                Tokenizer reference ids not found at \(path) (CI=\(ProcessInfo.processInfo.environment["CI"] ?? "unset")). \
                Run scripts/tokenizer-reference/prepare.sh before swift test, or set TOLLGATE_TOKENIZER_REFERENCE.
                """))
        }
        do {
            let doc = try JSONValue.parse(data)
            var cases: [Case] = []
            for c in doc["cases"]?.arrayValue ?? [] {
                let ids = (c["ids"]?.arrayValue ?? []).map { v -> Int in
                    if case .number(let n) = v { return Int(n) ?? -1 }
                    return -1
                }
                cases.append(Case(kind: c["kind"]?.stringValue ?? "", name: c["name"]?.stringValue ?? "",
                                  text: c["text"]?.stringValue ?? "", ids: ids))
            }
            var seed = ""
            if case .number(let s)? = doc["seed"] { seed = s }
            return .success(ReferenceCases(
                tokenizersVersion: doc["tokenizers"]?.stringValue ?? "",
                tokenizerSHA256: doc["tokenizer_sha256"]?.stringValue ?? "",
                seed: seed,
                cases: cases))
        } catch {
            return .failure(ReferenceMissing(message: "Tokenizer reference at \(path) is unreadable: \(error)"))
        }
    }()

    struct ReferenceMissing: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The reference, or a recorded test failure (never a silent skip).
    static func require() -> ReferenceCases? {
        switch loaded {
        case .success(let r): return r
        case .failure(let e):
            Issue.record(Comment(rawValue: e.message))
            return nil
        }
    }
}

/// Printable form of a test string for failure messages.
func escaped(_ s: String, limit: Int = 200) -> String {
    var out = ""
    for u in s.unicodeScalars.prefix(limit) {
        if u.value < 0x20 || (0x7F..<0xA0).contains(u.value) || u.properties.generalCategory == .format
            || u.properties.isWhitespace && u != " "
        {
            out += "\\u{\(String(u.value, radix: 16))}"
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return s.unicodeScalars.count > limit ? out + "…" : out
}
