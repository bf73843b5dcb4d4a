/// Strict UTF-8 validation (no overlong forms, no surrogates, nothing above U+10FFFF).
enum UTF8Validation {
    /// Offset of the first byte of the first invalid sequence, or nil if all of `b` is valid.
    static func firstInvalidOffset(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = b.count
        var i = 0
        while i < n {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && b[i + k] & 0xC0 == 0x80 }
            if c >= 0xC2 && c <= 0xDF {
                guard cont(1) else { return i }
                i += 2
            } else if c >= 0xE0 && c <= 0xEF {
                guard cont(1), cont(2) else { return i }
                let c1 = b[i + 1]
                if c == 0xE0 && c1 < 0xA0 { return i }  // overlong
                if c == 0xED && c1 >= 0xA0 { return i }  // surrogate
                i += 3
            } else if c >= 0xF0 && c <= 0xF4 {
                guard cont(1), cont(2), cont(3) else { return i }
                let c1 = b[i + 1]
                if c == 0xF0 && c1 < 0x90 { return i }  // overlong
                if c == 0xF4 && c1 >= 0x90 { return i }  // above U+10FFFF
                i += 4
            } else {
                return i
            }
        }
        return nil
    }
}
