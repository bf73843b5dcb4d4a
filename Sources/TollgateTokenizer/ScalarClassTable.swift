/// The per-code-point classes the pre-tokenizer needs. The low three bits are the base class;
/// `cjk` marks the code points of the second Split, `[一-龥぀-ゟ゠-ヿ]`.
enum ScalarClass {
    /// Not L, M, N, P, S nor White_Space (Cc, Cf, Cn, Co, Cs).
    static let other: UInt8 = 0
    /// \p{L} or \p{M}: interchangeable in the third Split's regex.
    static let letterOrMark: UInt8 = 1
    /// \p{P} or \p{S}: interchangeable in the third Split's regex.
    static let punctOrSymbol: UInt8 = 2
    /// White_Space other than CR and LF.
    static let space: UInt8 = 3
    /// CR or LF.
    static let newline: UInt8 = 4
    /// \p{N}.
    static let number: UInt8 = 5
    /// Mask of the base class.
    static let baseMask: UInt8 = 0x07
    /// In U+4E00–U+9FA5, U+3040–U+309F or U+30A0–U+30FF.
    static let cjk: UInt8 = 0x08
    /// The code points `cjk` marks. Each is three bytes in UTF-8, led by E3 to E9.
    static let cjkRanges: [ClosedRange<Int>] = [0x4E00...0x9FA5, 0x3040...0x309F, 0x30A0...0x30FF]
}

/// One byte of class per Unicode scalar (1.1 MB), expanded once from the generated Unicode 16.0
/// range table, so classifying a scalar is one load.
final class ScalarClassTable: @unchecked Sendable {
    // @unchecked: the buffer is written only in init and never freed or mutated afterwards.
    static let shared = ScalarClassTable()

    let classes: UnsafePointer<UInt8>

    private init() {
        let count = 0x110000
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        table.initialize(repeating: ScalarClass.other, count: count)
        let ranges = unicodeClassRanges
        var i = 0
        while i + 2 < ranges.count {
            let first = Int(ranges[i]), last = Int(ranges[i + 1]), cls = UInt8(ranges[i + 2])
            (table + first).update(repeating: cls, count: last - first + 1)
            i += 3
        }
        for range in ScalarClass.cjkRanges {
            for cp in range { table[cp] |= ScalarClass.cjk }
        }
        classes = UnsafePointer(table)
    }
}
