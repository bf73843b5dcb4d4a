/// `json.dumps(value, ensure_ascii=False)` as Python writes it: `", "` and `": "` separators,
/// members in their original order, non-ASCII kept raw, Python's float repr. The DeepSeek V4
/// prompt embeds tool schemas and non-string tool-call arguments in this form.
public enum PythonJSON {
    public static func dumps(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += number(n)
        case .string(let s): string(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += ", " }
                string(m.key, into: &out)
                out += ": "
                write(m.value, into: &out)
            }
            out += "}"
        }
    }

    /// A JSON string literal with Python's escapes (`\n`, `\"`, `\\`, `\u00XX` for other controls).
    static func string(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    /// A JSON number as Python re-serialises it after `json.loads`: integers exactly, floats with
    /// `repr` (shortest round-trip digits; exponent form below 1e-4 and from 1e16).
    static func number(_ text: String) -> String {
        let isFloat = text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if !isFloat {
            if text == "-0" { return "0" }
            return text
        }
        guard let d = Double(text), d.isFinite else { return text.hasPrefix("-") ? "-Infinity" : "Infinity" }
        return floatRepr(d)
    }

    static func floatRepr(_ d: Double) -> String {
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description gives the shortest round-trip digits; re-lay them out Python's way.
        var s = "\(abs(d))"
        var exponent = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(s[s.index(after: e)...]) ?? 0
            s = String(s[..<e])
        }
        var intPart = s
        var fracPart = ""
        if let dot = s.firstIndex(of: ".") {
            intPart = String(s[..<dot])
            fracPart = String(s[s.index(after: dot)...])
        }
        var digits = intPart + fracPart
        var decpt = intPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            decpt -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        var out = d.sign == .minus ? "-" : ""
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 {
                out += "0." + String(repeating: "0", count: -decpt) + digits
            } else if decpt >= digits.count {
                out += digits + String(repeating: "0", count: decpt - digits.count) + ".0"
            } else {
                out += String(digits.prefix(decpt)) + "." + String(digits.dropFirst(decpt))
            }
        } else {
            out += String(digits.prefix(1))
            if digits.count > 1 { out += "." + String(digits.dropFirst()) }
            let e = decpt - 1
            out += "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
        }
        return out
    }
}
