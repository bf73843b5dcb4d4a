import TollgateWire

/// Strict UTF-8 validation (``UTF8Sequence``: no overlong forms, no surrogates, nothing above
/// U+10FFFF).
enum UTF8Validation {
    /// Offset of the first byte of the first invalid sequence, or nil if all of `b` is valid.
    static func firstInvalidOffset(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let bytes = UnsafeRawBufferPointer(b)
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            if !UTF8Sequence.skipNonASCII(lead, at: &i, in: bytes) { return i }
        }
        return nil
    }
}
