import Crypto

/// The SHA-256 of an API key's plaintext: what the database stores and the cache is keyed by.
///
/// Held as four words so hashing it into a dictionary is cheap on the hot path. Equality is
/// computed without early exit, so comparing digests takes the same time whatever they share.
public struct KeyDigest: Hashable, Sendable {
    let w0: UInt64
    let w1: UInt64
    let w2: UInt64
    let w3: UInt64

    /// The digest of a bearer key as the client sent it.
    public init(plaintext: some StringProtocol) {
        self.init(digest: SHA256.hash(data: Array(plaintext.utf8)))
    }

    public init(digest: SHA256Digest) {
        self.init(bytes: Array(digest))
    }

    /// From 32 raw bytes (as stored in `api_keys.key_hash`); nil for any other length.
    public init?(rawBytes: [UInt8]) {
        guard rawBytes.count == 32 else { return nil }
        self.init(bytes: rawBytes)
    }

    private init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in offset..<(offset + 8) { value = value << 8 | UInt64(bytes[index]) }
            return value
        }
        self.w0 = word(0)
        self.w1 = word(8)
        self.w2 = word(16)
        self.w3 = word(24)
    }

    /// The 32 digest bytes, big-endian word order (the same bytes SHA-256 produced).
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return result
    }

    public static func == (lhs: KeyDigest, rhs: KeyDigest) -> Bool {
        ((lhs.w0 ^ rhs.w0) | (lhs.w1 ^ rhs.w1) | (lhs.w2 ^ rhs.w2) | (lhs.w3 ^ rhs.w3)) == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(w0)
    }
}

/// Making new API keys.
public enum APIKeyGenerator {
    /// Every Tollgate key starts with this, so leaked keys are easy to recognise and scan for.
    public static let scheme = "tg-"
    /// How many characters of the plaintext are kept visible (`tg-` and 8 more).
    public static let prefixLength = 11

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new key: `tg-` followed by 32 random bytes in base62 (43 characters).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return scheme + base62(bytes)
    }

    /// The visible prefix of a plaintext key, e.g. `tg-7Hq2xK9a`.
    public static func prefix(of plaintext: String) -> String { String(plaintext.prefix(prefixLength)) }

    /// Fixed-width base62 of a big-endian number (43 digits for 32 bytes).
    static func base62(_ bytes: [UInt8]) -> String {
        var number = bytes
        var digits: [UInt8] = []
        // 62^43 > 2^256, so 43 digits always suffice; fixed width keeps every key the same length.
        for _ in 0..<43 {
            var remainder = 0
            for index in number.indices {
                let value = remainder * 256 + Int(number[index])
                number[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}
