import Atomics
import NIOHTTP1

/// Request ids that are unique across replicas without a syscall per request: a random
/// per-process half and a counter, written as a UUID (`3f9a1c2e-77d0-41b5-0000-00000000002a`)
/// because some engines (llama.cpp's server) refuse request ids of any other shape.
enum RequestID {
    private static let prefix: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        let random = hexDigits(generator.next() as UInt64, count: 16)
        return Array(random[0..<8]) + [0x2D] + Array(random[8..<12]) + [0x2D] + Array(random[12..<16]) + [0x2D]
    }()
    private static let counter = ManagedAtomic<UInt64>(0)
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Runs on every request: builds the 36 bytes directly, no intermediate strings.
    static func next() -> String {
        let count = counter.loadThenWrappingIncrement(ordering: .relaxed)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            for (index, byte) in prefix.enumerated() { buffer[index] = byte }
            var cursor = prefix.count
            for nibble in (0..<16).reversed() {
                if cursor == 23 {
                    buffer[cursor] = 0x2D
                    cursor += 1
                }
                buffer[cursor] = hex[Int((count >> (UInt64(nibble) * 4)) & 0xF)]
                cursor += 1
            }
            return cursor
        }
    }

    private static func hexDigits(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).reversed().map { hex[Int((value >> (UInt64($0) * 4)) & 0xF)] }
    }

    /// An id the client sent is echoed if it is short and printable, so it cannot smuggle header
    /// injection or unbounded data into logs.
    static func accept(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 128,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return value
    }
}

/// A request's ids: the gateway's own, unique per request (the ledger's key, what engines see),
/// and the client's `x-request-id` if it sent an acceptable one. Responses echo the client's, so
/// a client's choice never becomes a key that another request could collide with.
struct RequestIDs {
    let own = RequestID.next()
    let client: String?

    init(_ head: HTTPRequestHead?) {
        client = head.flatMap { RequestID.accept($0.headers.first(name: "x-request-id")) }
    }

    /// The id the response carries.
    var echoed: String { client ?? own }
}
