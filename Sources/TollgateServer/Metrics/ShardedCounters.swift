import Atomics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of integer counters that every event loop adds to and a scrape sums.
///
/// Each thread that counts gets its own block of the counters, found through a thread-specific
/// key, and is the only one to write it: an add is a plain load and store, with no locked
/// instruction and no cache line shared with another event loop. A scrape sums every block ever
/// made (a block outlives its thread, so nothing counted is lost).
final class ShardedCounters: Sendable {
    let count: Int
    /// Counters per block, rounded up to whole 128-byte lines.
    private let stride: Int
    private let key: pthread_key_t
    /// Every block made so far, for the scrape; freed with the counters.
    private let blocks = Mutex<[UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>]>([])

    init(count: Int) {
        self.count = count
        self.stride = (count + 15) & ~15
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed: \(status)")
        self.key = key
    }

    deinit {
        pthread_key_delete(key)
        blocks.withLock { blocks in
            for block in blocks {
                block.deinitialize(count: stride)
                block.deallocate()
            }
        }
    }

    /// Adds `amount` to counter `index` in this thread's block.
    @inline(__always)
    func add(_ index: Int, _ amount: Int = 1) {
        precondition(index >= 0 && index < count, "counter \(index) of \(count)")
        // Only this thread writes its block, so a load and a store are an exact add.
        let counter = UnsafeAtomic<Int>(at: block() + index)
        counter.store(counter.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// The counter's total over every thread.
    func sum(_ index: Int) -> Int {
        blocks.withLock { blocks in
            blocks.reduce(0) { $0 &+ UnsafeAtomic<Int>(at: $1 + index).load(ordering: .relaxed) }
        }
    }

    @inline(__always)
    private func block() -> UnsafeMutablePointer<UnsafeAtomic<Int>.Storage> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self) }
        return newBlock()
    }

    @inline(never)
    private func newBlock() -> UnsafeMutablePointer<UnsafeAtomic<Int>.Storage> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stride * MemoryLayout<UnsafeAtomic<Int>.Storage>.stride, alignment: 128)
        let block = raw.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: stride)
        block.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: stride)
        blocks.withLock { $0.append(block) }
        pthread_setspecific(key, raw)
        return block
    }
}
