import Foundation
import Testing
import TollgateConfig

@Suite("Times in price books and on the command line are read strictly")
struct ISOTimeTests {
    @Test func readsUTCTimes() throws {
        #expect(try ISOTime.parse("1970-01-01T00:00:00Z").timeIntervalSince1970 == 0)
        #expect(try ISOTime.parse("2026-09-01T00:00:00Z").timeIntervalSince1970 == 1_788_220_800)
        #expect(try ISOTime.parse("2000-02-29T23:59:59Z").timeIntervalSince1970 == 951_868_799)
        #expect(try ISOTime.parse("2026-09-01T00:00:00.25Z").timeIntervalSince1970 == 1_788_220_800.25)
    }

    @Test func daysAndOffsetsOnlyWhereAccepted() throws {
        #expect(throws: ISOTime.Invalid.self) { try ISOTime.parse("2026-09-01") }
        #expect(throws: ISOTime.Invalid.self) { try ISOTime.parse("2026-09-01T02:00:00+02:00") }
        #expect(try ISOTime.parse("2026-09-01", accepting: .day).timeIntervalSince1970 == 1_788_220_800)
        #expect(try ISOTime.parse("2026-09-01T02:00:00+02:00", accepting: .offset).timeIntervalSince1970 == 1_788_220_800)
        #expect(try ISOTime.parse("2026-08-31T19:30:00-04:30", accepting: .offset).timeIntervalSince1970 == 1_788_220_800)
    }

    @Test func refusesWhatFoundationWouldRollOver() {
        let refused: [(String, String)] = [
            ("2026-02-30T00:00:00Z", "2026-02 has 28 days"),
            ("2100-02-29T00:00:00Z", "2100-02 has 28 days"),
            ("2026-04-31T00:00:00Z", "2026-04 has 30 days"),
            ("2026-13-01T00:00:00Z", "no month 13"),
            ("2026-06-01T24:00:00Z", "is not a time of day"),
            ("2026-06-01T12:60:00Z", "is not a time of day"),
            ("2026-06-01T12:00:60Z", "is not a time of day"),
            ("12026-06-01T12:00:00Z", "not an ISO 8601"),
            ("2026-06-01T12:00:00ZZ", "not an ISO 8601"),
            ("2026-1-1T0:0:0Z", "not an ISO 8601"),
            (" 2026-06-01T12:00:00Z", "not an ISO 8601"),
            ("２０２６-06-01T12:00:00Z", "not an ISO 8601"),
            ("2026-06-01T12:00:00.Z", "not an ISO 8601"),
            ("2026-06-01T12:00:00", "not an ISO 8601"),
            ("", "not an ISO 8601"),
        ]
        for (text, reason) in refused {
            #expect(throws: ISOTime.Invalid.self, "\(text)") { try ISOTime.parse(text, accepting: [.day, .offset]) }
            do {
                _ = try ISOTime.parse(text, accepting: [.day, .offset])
            } catch {
                #expect(error.reason.contains(reason), "\(text): \(error.reason)")
            }
        }
    }

    /// Every second Foundation writes back is read as the same instant, across leap days and
    /// centuries.
    @Test func agreesWithFoundationOnWhatItWrites() throws {
        let formatter = ISO8601DateFormatter()
        var state: UInt64 = 0x5DEE_CE66
        for _ in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let seconds = Double((state >> 20) % 7_258_118_400)  // 1970 to 2200
            let date = Date(timeIntervalSince1970: seconds)
            let text = formatter.string(from: date)
            #expect(try ISOTime.parse(text) == date, "\(text)")
        }
    }
}
