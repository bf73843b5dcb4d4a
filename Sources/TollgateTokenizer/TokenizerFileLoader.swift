/// Reads a Hugging Face `tokenizer.json` straight from its bytes. The vocabulary (128k entries)
/// and merges (128k) are scanned without building JSON values; everything else is parsed and
/// checked against the pipeline this implementation reproduces, so a different tokenizer file
/// is refused instead of silently giving wrong counts.
struct TokenizerFileLoader {
    struct Loaded {
        var vocabulary: VocabularyTable
        var merges: MergeTable
        var byteIDs: [UInt32]
        var specials: AddedTokenMatcher
        var normalizedSpecials: AddedTokenMatcher
        var addedTokens: [(content: String, id: Int, special: Bool)]
    }

    static func load(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Loaded {
        var s = JSONScanner(bytes)
        var added: [(bytes: [UInt8], id: Int, special: Bool, normalized: Bool)] = []
        var vocab: VocabularyTable?
        var mergeList: [(left: UInt32, right: UInt32, merged: UInt32)]?
        var sawPreTokenizer = false
        guard try s.open(UInt8(ascii: "{"), close: UInt8(ascii: "}")) else {
            throw TokenizerError.malformed("empty tokenizer.json")
        }
        repeat {
            let key = try s.parseString()
            try s.expect(UInt8(ascii: ":"))
            switch key {
            case "added_tokens":
                added = try parseAddedTokens(try s.parseValue())
            case "normalizer":
                try checkNormalizer(try s.parseValue())
            case "pre_tokenizer":
                try checkPreTokenizer(try s.parseValue())
                sawPreTokenizer = true
            case "post_processor":
                try checkPostProcessor(try s.parseValue())
            case "truncation", "padding":
                guard try s.parseValue() == .null else { throw TokenizerError.unsupported("\(key) is set") }
            case "model":
                try parseModel(&s, vocab: &vocab, merges: &mergeList)
            default:
                try s.skipValue()
            }
        } while try s.nextElement(close: UInt8(ascii: "}"))
        guard sawPreTokenizer else { throw TokenizerError.unsupported("no pre_tokenizer") }
        guard let vocabulary = vocab, let merges = mergeList else {
            throw TokenizerError.malformed("model.vocab or model.merges missing")
        }
        var byteIDs = [UInt32](repeating: 0, count: 256)
        for b in 0..<256 {
            var one = UInt8(b)
            let id = vocabulary.lookup(&one, 1)
            guard id >= 0 else { throw TokenizerError.unsupported("byte 0x\(String(b, radix: 16)) has no token") }
            byteIDs[b] = UInt32(id)
        }
        let mergeTable = try MergeTable(merges: merges)
        return Loaded(
            vocabulary: vocabulary,
            merges: mergeTable,
            byteIDs: byteIDs,
            specials: AddedTokenMatcher(tokens: added.filter { !$0.normalized }.map { ($0.bytes, $0.id) }),
            normalizedSpecials: AddedTokenMatcher(tokens: added.filter { $0.normalized }.map { ($0.bytes, $0.id) }),
            addedTokens: added.map { (String(decoding: $0.bytes, as: UTF8.self), $0.id, $0.special) }
        )
    }

    private static func parseAddedTokens(_ value: JSONValue) throws
        -> [(bytes: [UInt8], id: Int, special: Bool, normalized: Bool)]
    {
        guard let items = value.arrayValue else { throw TokenizerError.malformed("added_tokens is not an array") }
        return try items.map { item in
            guard let content = item["content"]?.stringValue, case .number(let idText)? = item["id"],
                let id = Int(idText)
            else { throw TokenizerError.malformed("added token without content or id") }
            for flag in ["lstrip", "rstrip", "single_word"] where item[flag] == .bool(true) {
                throw TokenizerError.unsupported("added token \(id) uses \(flag)")
            }
            return (Array(content.utf8), id, item["special"] == .bool(true), item["normalized"] == .bool(true))
        }
    }

    private static func checkNormalizer(_ value: JSONValue) throws {
        if value == .null { return }
        guard value["type"]?.stringValue == "Sequence", value["normalizers"]?.arrayValue?.isEmpty == true else {
            throw TokenizerError.unsupported("normalizer must be empty")
        }
    }

    private static func checkPostProcessor(_ value: JSONValue) throws {
        // ByteLevel post-processing only changes offsets; anything else could add tokens.
        if value == .null || value["type"]?.stringValue == "ByteLevel" { return }
        throw TokenizerError.unsupported("post_processor must be ByteLevel")
    }

    /// The exact pre-tokenizer this implementation reproduces.
    static let expectedPatterns = [
        "\\p{N}{1,3}",
        "[\u{4E00}-\u{9FA5}\u{3040}-\u{309F}\u{30A0}-\u{30FF}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
            + " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ]

    private static func checkPreTokenizer(_ value: JSONValue) throws {
        guard value["type"]?.stringValue == "Sequence", let steps = value["pretokenizers"]?.arrayValue,
            steps.count == 4
        else { throw TokenizerError.unsupported("pre_tokenizer is not the DeepSeek V4 sequence") }
        for (i, pattern) in expectedPatterns.enumerated() {
            let step = steps[i]
            guard step["type"]?.stringValue == "Split", step["pattern"]?["Regex"]?.stringValue == pattern,
                step["behavior"]?.stringValue == "Isolated", step["invert"] == .bool(false)
            else { throw TokenizerError.unsupported("pre_tokenizer step \(i) differs from DeepSeek V4") }
        }
        let last = steps[3]
        guard last["type"]?.stringValue == "ByteLevel", last["add_prefix_space"] == .bool(false),
            last["use_regex"] == .bool(false)
        else { throw TokenizerError.unsupported("pre_tokenizer step 3 must be ByteLevel without regex") }
    }

    private static func parseModel(
        _ s: inout JSONScanner,
        vocab: inout VocabularyTable?,
        merges: inout [(left: UInt32, right: UInt32, merged: UInt32)]?
    ) throws {
        guard try s.open(UInt8(ascii: "{"), close: UInt8(ascii: "}")) else { throw TokenizerError.malformed("empty model") }
        var raw: [UInt8] = []
        repeat {
            let key = try s.parseString()
            try s.expect(UInt8(ascii: ":"))
            switch key {
            case "type":
                guard try s.parseString() == "BPE" else { throw TokenizerError.unsupported("model is not BPE") }
            case "dropout":
                guard try s.parseValue() == .null else { throw TokenizerError.unsupported("BPE dropout") }
            case "continuing_subword_prefix", "end_of_word_suffix":
                let v = try s.parseValue()
                guard v == .null || v == .string("") else { throw TokenizerError.unsupported("BPE \(key)") }
            case "byte_fallback":
                guard try s.parseValue() == .bool(false) else { throw TokenizerError.unsupported("byte_fallback") }
            case "vocab":
                var flat: [UInt8] = []
                flat.reserveCapacity(1 << 20)
                var entries: [VocabularyTable.Entry] = []
                entries.reserveCapacity(130_000)
                if try s.open(UInt8(ascii: "{"), close: UInt8(ascii: "}")) {
                    repeat {
                        try s.scanString()
                        let reachable = ByteLevelAlphabet.decode(s.stringBuffer, into: &raw)
                        let offset = flat.count
                        flat.append(contentsOf: reachable ? raw : s.stringBuffer)
                        try s.expect(UInt8(ascii: ":"))
                        entries.append(.init(offset: offset, length: flat.count - offset, id: try s.parseInt(), reachable: reachable))
                    } while try s.nextElement(close: UInt8(ascii: "}"))
                }
                vocab = try VocabularyTable(flat: flat, entries: entries)
            case "merges":
                guard let vocabulary = vocab else {
                    throw TokenizerError.unsupported("model.merges before model.vocab")
                }
                var list: [(left: UInt32, right: UInt32, merged: UInt32)] = []
                list.reserveCapacity(130_000)
                var pair: [UInt8] = []
                pair.reserveCapacity(512)
                if try s.open(UInt8(ascii: "["), close: UInt8(ascii: "]")) {
                    repeat {
                        list.append(try parseMerge(&s, &raw, &pair, vocabulary, index: list.count))
                    } while try s.nextElement(close: UInt8(ascii: "]"))
                }
                merges = list
            default:
                try s.skipValue()  // unk_token, fuse_unk, ignore_merges: no effect on a byte-level vocabulary
            }
        } while try s.nextElement(close: UInt8(ascii: "}"))
    }

    /// One merge, either `"a b"` (older format) or `["a", "b"]`, resolved to (left, right, merged) ids.
    private static func parseMerge(
        _ s: inout JSONScanner, _ raw: inout [UInt8], _ pair: inout [UInt8], _ vocabulary: VocabularyTable, index: Int
    ) throws -> (left: UInt32, right: UInt32, merged: UInt32) {
        let at = s.position
        pair.removeAll(keepingCapacity: true)
        var split = 0
        if s.peek() == UInt8(ascii: "[") {
            s.position += 1
            try s.scanString()
            guard ByteLevelAlphabet.decode(s.stringBuffer, into: &raw) else { throw TokenizerError.malformed("merge side not byte-level", at: at) }
            pair.append(contentsOf: raw)
            split = pair.count
            try s.expect(UInt8(ascii: ","))
            try s.scanString()
            guard ByteLevelAlphabet.decode(s.stringBuffer, into: &raw) else { throw TokenizerError.malformed("merge side not byte-level", at: at) }
            pair.append(contentsOf: raw)
            try s.expect(UInt8(ascii: "]"))
        } else {
            try s.scanString()
            // Byte-level text never contains a raw space, so the one space separates the two sides.
            guard let space = s.stringBuffer.firstIndex(of: 0x20),
                s.stringBuffer[(space + 1)...].firstIndex(of: 0x20) == nil,
                ByteLevelAlphabet.decode(s.stringBuffer, into: &raw, skipping: space)
            else { throw TokenizerError.malformed("merge is not two byte-level tokens", at: at) }
            pair = raw
            split = ByteLevelAlphabet.decodedLength(s.stringBuffer, upTo: space)
        }
        let (left, right, merged) = pair.withUnsafeBufferPointer { p in
            (vocabulary.lookup(p.baseAddress!, split), vocabulary.lookup(p.baseAddress! + split, p.count - split),
             vocabulary.lookup(p.baseAddress!, p.count))
        }
        guard left >= 0, right >= 0, merged >= 0 else {
            throw TokenizerError.malformed("merge \(index) uses a token that is not in the vocabulary", at: at)
        }
        return (UInt32(left), UInt32(right), UInt32(merged))
    }
}
