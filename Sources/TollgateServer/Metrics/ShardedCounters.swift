import Atomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of integer counters that every event loop adds to and a scrape sums.
///
/// Each thread adds to its own shard (chosen by a hash of the thread's id), 128 bytes apart from
/// the others, so two event loops counting the same request kind do not pass one cache line back
/// and forth on every request. Two threads that happen to share a shard only share its line.
final class ShardedCounters: Sendable {
    private static let shardBits = 4
    private static let shards = 1 << shardBits
    /// Counters per shard, rounded up to whole 128-byte blocks.
    private let stride: Int
    let count: Int
    // Written only through atomics; freed never (one per gateway, for the life of the process).
    nonisolated(unsafe) private let storage: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>

    init(count: Int) {
        self.count = count
        self.stride = (count + 15) & ~15
        let total = stride * Self.shards
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: total * MemoryLayout<UnsafeAtomic<Int>.Storage>.stride, alignment: 128)
        storage = raw.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: total)
        storage.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: total)
    }

    deinit {
        storage.deinitialize(count: stride * Self.shards)
        storage.deallocate()
    }

    @inline(__always)
    func add(_ index: Int, _ amount: Int = 1) {
        precondition(index >= 0 && index < count, "counter \(index) of \(count)")
        let atomic = UnsafeAtomic<Int>(at: storage + Self.shardOfThisThread() * stride + index)
        atomic.wrappingIncrement(by: amount, ordering: .relaxed)
    }

    /// The counter's total over every shard.
    func sum(_ index: Int) -> Int {
        var total = 0
        for shard in 0..<Self.shards {
            total &+= UnsafeAtomic<Int>(at: storage + shard * stride + index).load(ordering: .relaxed)
        }
        return total
    }

    @inline(__always)
    private static func shardOfThisThread() -> Int {
        // pthread_t is the address of the thread's control block: multiply to spread its bits.
        let id = UInt64(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))))
        return Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> (64 - UInt64(shardBits)))
    }
}
