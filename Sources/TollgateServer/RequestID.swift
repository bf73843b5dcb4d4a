import Atomics

/// Request ids that are unique across replicas without a syscall per request: a random
/// per-process half and a counter, written as a UUID (`3f9a1c2e-77d0-41b5-0000-00000000002a`)
/// because some engines (llama.cpp's server) refuse request ids of any other shape.
enum RequestID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let random = hex(generator.next() as UInt64, digits: 16)
        let chars = Array(random)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
    }()
    private static let counter = ManagedAtomic<UInt64>(0)

    static func next() -> String {
        let count = Array(hex(counter.loadThenWrappingIncrement(ordering: .relaxed), digits: 16))
        return prefix + String(count[0..<4]) + "-" + String(count[4..<16])
    }

    /// An id the client sent is echoed if it is short and printable, so it cannot smuggle header
    /// injection or unbounded data into logs.
    static func accept(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 128,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return value
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
