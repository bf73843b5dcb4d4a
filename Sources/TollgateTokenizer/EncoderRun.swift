/// One encoding pass over valid UTF-8 text: added tokens, the three pre-tokenizer Splits, and BPE.
///
/// The Splits are run as one left-to-right scan with the same result as Hugging Face's
/// `Sequence` of Splits: a run of \p{N} (cut every 3 scalars) and a run of the CJK set are
/// level-2 pieces of their own, and the third Split's regex only sees inside one such piece, so
/// a scalar of another "mode" acts as end of input (also for the `(?!\S)` lookahead).
///
/// `Scalars` says how the text's scalars are read: ``UTF8Scalars`` for any text, ``ASCIIScalars``
/// for text known to be ASCII, whose specialization is far less code (see
/// ``DeepSeekTokenizer/countPlainASCII(_:)``).
struct EncoderRun<Scalars: ScalarReading> {
    let text: UnsafePointer<UInt8>
    let count: Int
    let classes: UnsafePointer<UInt8>
    let specials: AddedTokenMatcher
    let normalizedSpecials: AddedTokenMatcher
    var pieces: PieceEncoder

    /// Returned by `inMode` past the end of the current level-2 piece.
    private static var end: UInt8 { 0xFF }

    /// Runs the whole pipeline into `sink`.
    mutating func run<S: TokenSink>(_ sink: inout S) {
        var p = 0
        var special = specials.find(text, from: 0, end: count)
        while p < count {
            let limit = special?.start ?? count
            // HF matches the non-normalized added tokens first, then the normalized ones in
            // the text between them.
            var q = p
            while q < limit {
                if let m = normalizedSpecials.find(text, from: q, end: limit) {
                    split(q, m.start, &sink)
                    sink.append(UInt32(m.id))
                    q = m.start + m.length
                } else {
                    split(q, limit, &sink)
                    q = limit
                }
            }
            if let m = special {
                sink.append(UInt32(m.id))
                p = m.start + m.length
                special = specials.find(text, from: p, end: count)
            } else {
                p = count
            }
        }
    }

    @inline(__always)
    private func classAt(_ q: Int) -> (UInt8, Int) { Scalars.classAt(text + q, classes) }

    /// Base class of the scalar at `q` if it belongs to the current level-2 piece (same CJK mode,
    /// not a number, before `limit`), else `end`.
    @inline(__always)
    private func inMode(_ q: Int, _ limit: Int, _ mode: UInt8) -> (UInt8, Int) {
        if q >= limit { return (Self.end, 0) }
        let (c, l) = classAt(q)
        let base = c & ScalarClass.baseMask
        if c & ScalarClass.cjk != mode || base == ScalarClass.number { return (Self.end, 0) }
        return (base, l)
    }

    @inline(__always)
    private func run(_ from: Int, _ limit: Int, _ mode: UInt8, _ cls: UInt8) -> Int {
        var q = from
        while true {
            let (c, l) = inMode(q, limit, mode)
            if c != cls { return q }
            q += l
        }
    }

    @inline(__always)
    private static func isASCIILetter(_ b: UInt8) -> Bool {
        (b | 0x20) &- 0x61 < 26
    }

    /// Pre-tokenizes `text[a..<b]` (no added tokens inside) and BPE-encodes every piece.
    @inline(__always)
    mutating func split<S: TokenSink>(_ a: Int, _ b: Int, _ sink: inout S) {
        var p = a
        var gapStart = -1
        var gapMode: UInt8 = 0
        while p < b {
            let (c, l) = classAt(p)
            let base = c & ScalarClass.baseMask
            if base == ScalarClass.number {
                if gapStart >= 0 {
                    pieces.encode(text, gapStart, p, &sink)
                    gapStart = -1
                }
                var q = p + l
                var k = 1
                while k < 3 && q < b {
                    let (c2, l2) = classAt(q)
                    if c2 & ScalarClass.baseMask != ScalarClass.number { break }
                    q += l2
                    k += 1
                }
                pieces.encode(text, p, q, &sink)
                p = q
                continue
            }
            let mode = c & ScalarClass.cjk
            let end = matchEnd(p, l, base, mode, b)
            if end < 0 {
                // Unmatched scalars form gap pieces; a gap never spans two level-2 pieces.
                if gapStart >= 0 && gapMode != mode {
                    pieces.encode(text, gapStart, p, &sink)
                    gapStart = -1
                }
                if gapStart < 0 {
                    gapStart = p
                    gapMode = mode
                }
                p += l
                continue
            }
            if gapStart >= 0 {
                pieces.encode(text, gapStart, p, &sink)
                gapStart = -1
            }
            pieces.encode(text, p, end, &sink)
            p = end
        }
        if gapStart >= 0 { pieces.encode(text, gapStart, b, &sink) }
    }

    /// End of the match of the third Split's regex at `p`, or -1 when no alternative matches:
    /// `[!-/:-@[-`{-~][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ | ?[\p{P}\p{S}]+[\r\n]*
    ///  | \s*[\r\n]+ | \s+(?!\S) | \s+` (leftmost-first alternation).
    @inline(__always)
    private func matchEnd(_ p: Int, _ l: Int, _ base: UInt8, _ mode: UInt8, _ limit: Int) -> Int {
        switch base {
        case ScalarClass.letterOrMark:
            return run(p + l, limit, mode, ScalarClass.letterOrMark)
        case ScalarClass.punctOrSymbol:
            if text[p] < 0x80 && p + 1 < limit && Self.isASCIILetter(text[p + 1]) {
                var q = p + 2
                while q < limit && Self.isASCIILetter(text[q]) { q += 1 }
                return q
            }
            let q = run(p + l, limit, mode, ScalarClass.punctOrSymbol)
            return run(q, limit, mode, ScalarClass.newline)
        case ScalarClass.space, ScalarClass.other:
            let (next, _) = inMode(p + l, limit, mode)
            if next == ScalarClass.letterOrMark { return run(p + l, limit, mode, ScalarClass.letterOrMark) }
            if base == ScalarClass.other { return -1 }
            if text[p] == 0x20 && next == ScalarClass.punctOrSymbol {
                let q = run(p + 1, limit, mode, ScalarClass.punctOrSymbol)
                return run(q, limit, mode, ScalarClass.newline)
            }
            return whitespaceEnd(p, limit, mode)
        case ScalarClass.newline:
            return whitespaceEnd(p, limit, mode)
        default:
            return -1
        }
    }

    /// `\s*[\r\n]+` (backtracks to the last newline of the run), else `\s+(?!\S)` (all of the run
    /// at the end of the piece, else all but its last scalar), else `\s+` (one scalar).
    @inline(__always)
    private func whitespaceEnd(_ p: Int, _ limit: Int, _ mode: UInt8) -> Int {
        var q = p
        var lastNewlineEnd = -1
        var lastStart = p
        var scalars = 0
        var atEnd = false
        while true {
            let (c, l) = inMode(q, limit, mode)
            if c == ScalarClass.space || c == ScalarClass.newline {
                if c == ScalarClass.newline { lastNewlineEnd = q + l }
                lastStart = q
                q += l
                scalars += 1
            } else {
                atEnd = c == Self.end
                break
            }
        }
        if lastNewlineEnd >= 0 { return lastNewlineEnd }
        if atEnd { return q }
        if scalars >= 2 { return lastStart }
        return q
    }
}

/// How ``EncoderRun`` reads the class and length of the scalar at a position.
protocol ScalarReading {
    /// Class (from `classes`, indexed by scalar value) and UTF-8 length of the scalar at `p`.
    static func classAt(_ p: UnsafePointer<UInt8>, _ classes: UnsafePointer<UInt8>) -> (UInt8, Int)
}

/// Any valid UTF-8.
enum UTF8Scalars: ScalarReading {
    @inline(__always)
    static func classAt(_ p: UnsafePointer<UInt8>, _ classes: UnsafePointer<UInt8>) -> (UInt8, Int) {
        let b0 = p[0]
        if b0 < 0x80 { return (classes[Int(b0)], 1) }
        if b0 < 0xE0 {
            let cp = Int(b0 & 0x1F) << 6 | Int(p[1] & 0x3F)
            return (classes[cp], 2)
        }
        if b0 < 0xF0 {
            let cp = Int(b0 & 0x0F) << 12 | Int(p[1] & 0x3F) << 6 | Int(p[2] & 0x3F)
            return (classes[cp], 3)
        }
        let cp = Int(b0 & 0x07) << 18 | Int(p[1] & 0x3F) << 12 | Int(p[2] & 0x3F) << 6 | Int(p[3] & 0x3F)
        return (classes[cp], 4)
    }
}

/// Text the caller checked to be ASCII: one byte per scalar, never in the CJK set (the mask lets
/// the compiler drop the CJK mode checks).
enum ASCIIScalars: ScalarReading {
    @inline(__always)
    static func classAt(_ p: UnsafePointer<UInt8>, _ classes: UnsafePointer<UInt8>) -> (UInt8, Int) {
        (classes[Int(p[0])] & ScalarClass.baseMask, 1)
    }
}
