import Testing

@testable import TollgateWire

/// Strings are skipped eight bytes at a time while the bytes are plain ASCII; every byte that is
/// not must still be seen, wherever it falls in a word.
@Suite struct JSONScannerStringTests {
    /// The byte-at-a-time definition the word test must agree with.
    static func plain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    static func word(_ bytes: [UInt8]) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    @Test func theWordTestAgreesWithTheByteTestForEveryByteInEveryPlace() {
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = UInt8(value)
                #expect(JSONScanner.allPlainASCII(Self.word(bytes)) == Self.plain(UInt8(value)), "byte \(value) at \(position)")
            }
        }
    }

    @Test func theWordTestAgreesOnRandomWords() {
        // Bytes drawn mostly near the edges of the plain range, where a carry or borrow could leak.
        let edges: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0x81, 0xDF, 0xE0, 0xFF, 0x61]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let bytes = (0..<8).map { _ in Bool.random(using: &generator) ? edges.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator) }
            #expect(JSONScanner.allPlainASCII(Self.word(bytes)) == bytes.allSatisfy(Self.plain), "\(bytes)")
        }
    }

    /// A long ASCII string with one byte that ends it, escapes it or is invalid, at every offset.
    @Test(arguments: 0..<24)
    func everyByteThatMattersIsSeenWhereverItFalls(_ at: Int) throws {
        func scan(_ inner: [UInt8]) throws -> (range: Range<Int>, escaped: Bool) {
            let json = [UInt8(ascii: "\"")] + inner + [UInt8(ascii: "\"")]
            return try json.withUnsafeBytes { bytes in
                var scanner = JSONScanner(bytes)
                return try scanner.readStringRange()
            }
        }
        let text = [UInt8](repeating: UInt8(ascii: "x"), count: 24)
        var withByte = text
        for bad: UInt8 in [0x00, 0x0A, 0x1F, 0x80, 0xBF, 0xC0, 0xFF] {
            withByte[at] = bad
            #expect(throws: JSONSyntaxError.self, "byte \(bad) at \(at)") { try scan(withByte) }
        }
        withByte = text
        withByte.insert(contentsOf: Array(#"\""#.utf8), at: at)
        #expect(try scan(withByte) == (1..<(withByte.count + 1), true))
        withByte = text
        withByte.insert(contentsOf: Array("é中😀".utf8), at: at)
        #expect(try scan(withByte) == (1..<(withByte.count + 1), false))
        // A quote ends the string there: the rest is not part of it.
        withByte = text
        withByte[at] = UInt8(ascii: "\"")
        #expect(try scan(withByte).range == 1..<(at + 1))
    }
}
