import Testing

@testable import TollgateWire

/// Strings are skipped eight bytes at a time while the bytes are plain ASCII, straight to the first
/// that is not; every such byte must still be seen, wherever it falls in a word.
@Suite struct JSONScannerStringTests {
    /// The byte-at-a-time definition the word test must agree with.
    static func plain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    static func word(_ bytes: [UInt8]) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// How far the scanner skips on this word: to its lowest flagged byte, or all eight.
    static func scannerPrefix(_ bytes: [UInt8]) -> Int {
        JSONScanner.flaggedBytes(word(bytes)).trailingZeroBitCount >> 3
    }

    /// The byte-at-a-time answer the word test must give.
    static func plainPrefix(_ bytes: [UInt8]) -> Int {
        bytes.firstIndex { !plain($0) } ?? 8
    }

    @Test func theWordTestAgreesWithTheByteTestForEveryByteInEveryPlace() {
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = UInt8(value)
                #expect(Self.scannerPrefix(bytes) == Self.plainPrefix(bytes), "byte \(value) at \(position)")
                // After a byte that is not plain, every later byte is flagged or not alike.
                for later in [0x00, 0x22, 0x5C, 0x80, 0xFF] where position < 7 {
                    bytes[7] = UInt8(later)
                    #expect(Self.scannerPrefix(bytes) == Self.plainPrefix(bytes), "\(bytes)")
                }
            }
        }
    }

    @Test func theWordTestAgreesOnRandomWords() {
        // Bytes drawn mostly near the edges of the plain range, where a carry or borrow could leak.
        let edges: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0x81, 0xDF, 0xE0, 0xFF, 0x61]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let bytes = (0..<8).map { _ in Bool.random(using: &generator) ? edges.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator) }
            #expect(Self.scannerPrefix(bytes) == Self.plainPrefix(bytes), "\(bytes)")
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

    /// Every lead byte from 0x80 with every second byte and each kind of third and fourth byte
    /// (ASCII, the lowest and highest continuation byte, a lead): the scanner accepts exactly what
    /// Swift's own UTF-8 validation accepts (no overlong forms, surrogates, values above U+10FFFF,
    /// stray or missing continuation bytes).
    @Test func nonASCIIIsAcceptedExactlyWhenItIsWellFormedUTF8() {
        let kinds: [UInt8] = [0x41, 0x80, 0xBF, 0xC0]
        var json: [UInt8] = [0x22, 0, 0, 0, 0, 0x22]
        var checked = 0
        for lead in 0x80...0xFF {
            for second in 0...0xFF {
                for third in kinds {
                    for fourth in kinds {
                        json[1...4] = [UInt8(lead), UInt8(second), third, fourth]
                        let valid = String(validating: json[1...4], as: UTF8.self) != nil
                            && !json[1...4].contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
                        let scanned = json.withUnsafeBytes { bytes in
                            var scanner = JSONScanner(bytes)
                            return (try? scanner.readStringRange())?.range
                        }
                        if valid != (scanned == 1..<5) {
                            Issue.record("\(json[1...4].map { String($0, radix: 16) }): valid \(valid), scanned \(String(describing: scanned))")
                            return
                        }
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 128 * 256 * 16)
    }

    /// Long runs of CJK and emoji, broken by a quote, an escape or an invalid byte at every offset.
    @Test func longNonASCIIRunsEndWhereTheyShould() throws {
        let run = Array(String(repeating: "模型请求😀é", count: 8).utf8)
        for at in stride(from: 0, through: run.count, by: 1) where at == run.count || run[at] & 0xC0 != 0x80 {
            for (insert, ends, valid) in [([UInt8(ascii: "\"")], true, true), (Array(#"\n"#.utf8), false, true), ([0xFF], false, false)] {
                var inner = run
                inner.insert(contentsOf: insert, at: at)
                let json = [UInt8(ascii: "\"")] + inner + [UInt8(ascii: "\"")]
                let scanned = json.withUnsafeBytes { bytes in
                    var scanner = JSONScanner(bytes)
                    return (try? scanner.readStringRange())?.range
                }
                if !valid {
                    #expect(scanned == nil, "0xFF at \(at)")
                } else {
                    #expect(scanned == 1..<(ends ? at + 1 : inner.count + 1), "\(insert) at \(at)")
                }
            }
        }
    }
}
