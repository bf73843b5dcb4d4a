import Testing

@testable import TollgateWire

/// `JSONWriter.appendString` must escape as Python's `json.dumps(…, ensure_ascii=False)` does:
/// the tokenizer counts tool schemas written with it against DeepSeek's Python-rendered prompt.
@Suite struct JSONWriterTests {
    /// Python's escape for one scalar, written out by hand.
    static func pythonEscape(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x22: return #"\""#
        case 0x5C: return #"\\"#
        case 0x0A: return #"\n"#
        case 0x0D: return #"\r"#
        case 0x09: return #"\t"#
        case 0x08: return #"\b"#
        case 0x0C: return #"\f"#
        case 0..<0x20:
            let hex = String(scalar.value, radix: 16)
            return #"\u"# + String(repeating: "0", count: 4 - hex.count) + hex
        default: return String(scalar)
        }
    }

    @Test func everyASCIIScalarIsEscapedAsPythonDoesInsideRunsOfPlainText() {
        for value in 0..<0x80 {
            let scalar = Unicode.Scalar(UInt8(value))
            let text = "ab" + String(scalar) + "cd" + String(scalar)
            let expected = "\"ab" + Self.pythonEscape(scalar) + "cd" + Self.pythonEscape(scalar) + "\""
            #expect(JSONWriter.quoted(text) == expected, "scalar \(value)")
        }
    }

    @Test func nonASCIIAndDeleteStayRawAndEmptyStringsAreQuoted() {
        #expect(JSONWriter.quoted("") == "\"\"")
        #expect(JSONWriter.quoted("é\u{7F}😀中\u{1F}") == "\"é\u{7F}😀中\\u001f\"")
        var out: [UInt8] = Array("x".utf8)
        JSONWriter.appendString("\"\\", to: &out)
        #expect(out == Array(#"x"\"\\""#.utf8))
    }
}
