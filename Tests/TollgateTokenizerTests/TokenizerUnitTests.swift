import Foundation
import Testing
import TollgateTestSupport
@testable import TollgateTokenizer

/// Properties that need no reference implementation.
@Suite struct TokenizerUnitTests {
    static let tokenizer: DeepSeekTokenizer = try! DeepSeekTokenizer.loadBundled()

    @Test func bundledFileHasTheDocumentedShape() {
        let t = Self.tokenizer
        #expect(t.vocabularySize == 128_000)
        #expect(t.addedTokenID("<｜begin▁of▁sentence｜>") == 0)
        #expect(t.addedTokenID("<｜User｜>") == 128803)
        #expect(t.addedTokenID("<|User|>") == nil)
    }

    /// The whole-piece vocabulary shortcut is exact only if every reachable token encodes to itself
    /// through the merges alone; check all of them from their bytes, and every token that could be a
    /// piece (whole characters, CJK ones only with CJK ones) from whole characters too.
    @Test func everyVocabularyTokenMergesToItself() {
        let t = Self.tokenizer
        var wrong: [Int] = []
        var wrongFromCharacters: [Int] = []
        for id in 3..<t.vocabularySize {
            let bytes = t.tokenBytes(id)
            if t.mergeOnly(bytes, fromBytes: true) != [id] { wrong.append(id) }
            if Self.couldBeAPiece(bytes) && t.mergeOnly(bytes) != [id] { wrongFromCharacters.append(id) }
        }
        #expect(wrong.isEmpty, "tokens not reproduced by their merges: \(wrong.prefix(20))")
        #expect(wrongFromCharacters.count == 0, "tokens not reproduced from whole characters: \(wrongFromCharacters.prefix(20))")
    }

    /// Whether the pre-tokenizer could cut `bytes` as one piece, as far as whole characters care:
    /// whole characters, and the CJK set's characters never beside others.
    static func couldBeAPiece(_ bytes: [UInt8]) -> Bool {
        guard let text = String(validating: bytes, as: UTF8.self) else { return false }
        let cjk = text.unicodeScalars.map(isCJK)
        return cjk.allSatisfy { $0 } || cjk.allSatisfy { !$0 }
    }

    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        ScalarClass.cjkRanges.contains { $0.contains(Int(scalar.value)) }
    }

    /// Common characters of the scripts written with 2- and 3-byte UTF-8 start whole; ASCII and the
    /// characters the check refuses start as bytes.
    @Test func wholeCharactersCoverCommonText() {
        let t = Self.tokenizer
        #expect(t.wholeCharacterCount > 5_000, "\(t.wholeCharacterCount) characters start whole")
        var starts = 0
        let sample = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域读该ий"
        for scalar in sample.unicodeScalars where t.wholeCharacterToken(scalar) != nil { starts += 1 }
        #expect(starts * 100 >= sample.unicodeScalars.count * 97, "\(starts) of \(sample.unicodeScalars.count) start whole")
        #expect(t.wholeCharacterToken("a") == nil)
        #expect(t.wholeCharacterToken("😀") == nil)
    }

    /// Starting pieces from whole characters changes no ids: random pieces that mix characters that
    /// start whole with ones that do not (and ASCII, and 4-byte emoji; CJK characters only with CJK
    /// ones, as the pre-tokenizer cuts them), short (array scan) and long (heap), each merged both ways.
    @Test func wholeCharactersGiveTheSameIDsAsBytes() {
        let t = Self.tokenizer
        var rng = SplitMix64(seed: 0x5EED_C0DE)
        let scalars = (0x80..<0x1_0000).compactMap(Unicode.Scalar.init)
        let cjk = scalars.filter(Self.isCJK)
        let other = scalars.filter { !Self.isCJK($0) }
        // Pools for a CJK piece, then for any other piece: whole-starting characters, then the rest;
        // for CJK pieces also the vocabulary's CJK words, whose merges join characters.
        let cjkWords = (3..<t.vocabularySize).compactMap { id -> [Unicode.Scalar]? in
            guard let word = String(validating: t.tokenBytes(id), as: UTF8.self) else { return nil }
            let scalars = Array(word.unicodeScalars)
            return scalars.count > 1 && scalars.allSatisfy(Self.isCJK) ? scalars : nil
        }
        let cjkPools = [cjk.filter { t.wholeCharacterToken($0) != nil }, cjk.filter { t.wholeCharacterToken($0) == nil }]
        let otherPools = [
            other.filter { t.wholeCharacterToken($0) != nil }, other.filter { t.wholeCharacterToken($0) == nil },
            Array("abcdefghijklmnopqrstuvwxyz .,'-0123456789".unicodeScalars), Array("😀🎉👍🏽🚀".unicodeScalars),
        ]
        var differing: [String] = []
        for round in 0..<8_000 {
            let length = round % 3 == 0 ? Int(rng.next() % 120) + 20 : Int(rng.next() % 12) + 2
            let inCJK = round % 2 == 0
            var text = String.UnicodeScalarView()
            for _ in 0..<length {
                let pick = rng.next() % 100
                if inCJK && pick < 40 {
                    text.append(contentsOf: cjkWords[Int(rng.next() % UInt64(cjkWords.count))])
                    continue
                }
                let pool = inCJK ? cjkPools[pick < 90 ? 0 : 1] : otherPools[pick < 70 ? 0 : pick < 88 ? 1 : pick < 97 ? 2 : 3]
                text.append(pool[Int(rng.next() % UInt64(pool.count))])
            }
            let bytes = Array(String(text).utf8)
            if t.mergeOnly(bytes) != t.mergeOnly(bytes, fromBytes: true) { differing.append(String(text)) }
        }
        #expect(differing.count == 0, "pieces that differ: \(differing.prefix(3))")
    }

    @Test func addedTokensAreCutOutBeforePreTokenization() {
        let t = Self.tokenizer
        let space = t.encode(" ")
        #expect(space.count == 1)
        #expect(t.encode(" <｜User｜> ") == [space[0], 128803, space[0]])
        #expect(t.encode("<｜begin▁of▁sentence｜>") == [0])
    }

    @Test(arguments: ["", "a", "hello world", "漢字かな 123456 👨‍👩‍👧", "\n \n\n  x", String(repeating: " ", count: 3000)])
    func decodeRoundTripsAndCountMatches(_ text: String) throws {
        let t = Self.tokenizer
        let ids = t.encode(text)
        #expect(t.decode(ids) == Array(text.utf8))
        #expect(t.count(text) == ids.count)
        #expect(try t.encode(utf8: Array(text.utf8)) == ids)
        #expect(try t.count(utf8: Array(text.utf8)[...]) == ids.count)
    }

    @Test(arguments: [
        ([0x61, 0xFF, 0x62] as [UInt8], 1),
        ([0xC0, 0x80], 0),  // overlong NUL
        ([0x61, 0x62, 0xED, 0xA0, 0x80], 2),  // surrogate
        ([0xF4, 0x90, 0x80, 0x80], 0),  // above U+10FFFF
        ([0xE4, 0xB8], 0),  // truncated
        ([0x80], 0),  // lone continuation
    ])
    func invalidUTF8IsAClearError(_ bytes: [UInt8], _ offset: Int) {
        #expect(throws: TokenizerError.invalidUTF8(at: offset)) { try Self.tokenizer.encode(utf8: bytes) }
        #expect(throws: TokenizerError.invalidUTF8(at: offset)) { try Self.tokenizer.count(utf8: bytes) }
    }

    /// The ASCII specialization of the pre-tokenizer must cut exactly as the general one: every
    /// ASCII byte but `<` (which starts added tokens), weighted to the pre-tokenizer's edge cases
    /// (runs of spaces, newlines, digits, punctuation and control bytes), thousands of strings a run.
    @Test func plainASCIICountsLikeTheGeneralPath() {
        let t = Self.tokenizer
        let edges = Array(" \t\n\r\u{0B}\u{0C}\u{00}\u{1F}\u{7F}0123456789.,'!?-_/\\\"{}()[]>=+*&%$#@`~^|;:".utf8)
        let letters = Array("aAzZhello WORLD isn't".utf8)
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        var g = SplitMix64(seed: seed)
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &g) {
                switch Int.random(in: 0..<3, using: &g) {
                case 0: bytes.append(edges.randomElement(using: &g)!)
                case 1: bytes.append(letters.randomElement(using: &g)!)
                default: bytes.append(UInt8.random(in: 0..<0x80, using: &g))
                }
            }
            bytes.removeAll { $0 == UInt8(ascii: "<") }
            let fast = bytes.withUnsafeBufferPointer { t.countPlainASCII($0) }
            let general = try! t.count(utf8: bytes)
            #expect(fast == general, "seed \(seed): \(bytes)")
            if fast != general { return }
        }
    }

    /// The word of a short byte string is read with overlapping loads: it must be the bytes,
    /// little-endian and zero-padded, at every length; and the hash of up to eight bytes must be
    /// the hash of that word.
    @Test func shortWordsAreTheirBytes() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &g) }
            bytes.withUnsafeBufferPointer { buffer in
                for count in 0...8 {
                    let expected = bytes.prefix(count).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
                    let word = ByteHash.word(buffer.baseAddress!, count)
                    #expect(word == expected, "\(bytes.prefix(count))")
                    #expect(ByteHash.hash(buffer.baseAddress!, count) == ByteHash.hash(word: expected, count: count))
                }
            }
        }
    }

    /// Text that is not ASCII, or holds an added token's first byte, is left to the general path.
    @Test(arguments: ["<think>", "a<b", "é", "x \u{80}", "日本", "emoji 🙂"])
    func plainASCIIRefusesOtherText(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBufferPointer { Self.tokenizer.countPlainASCII($0) } == nil)
    }

    @Test func otherTokenizerFilesAreRefused() throws {
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array("{}".utf8)) }
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array("not json".utf8)) }
        // A file whose pre-tokenizer differs must be refused, not silently mis-tokenized.
        let doc = #"{"added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.self) { try DeepSeekTokenizer(jsonBytes: Array(doc.utf8)) }
    }

    @Test func longPiecesAreNotQuadratic() {
        let t = Self.tokenizer
        let text = String(repeating: " ", count: 200_000) + String(repeating: "ab", count: 100_000)
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = t.count(text) }
        #expect(elapsed < .seconds(10), "400 KB of long pieces took \(elapsed)")
        #expect(t.decode(t.encode(text)) == Array(text.utf8))
    }

    @Test func concurrentEncodesAgree() async {
        let t = Self.tokenizer
        let texts = (0..<16).map { i in String(repeating: "línea \(i) 数字\(i * 1234) <think>x</think>\n", count: 200 + i) }
        let expected = texts.map { t.encode($0) }
        let results = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, t.encode(text)) } }
            var out = [[Int]](repeating: [], count: texts.count)
            for await (i, ids) in group { out[i] = ids }
            return out
        }
        #expect(results == expected)
    }
}
