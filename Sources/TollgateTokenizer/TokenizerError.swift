/// An error from loading the tokenizer or from encoding bytes. Stable `code`, short `message`;
/// messages never contain the text being encoded.
public struct TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine-readable reasons.
    public enum Code: String, Sendable {
        /// The bytes handed to `encode(utf8:)` are not valid UTF-8.
        case invalidUTF8 = "invalid_utf8"
        /// `tokenizer.json` could not be read.
        case fileUnreadable = "file_unreadable"
        /// `tokenizer.json` is not well-formed JSON or misses a required field.
        case malformedFile = "malformed_file"
        /// `tokenizer.json` is valid but describes a pipeline this implementation does not reproduce.
        case unsupportedTokenizer = "unsupported_tokenizer"
        /// The bundled `tokenizer.json` resource is missing from the build.
        case resourceMissing = "resource_missing"
        /// A request to count is not well-formed JSON (RFC 8259, UTF-8).
        case invalidJSON = "invalid_json"
    }

    public let code: Code
    public let message: String
    /// Byte offset of the problem (first invalid byte, or position in the JSON file), when known.
    public let offset: Int?

    public var description: String {
        if let offset { return "\(code.rawValue): \(message) (at byte \(offset))" }
        return "\(code.rawValue): \(message)"
    }

    static func invalidUTF8(at offset: Int) -> TokenizerError {
        TokenizerError(code: .invalidUTF8, message: "input is not valid UTF-8", offset: offset)
    }

    static func malformed(_ message: String, at offset: Int? = nil) -> TokenizerError {
        TokenizerError(code: .malformedFile, message: message, offset: offset)
    }

    static func unsupported(_ message: String) -> TokenizerError {
        TokenizerError(code: .unsupportedTokenizer, message: message, offset: nil)
    }
}
