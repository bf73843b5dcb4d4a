/// Hashing and comparison of short byte strings (vocabulary tokens are at most 128 bytes).
enum ByteHash {
    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = (a ^ 0x2D35_8DCC_AA6C_78A5).multipliedFullWidth(by: b ^ 0x8BB8_4B93_962E_ACC9)
        return r.high ^ r.low
    }

    /// A fast 64-bit hash of `count` bytes at `p` (wyhash-style mixing, eight bytes at a time).
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        if count <= 8 { return hash(word: word(p, count), count: count) }
        var h = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        var i = 0
        while i + 8 <= count {
            h = mix(h, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            i += 8
        }
        if i < count { h = mix(h, word(p + i, count - i)) }
        return h
    }

    /// ``hash(_:_:)`` of at most eight bytes, given as their ``word(_:_:)``.
    @inline(__always)
    static func hash(word: UInt64, count: Int) -> UInt64 {
        mix(UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15, word)
    }

    /// The first `min(count, 8)` bytes at `p` as a little-endian word, zero-padded. Short counts
    /// take two overlapping loads (or three bytes) instead of a loop: each byte lands at its own
    /// position whichever load brings it.
    @inline(__always)
    static func word(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        let raw = UnsafeRawPointer(p)
        if count >= 8 { return raw.loadUnaligned(as: UInt64.self) }
        if count >= 4 {
            let low = UInt64(raw.loadUnaligned(as: UInt32.self))
            let high = UInt64(raw.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            return low | high &<< (8 * (count - 4))
        }
        if count == 0 { return 0 }
        let middle = count / 2
        return UInt64(p[0]) | UInt64(p[middle]) &<< (8 * middle) | UInt64(p[count - 1]) &<< (8 * (count - 1))
    }

    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var i = 0
        while i + 8 <= count {
            if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
                != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
            {
                return false
            }
            i += 8
        }
        while i < count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }
}

/// The GPT-2 byte-level alphabet: each byte is shown as one printable character
/// (`!`–`~`, U+00A1–U+00AC and U+00AE–U+00FF as themselves, the other 68 bytes as U+0100…U+0143).
enum ByteLevelAlphabet {
    /// Scalar value (< 0x144) to byte, or -1 when the scalar is not in the alphabet.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        var next = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Int16(b)
            } else {
                table[next] = Int16(b)
                next += 1
            }
        }
        return table
    }()

    /// Decodes a byte-level string (UTF-8 bytes of alphabet characters) to raw bytes at `out`,
    /// which has room for `text.count` bytes (a character is never shorter than its byte).
    /// Returns the number of bytes, or nil if a character is outside the alphabet (such tokens
    /// are not reachable by BPE).
    static func decode(_ text: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int? {
        byteForScalar.withUnsafeBufferPointer { table in
            var i = 0
            var count = 0
            let n = text.count
            while i < n {
                let b0 = text[i]
                var scalar: Int
                if b0 < 0x80 {
                    scalar = Int(b0)
                    i += 1
                } else if b0 & 0xE0 == 0xC0 && i + 1 < n {
                    scalar = Int(b0 & 0x1F) << 6 | Int(text[i + 1] & 0x3F)
                    i += 2
                } else {
                    return nil
                }
                guard scalar < 0x144, table[scalar] >= 0 else { return nil }
                out[count] = UInt8(truncatingIfNeeded: table[scalar])
                count += 1
            }
            return count
        }
    }
}
