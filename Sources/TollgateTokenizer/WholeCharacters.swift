/// The 2- and 3-byte characters that byte-pair encoding always completes into their own token
/// before any of their bytes joins a neighbour, so an encoder may start such a character as that
/// token instead of as its bytes. The ids come out the same with two merges fewer per Chinese
/// character, which were most of the work on Chinese text (docs/TOKENIZER.md, "Whole characters").
///
/// Why it is exact, checked per character at load: BPE always applies the lowest-ranked merge in
/// the piece. Let R be the highest rank among the merges that build the character from its bytes
/// on their own. While the character is unfinished, one of its own merges (rank ≤ R) is always
/// pending, so a merge of rank above R cannot run first. A character is kept only when every merge
/// that could join it to a neighbour ranks above R: those with one of its leading partial symbols
/// on the right, one of its trailing partial symbols on the left, or its finished token on either
/// side. Its own merges then commute with everything else in the piece, and starting from the
/// finished token gives the same result.
///
/// A character of the pre-tokenizer's CJK set (`ScalarClass.cjkRanges`) only ever shares a piece
/// with characters of that set, all three bytes led by E3 to E9, so for it only merges with such
/// neighbours count: a left neighbour made of those bytes and ending a character, a right one
/// made of them and starting one. That admits the characters whose last byte merges early with,
/// say, a Bengali or Hebrew lead byte, which never follows them in a piece.
final class WholeCharacters: @unchecked Sendable {
    // @unchecked: filled in init, read-only afterwards; freed in deinit.
    /// Token id + 1 of each scalar below U+10000 that qualifies; 0 where the encoder must start
    /// from the bytes (ASCII, surrogates, characters without a token or that fail the check).
    let ids: UnsafeMutablePointer<UInt32>
    /// Scalars that qualified (for tests and the docs' figures).
    let count: Int

    static let scalarLimit = 0x1_0000

    /// A table that qualifies no character: the encoder then starts every piece from its bytes.
    init() {
        ids = .allocate(capacity: Self.scalarLimit)
        ids.initialize(repeating: 0, count: Self.scalarLimit)
        count = 0
    }

    /// `mergeList` is the file's merges in rank order (a pair listed twice counts at its first
    /// rank here, which only makes the check stricter).
    init(
        vocabulary: VocabularyTable, merges: MergeTable, mergeList: [(left: UInt32, right: UInt32, merged: UInt32)],
        byteIDs: [UInt32]
    ) {
        ids = .allocate(capacity: Self.scalarLimit)
        ids.initialize(repeating: 0, count: Self.scalarLimit)
        // Which tokens could stand beside a CJK character in its piece: made only of the bytes of
        // the CJK set's characters, and ending one (left neighbour) or starting one (right).
        let tokens = vocabulary.count
        var cjkLeftNeighbour = [Bool](repeating: false, count: tokens)
        var cjkRightNeighbour = [Bool](repeating: false, count: tokens)
        for id in 0..<tokens {
            let start = Int(vocabulary.offsets[id]), end = Int(vocabulary.offsets[id + 1])
            guard end > start else { continue }
            let p = vocabulary.bytes
            guard (start..<end).allSatisfy({ Self.isCJKByte(p[$0]) }) else { continue }
            cjkLeftNeighbour[id] = p[end - 1] < 0xC0
            cjkRightNeighbour[id] = p[start] >= 0xE3
        }
        // The lowest rank at which each token is a merge's left side, and its right side: against
        // any neighbour, and against a neighbour inside a CJK piece.
        var lowestAsLeft = [UInt32](repeating: .max, count: tokens)
        var lowestAsRight = [UInt32](repeating: .max, count: tokens)
        var lowestAsLeftInCJK = [UInt32](repeating: .max, count: tokens)
        var lowestAsRightInCJK = [UInt32](repeating: .max, count: tokens)
        for (rank, m) in mergeList.enumerated().reversed() {
            let left = Int(m.left), right = Int(m.right)
            guard left < tokens, right < tokens else { continue }
            lowestAsLeft[left] = UInt32(rank)
            lowestAsRight[right] = UInt32(rank)
            if cjkRightNeighbour[right] { lowestAsLeftInCJK[left] = UInt32(rank) }
            if cjkLeftNeighbour[left] { lowestAsRightInCJK[right] = UInt32(rank) }
        }
        var qualified = 0
        var symbols: [UInt32] = []
        var leading: [UInt32] = []
        var trailing: [UInt32] = []
        for id in 0..<tokens {
            // Tokens that are one 2- or 3-byte character.
            let start = Int(vocabulary.offsets[id])
            let length = Int(vocabulary.offsets[id + 1]) - start
            let p = vocabulary.bytes + start
            guard let (scalar, width) = Self.character(at: p, available: length), width == length,
                vocabulary.lookup(p, length) == id  // the id a piece of these bytes gets
            else { continue }
            // The character's merges on its own, as `PieceEncoder` runs them (leftmost on ties).
            symbols = (0..<length).map { byteIDs[Int(p[$0])] }
            leading.removeAll(keepingCapacity: true)
            trailing.removeAll(keepingCapacity: true)
            var highestRank: UInt32 = 0
            while symbols.count > 1 {
                leading.append(symbols[0])
                trailing.append(symbols[symbols.count - 1])
                var best = -1
                var bestValue = MergeTable.none
                for i in 0..<(symbols.count - 1) {
                    let value = merges.lookup(symbols[i], symbols[i + 1])
                    if value < bestValue { (best, bestValue) = (i, value) }
                }
                if best < 0 { break }
                highestRank = max(highestRank, UInt32(truncatingIfNeeded: bestValue >> 32))
                symbols[best] = UInt32(truncatingIfNeeded: bestValue)
                symbols.remove(at: best + 1)
            }
            guard symbols == [UInt32(id)] else { continue }
            let inCJK = ScalarClass.cjkRanges.contains { $0.contains(scalar) }
            let asLeft = inCJK ? lowestAsLeftInCJK : lowestAsLeft
            let asRight = inCJK ? lowestAsRightInCJK : lowestAsRight
            let joinsLater =
                leading.allSatisfy { asRight[Int($0)] > highestRank }
                && trailing.allSatisfy { asLeft[Int($0)] > highestRank }
                && asRight[id] > highestRank && asLeft[id] > highestRank
            if joinsLater {
                ids[scalar] = UInt32(id) + 1
                qualified += 1
            }
        }
        count = qualified
    }

    /// Whether `byte` occurs in the UTF-8 of the CJK set: a continuation byte, or a lead from E3 to E9.
    private static func isCJKByte(_ byte: UInt8) -> Bool {
        (0x80..<0xC0).contains(byte) || (0xE3...0xE9).contains(byte)
    }

    /// The 2- or 3-byte character at `p`, with `available` bytes readable there: its scalar and
    /// width, or nil when those bytes are not one (ASCII, a 4-byte lead, malformed, overlong or a
    /// surrogate). The encoder reads pieces of valid text with it, and the load reads tokens.
    @inline(__always)
    static func character(at p: UnsafePointer<UInt8>, available: Int) -> (scalar: Int, width: Int)? {
        let lead = Int(p[0])
        if lead >= 0xC2 && lead < 0xE0 {
            guard available >= 2, p[1] & 0xC0 == 0x80 else { return nil }
            return ((lead & 0x1F) << 6 | Int(p[1] & 0x3F), 2)
        }
        guard lead >= 0xE0 && lead < 0xF0, available >= 3, p[1] & 0xC0 == 0x80, p[2] & 0xC0 == 0x80 else { return nil }
        let scalar = (lead & 0x0F) << 12 | Int(p[1] & 0x3F) << 6 | Int(p[2] & 0x3F)
        guard scalar >= 0x800, scalar & 0xF800 != 0xD800 else { return nil }
        return (scalar, 3)
    }

    /// A table that qualifies no character, shared (tests merge from bytes with it).
    static let none = WholeCharacters()

    deinit { ids.deallocate() }
}
