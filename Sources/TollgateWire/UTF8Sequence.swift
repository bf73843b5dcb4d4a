/// Well-formed UTF-8, by Unicode's table of well-formed byte sequences: no overlong forms, no
/// surrogates, nothing above U+10FFFF. Shared by the JSON scanner and the tokenizer's input check.
public enum UTF8Sequence {
    /// Moves `i` past the well-formed sequence whose lead byte `lead` (0x80 or above) is at `i`;
    /// false, with `i` unchanged, when it is not well-formed. The common leads need only their
    /// continuation bytes checked: Chinese or Japanese text is mostly three-byte scalars, and
    /// decoding each cost it ten times what plain ASCII costs.
    @inlinable @inline(__always)
    public static func skipNonASCII(_ lead: UInt8, at i: inout Int, in bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        let at = i
        func continuation(_ k: Int) -> Bool { at + k < count && bytes[at + k] & 0xC0 == 0x80 }
        switch lead {
        case 0xC2...0xDF:
            guard continuation(1) else { return false }
            i += 2
        case 0xE1...0xEC, 0xEE...0xEF:
            guard continuation(1), continuation(2) else { return false }
            i += 3
        case 0xE0, 0xED:
            // E0 needs A0...BF next (else overlong), ED 80...9F (else a surrogate).
            guard continuation(1), continuation(2), (bytes[at + 1] >= 0xA0) == (lead == 0xE0) else { return false }
            i += 3
        case 0xF0...0xF4:
            // F0 needs 90...BF next (else overlong), F4 80...8F (else above U+10FFFF).
            guard continuation(1), continuation(2), continuation(3),
                lead != 0xF0 || bytes[at + 1] >= 0x90, lead != 0xF4 || bytes[at + 1] < 0x90
            else { return false }
            i += 4
        default:
            return false
        }
        return true
    }
}
