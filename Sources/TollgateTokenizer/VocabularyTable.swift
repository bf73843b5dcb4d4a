import Foundation

/// Token id ↔ raw bytes for the BPE vocabulary, with an open-addressing hash from bytes to id.
/// Memory is allocated once at load and never mutated afterwards.
final class VocabularyTable: @unchecked Sendable {
    // @unchecked: all buffers are filled in init and read-only afterwards; freed in deinit.
    /// Concatenated raw bytes of every token, indexed through `offsets`.
    let bytes: UnsafeMutablePointer<UInt8>
    /// `offsets[id]..<offsets[id + 1]` are the bytes of token `id`.
    let offsets: UnsafeMutablePointer<UInt32>
    /// Number of token ids (max id + 1).
    let count: Int
    /// Two words per slot. First: hash tag (high 32 bits), token length (8 bits), id + 1 (low 24
    /// bits); 0 = empty. Second: the token's first eight bytes, zero-padded. Most pieces of real
    /// text are at most eight bytes, and those are found and compared within their slot: one
    /// cache line per lookup instead of three (slot, offsets, bytes), which is most of the cost of
    /// counting a short prompt on a busy server.
    private let slots: UnsafeMutablePointer<UInt64>
    private let memory: TableMemory
    private let mask: Int
    /// Longest byte-level token, in bytes.
    let maxTokenLength: Int
    /// Whether each id is written in the byte-level alphabet (and so can be looked up).
    private let reachable: [Bool]

    /// One vocabulary entry: its raw bytes are `flat[offset..<offset + length]`. Unreachable
    /// tokens (not written in the byte-level alphabet) are stored for decoding but not hashed.
    struct Entry {
        var offset: Int
        var length: Int
        var id: Int
        var reachable: Bool
    }

    init(flat: UnsafeBufferPointer<UInt8>, entries: [Entry]) throws {
        let maxID = entries.reduce(-1) { max($0, $1.id) }
        let count = maxID + 1
        // A slot holds the id in 24 bits and the length in 8.
        guard count < 1 << 24, entries.allSatisfy({ !$0.reachable || $0.length < 256 }) else {
            throw TokenizerError.malformed("vocabulary too large for its hash table (\(count) ids)")
        }
        self.count = count
        var slotOf = [Int32](repeating: -1, count: count)
        var total = 0
        for (i, e) in entries.enumerated() {
            guard e.id >= 0, slotOf[e.id] < 0 else {
                throw TokenizerError.malformed("vocabulary id \(e.id) repeated or negative")
            }
            slotOf[e.id] = Int32(i)
            total += e.length
        }
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let offsets = UnsafeMutablePointer<UInt32>.allocate(capacity: count + 1)
        var reachable = [Bool](repeating: false, count: count)
        var offset = 0
        var longest = 0
        for id in 0..<count {
            offsets[id] = UInt32(offset)
            let i = Int(slotOf[id])
            if i >= 0 {
                let e = entries[i]
                (bytes + offset).update(from: flat.baseAddress! + e.offset, count: e.length)
                offset += e.length
                reachable[id] = e.reachable
                if e.reachable { longest = max(longest, e.length) }
            }
        }
        offsets[count] = UInt32(offset)
        self.bytes = bytes
        self.offsets = offsets
        self.reachable = reachable
        maxTokenLength = longest
        var capacity = 1024
        while capacity < count * 2 { capacity <<= 1 }
        mask = capacity - 1
        memory = TableMemory(bytes: 2 * capacity * MemoryLayout<UInt64>.stride)
        slots = memory.start.assumingMemoryBound(to: UInt64.self)
        for id in 0..<count where reachable[id] {
            let p = UnsafePointer(bytes + Int(offsets[id]))
            let n = Int(offsets[id + 1] - offsets[id])
            let h = ByteHash.hash(p, n)
            let head = Self.head(hash: h, length: n)
            let first = ByteHash.word(p, n)
            // One walk of the probe chain both finds a duplicate and the free slot.
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[2 * i] != 0 {
                if slotHolds(i, head: head, first: first, p, n) >= 0 {
                    throw TokenizerError.malformed("vocabulary token \(id) duplicates another token")
                }
                i = (i + 1) & mask
            }
            slots[2 * i] = head | UInt64(id + 1)
            slots[2 * i + 1] = first
        }
    }

    /// A slot's first word without the id: hash tag and length.
    @inline(__always)
    private static func head(hash: UInt64, length: Int) -> UInt64 {
        (hash >> 32) << 32 | UInt64(truncatingIfNeeded: length) << 24
    }

    deinit {
        bytes.deallocate()
        offsets.deallocate()
        memory.release()
    }

    /// The id of the token whose raw bytes are exactly `p[0..<n]`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        guard n <= maxTokenLength else { return -1 }
        let first = ByteHash.word(p, n)
        let h = n <= 8 ? ByteHash.hash(word: first, count: n) : ByteHash.hash(p, n)
        let head = Self.head(hash: h, length: n)
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[2 * i] != 0 {
            let id = slotHolds(i, head: head, first: first, p, n)
            if id >= 0 { return id }
            i = (i + 1) & mask
        }
        return -1
    }

    /// The id in occupied slot `i` if its token is exactly `p[0..<n]`, else -1.
    @inline(__always)
    private func slotHolds(_ i: Int, head: UInt64, first: UInt64, _ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let e = slots[2 * i]
        guard e & ~0xFF_FFFF == head && slots[2 * i + 1] == first else { return -1 }
        let id = Int(e & 0xFF_FFFF) - 1
        return n <= 8 || ByteHash.equal(bytes + Int(offsets[id]) + 8, p + 8, n - 8) ? id : -1
    }

    /// The id of `p[0..<n]`, trying `guess` first. Merges are listed in the order their tokens
    /// were added, so the merged token is nearly always the id after the previous one: checking
    /// it reads memory in order instead of one random probe into the 4 MB table.
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, guess: Int) -> Int {
        if guess >= 0 && guess < count && reachable[guess] && Int(offsets[guess + 1] - offsets[guess]) == n
            && ByteHash.equal(bytes + Int(offsets[guess]), p, n)
        {
            return guess
        }
        return lookup(p, n)
    }
}

/// The BPE merge table: (left id, right id) → (rank, merged id), open addressing.
final class MergeTable: @unchecked Sendable {
    // @unchecked: filled in init, read-only afterwards; freed in deinit.
    /// Interleaved (key, value) pairs; key = `used` | left << 32 | right, 0 when unused (so the
    /// table starts as zeroed pages, with no 8 MB fill at every start); value = rank << 32 | merged id.
    private let slots: UnsafeMutablePointer<UInt64>
    private let memory: TableMemory
    private let shift: UInt64
    private let mask: Int
    private static let used: UInt64 = 1 << 63
    /// Returned by `lookup` when the pair has no merge; larger than every real value.
    static let none: UInt64 = .max

    init(merges: [(left: UInt32, right: UInt32, merged: UInt32)]) throws {
        var bits: UInt64 = 10
        while (1 << bits) < merges.count * 3 { bits += 1 }
        let capacity = 1 << Int(bits)
        shift = 64 - bits
        mask = capacity - 1
        memory = TableMemory(bytes: 2 * capacity * MemoryLayout<UInt64>.stride)
        slots = memory.start.assumingMemoryBound(to: UInt64.self)
        for (rank, m) in merges.enumerated() {
            let key = Self.key(m.left, m.right)
            var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while slots[2 * i] != 0 {
                // HF collects the merges into a map, so a repeated pair takes the later rank.
                if slots[2 * i] == key { break }
                i = (i + 1) & mask
            }
            slots[2 * i] = key
            slots[2 * i + 1] = UInt64(rank) << 32 | UInt64(m.merged)
        }
    }

    deinit { memory.release() }

    @inline(__always)
    private static func key(_ left: UInt32, _ right: UInt32) -> UInt64 {
        used | UInt64(left) << 32 | UInt64(right)
    }

    /// rank << 32 | merged id for the pair, or `none`.
    @inline(__always)
    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        let key = Self.key(left, right)
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let k = slots[2 * i]
            if k == key { return slots[2 * i + 1] }
            if k == 0 { return Self.none }
            i = (i + 1) & mask
        }
    }
}

/// Zeroed memory for the two big hash tables (4 and 8 MB), on 2 MB pages where the kernel allows
/// (transparent huge pages, `madvise` mode). Their inserts land at random, each first reading its
/// slot: on 4 KB pages filling them took about 6,000 page faults (a read, then a write, per page),
/// and on 2 MB pages a handful: a sixth less load time (docs/BENCHMARKS-JOURNAL.md, twelfth session).
struct TableMemory {
    private static let hugePage = 2 << 20
    private let base: UnsafeMutableRawPointer
    private let length: Int
    /// The table's first byte, 2 MB-aligned; `bytes` zeroed bytes follow.
    let start: UnsafeMutableRawPointer

    init(bytes: Int) {
        length = bytes + Self.hugePage
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapped != MAP_FAILED
        else { fatalError("cannot map \(length) bytes for a tokenizer table") }
        base = mapped
        let aligned = (Int(bitPattern: mapped) + Self.hugePage - 1) & ~(Self.hugePage - 1)
        start = UnsafeMutableRawPointer(bitPattern: aligned)!
        #if os(Linux)
        _ = madvise(start, bytes, Int32(MADV_HUGEPAGE))  // advice only: 4 KB pages work too
        #endif
    }

    func release() { munmap(base, length) }
}
