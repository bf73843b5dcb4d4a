import Atomics

/// Request ids that are unique across replicas without a syscall per request: a random
/// per-process prefix and a counter (`req_3f9a1c2e000000000000002a`).
enum RequestID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        return "req_" + hex(UInt64(truncatingIfNeeded: generator.next() as UInt64) & 0xFFFF_FFFF, digits: 8)
    }()
    private static let counter = ManagedAtomic<UInt64>(0)

    static func next() -> String {
        prefix + hex(counter.loadThenWrappingIncrement(ordering: .relaxed), digits: 16)
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
