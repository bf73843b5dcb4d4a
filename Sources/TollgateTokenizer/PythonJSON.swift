import TollgateWire

/// `json.dumps(value, ensure_ascii=False)` as Python writes it: `", "` and `": "` separators,
/// members in their original order, non-ASCII kept raw, Python's float repr. The DeepSeek V4
/// prompt embeds tool schemas and non-string tool-call arguments in this form.
public enum PythonJSON {
    public static func dumps(_ value: JSONValue) -> String {
        // Written as UTF-8 bytes: appending to a String one character at a time cost tool-heavy
        // requests tens of microseconds each.
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: number(n).utf8)
        case .string(let s): JSONWriter.appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                JSONWriter.appendString(m.key, to: &out)
                out.append(contentsOf: ": ".utf8)
                write(m.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
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
