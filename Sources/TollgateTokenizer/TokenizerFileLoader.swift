/// Reads a Hugging Face `tokenizer.json` straight from its bytes. The vocabulary (128k entries)
/// and merges (128k) are scanned without building JSON values; everything else is parsed and
/// checked against the pipeline this implementation reproduces, so a different tokenizer file
/// is refused instead of silently giving wrong counts.
struct TokenizerFileLoader {
    struct Loaded {
        var vocabulary: VocabularyTable
        var merges: MergeTable
        var byteIDs: [UInt32]
        var characters: WholeCharacters
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
            characters: WholeCharacters(vocabulary: vocabulary, merges: mergeTable, mergeList: merges, byteIDs: byteIDs),
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
                vocab = try parseVocabulary(&s)
            case "merges":
                guard let vocabulary = vocab else {
                    throw TokenizerError.unsupported("model.merges before model.vocab")
                }
                merges = try parseMerges(&s, vocabulary)
            default:
                try s.skipValue()  // unk_token, fuse_unk, ignore_merges: no effect on a byte-level vocabulary
            }
        } while try s.nextElement(close: UInt8(ascii: "}"))
    }

    /// `model.vocab`: token text → id. Tokens are decoded from the byte-level alphabet straight
    /// out of the document into one buffer; the load is a fresh gateway's first wait.
    private static func parseVocabulary(_ s: inout JSONScanner) throws -> VocabularyTable {
        // A token's bytes are never more than its text, so the document's size bounds them all.
        let flat = UnsafeMutablePointer<UInt8>.allocate(capacity: s.bytes.count)
        defer { flat.deallocate() }
        var used = 0
        var entries: [VocabularyTable.Entry] = []
        entries.reserveCapacity(130_000)
        if try s.open(UInt8(ascii: "{"), close: UInt8(ascii: "}")) {
            repeat {
                let (length, reachable) = try s.withNextString { text in
                    if let n = ByteLevelAlphabet.decode(text, into: flat + used) { return (n, true) }
                    // Not byte-level: kept as written, for decoding only.
                    for (k, b) in text.enumerated() { flat[used + k] = b }
                    return (text.count, false)
                }
                try s.expect(UInt8(ascii: ":"))
                entries.append(.init(offset: used, length: length, id: try s.parseInt(), reachable: reachable))
                used += length
            } while try s.nextElement(close: UInt8(ascii: "}"))
        }
        return try VocabularyTable(flat: UnsafeBufferPointer(start: flat, count: used), entries: entries)
    }

    /// `model.merges`, each resolved to (left, right, merged) ids, in rank order.
    private static func parseMerges(_ s: inout JSONScanner, _ vocabulary: VocabularyTable) throws
        -> [(left: UInt32, right: UInt32, merged: UInt32)]
    {
        // Each side is a token of at most `maxTokenLength` bytes; longer text cannot name one.
        let sideLimit = 2 * vocabulary.maxTokenLength
        let pair = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * sideLimit + 2)
        defer { pair.deallocate() }
        var list: [(left: UInt32, right: UInt32, merged: UInt32)] = []
        list.reserveCapacity(130_000)
        guard try s.open(UInt8(ascii: "["), close: UInt8(ascii: "]")) else { return list }
        repeat {
            let index = list.count
            let at = s.position
            // (bytes of the left side, bytes of both) in `pair`, or nil when not two byte-level tokens.
            let sides: (split: Int, count: Int)?
            if s.peek() == UInt8(ascii: "[") {  // ["a", "b"]
                s.position += 1
                let left = try s.withNextString { $0.count <= sideLimit ? ByteLevelAlphabet.decode($0, into: pair) : nil }
                try s.expect(UInt8(ascii: ","))
                let right = try s.withNextString { text in
                    left.flatMap { l in text.count <= sideLimit ? ByteLevelAlphabet.decode(text, into: pair + l) : nil }
                }
                try s.expect(UInt8(ascii: "]"))
                sides = left.flatMap { l in right.map { (l, l + $0) } }
            } else {  // "a b": byte-level text never contains a raw space, so one space separates the sides
                sides = try s.withNextString { text in
                    guard let space = text.firstIndex(of: 0x20), space <= sideLimit, text.count - space - 1 <= sideLimit,
                        let l = ByteLevelAlphabet.decode(UnsafeBufferPointer(rebasing: text[..<space]), into: pair),
                        let r = ByteLevelAlphabet.decode(UnsafeBufferPointer(rebasing: text[(space + 1)...]), into: pair + l)
                    else { return nil }
                    return (l, l + r)
                }
            }
            guard let (split, count) = sides else {
                throw TokenizerError.malformed("merge \(index) is not two byte-level tokens", at: at)
            }
            // Merges are listed in the order their tokens were added: the merged token is nearly
            // always the id after the previous one (see `VocabularyTable.lookup(_:_:guess:)`).
            let guess = list.last.map { Int($0.merged) + 1 } ?? -1
            let left = vocabulary.lookup(pair, split)
            let right = vocabulary.lookup(pair + split, count - split)
            let merged = vocabulary.lookup(pair, count, guess: guess)
            guard left >= 0, right >= 0, merged >= 0 else {
                throw TokenizerError.malformed("merge \(index) uses a token that is not in the vocabulary", at: at)
            }
            list.append((UInt32(left), UInt32(right), UInt32(merged)))
        } while try s.nextElement(close: UInt8(ascii: "]"))
        return list
    }
}
