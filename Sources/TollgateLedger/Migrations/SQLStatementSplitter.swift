/// Splits a migration file into single statements.
///
/// PostgresNIO speaks only the extended query protocol, which runs one statement per message,
/// so a file is cut at top-level semicolons. Semicolons inside quotes, quoted identifiers,
/// dollar-quoted bodies (`$$ ... $$`, `$fn$ ... $fn$`) and comments are not cut points.
enum SQLStatementSplitter {
    static func split(_ sql: String) -> [String] {
        let bytes = Array(sql.utf8)
        var statements: [String] = []
        var start = 0
        var index = 0
        var hasCode = false

        func flush(upTo end: Int) {
            if hasCode {
                let text = String(decoding: bytes[start..<end], as: UTF8.self)
                    .trimmingCharacters(in: " \t\r\n")
                if !text.isEmpty { statements.append(text) }
            }
            hasCode = false
        }

        while index < bytes.count {
            let byte = bytes[index]
            let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
            switch byte {
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                index += 2
                var depth = 1
                while index < bytes.count && depth > 0 {
                    if bytes[index] == UInt8(ascii: "*"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                        depth -= 1
                        index += 2
                    } else if bytes[index] == UInt8(ascii: "/"), index + 1 < bytes.count,
                        bytes[index + 1] == UInt8(ascii: "*")
                    {
                        depth += 1
                        index += 2
                    } else {
                        index += 1
                    }
                }
                continue
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                hasCode = true
                index += 1
                while index < bytes.count {
                    if bytes[index] == byte {
                        // A doubled quote is an escaped quote inside the literal.
                        if index + 1 < bytes.count && bytes[index + 1] == byte {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
                continue
            case UInt8(ascii: "$"):
                hasCode = true
                if let tagEnd = dollarTagEnd(bytes, from: index) {
                    let tag = bytes[index...tagEnd]
                    var scan = tagEnd + 1
                    while scan < bytes.count {
                        if bytes[scan] == UInt8(ascii: "$"), scan + tag.count <= bytes.count,
                            bytes[scan..<(scan + tag.count)].elementsEqual(tag)
                        {
                            break
                        }
                        scan += 1
                    }
                    index = min(bytes.count, scan + tag.count)
                    continue
                }
            case UInt8(ascii: ";"):
                flush(upTo: index)
                start = index + 1
                index += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                break
            default:
                hasCode = true
            }
            index += 1
        }
        flush(upTo: bytes.count)
        return statements
    }

    /// If a dollar-quote tag (`$$` or `$name$`) starts at `index`, the index of its closing `$`.
    private static func dollarTagEnd(_ bytes: [UInt8], from index: Int) -> Int? {
        var scan = index + 1
        while scan < bytes.count {
            let byte = bytes[scan]
            if byte == UInt8(ascii: "$") { return scan }
            let isIdent = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
                || (scan > index + 1 && byte >= 48 && byte <= 57)
            if !isIdent { return nil }
            scan += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let drop = Set(set.unicodeScalars)
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, drop.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, drop.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
