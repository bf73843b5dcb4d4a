/// Byte-pair encoding of one pre-tokenized piece, exactly as Hugging Face's `Word::merge_all`:
/// repeatedly merge the adjacent pair with the lowest merge rank (leftmost on ties) until no pair
/// has a merge. Short pieces use a flat array scan (tiktoken-style); long pieces a binary heap
/// over a linked list, so a 1 MB whitespace run is O(n log n). A piece starts as its bytes, except
/// that characters in ``WholeCharacters`` start as their token.
struct PieceEncoder {
    let vocabulary: VocabularyTable
    let merges: MergeTable
    let byteIDs: UnsafePointer<UInt32>
    let characters: UnsafePointer<UInt32>
    let maxTokenLength: Int

    /// Scratch buffers, allocated on the first piece that needs merging (a short prompt whose
    /// pieces are all whole tokens allocates nothing) and grown on demand; owned by this run.
    private var capacity = 0
    private var symbols: UnsafeMutablePointer<UInt32>? = nil
    private var pairs: UnsafeMutablePointer<UInt64>? = nil
    private var links: UnsafeMutablePointer<Int32>? = nil  // prev at 2i, next at 2i+1
    private var heap: UnsafeMutablePointer<UInt64>? = nil

    /// Pieces that start with up to this many symbols use the array scan; longer ones the heap.
    static let flatLimit = 24

    init(vocabulary: VocabularyTable, merges: MergeTable, byteIDs: UnsafePointer<UInt32>, characters: WholeCharacters) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.byteIDs = byteIDs
        self.characters = UnsafePointer(characters.ids)
        self.maxTokenLength = vocabulary.maxTokenLength
    }

    /// Frees the scratch buffers; call once when the run is over.
    func release() {
        symbols?.deallocate()
        pairs?.deallocate()
        links?.deallocate()
        heap?.deallocate()
    }

    private mutating func reserve(_ n: Int) {
        if n <= capacity { return }
        release()
        var c = max(capacity, 256)
        while c < n { c <<= 1 }
        capacity = c
        symbols = .allocate(capacity: c)
        pairs = .allocate(capacity: c)
        links = .allocate(capacity: c * 2)
        heap = .allocate(capacity: c * 3)
    }

    /// Encodes `text[start..<end]` (one piece) into `sink`.
    @inline(__always)
    mutating func encode<S: TokenSink>(_ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ sink: inout S) {
        let n = end - start
        if n == 1 {
            sink.append(byteIDs[Int(text[start])])
            return
        }
        // Every vocabulary token encodes to itself (checked by the test suite over all tokens),
        // so a piece that is a token is done with one lookup.
        if n <= maxTokenLength {
            let id = vocabulary.lookup(text + start, n)
            if id >= 0 {
                sink.append(UInt32(id))
                return
            }
        }
        mergeAll(text, start, end, &sink)
    }

    /// The full merge procedure, without the whole-piece shortcut (also used by tests).
    mutating func mergeAll<S: TokenSink>(_ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ sink: inout S) {
        let n = end - start
        reserve(n)
        let m = startSymbols(text + start, n)
        if m == 1 {
            sink.append(symbols![0])
        } else if m <= Self.flatLimit {
            mergeFlat(m, &sink)
        } else {
            mergeHeap(m, &sink)
        }
    }

    /// Writes the piece's starting symbols into `symbols` and returns how many: one per byte, or
    /// one per character that ``WholeCharacters`` lets start whole.
    @inline(__always)
    private func startSymbols(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let sym = symbols!
        var i = 0
        var m = 0
        while i < n {
            // Valid text: the checks in `character` only keep malformed bytes, should any arrive,
            // from being read as a character.
            if p[i] >= 0xC2, let (scalar, width) = WholeCharacters.character(at: p + i, available: n - i) {
                let whole = characters[scalar]
                if whole != 0 {
                    sym[m] = whole - 1
                    m += 1
                    i += width
                    continue
                }
            }
            sym[m] = byteIDs[Int(p[i])]
            m += 1
            i += 1
        }
        return m
    }

    private mutating func mergeFlat<S: TokenSink>(_ count: Int, _ sink: inout S) {
        let sym = symbols!
        let pv = pairs!
        var m = count
        for i in 0..<(m - 1) { pv[i] = merges.lookup(sym[i], sym[i + 1]) }
        while m > 1 {
            var best = 0
            var bestValue = pv[0]
            var i = 1
            while i < m - 1 {
                if pv[i] < bestValue {
                    bestValue = pv[i]
                    best = i
                }
                i += 1
            }
            if bestValue == MergeTable.none { break }
            sym[best] = UInt32(truncatingIfNeeded: bestValue)
            // Drop symbol best+1 and pair best+1 (its successor pairs move left by one).
            var j = best + 1
            while j < m - 1 {
                sym[j] = sym[j + 1]
                j += 1
            }
            j = best + 1
            while j < m - 2 {
                pv[j] = pv[j + 1]
                j += 1
            }
            m -= 1
            if best > 0 { pv[best - 1] = merges.lookup(sym[best - 1], sym[best]) }
            if best < m - 1 { pv[best] = merges.lookup(sym[best], sym[best + 1]) }
        }
        for i in 0..<m { sink.append(sym[i]) }
    }

    private mutating func mergeHeap<S: TokenSink>(_ n: Int, _ sink: inout S) {
        let sym = symbols!
        let link = links!
        let h = heap!
        var heapCount = 0

        @inline(__always) func push(_ key: UInt64) {
            var i = heapCount
            heapCount += 1
            while i > 0 {
                let parent = (i - 1) >> 1
                if h[parent] <= key { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = key
        }
        @inline(__always) func pop() -> UInt64 {
            let top = h[0]
            heapCount -= 1
            let last = h[heapCount]
            var i = 0
            while true {
                var child = 2 * i + 1
                if child >= heapCount { break }
                if child + 1 < heapCount && h[child + 1] < h[child] { child += 1 }
                if h[child] >= last { break }
                h[i] = h[child]
                i = child
            }
            h[i] = last
            return top
        }

        // `value[i]`: the merge of the pair that starts at position i as it is now (`none` when
        // it has none, or i was merged away), kept current as merges happen, so that a popped
        // entry is checked without looking its pair up again (a rank names one pair).
        let value = pairs!
        for i in 0..<n {
            link[2 * i] = Int32(i - 1)
            link[2 * i + 1] = i + 1 < n ? Int32(i + 1) : -1
        }
        for i in 0..<(n - 1) {
            let v = merges.lookup(sym[i], sym[i + 1])
            value[i] = v
            if v != MergeTable.none { push(v & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
        }
        value[n - 1] = MergeTable.none
        while heapCount > 0 {
            let top = pop()
            let pos = Int(top & 0xFFFF_FFFF)
            let v = value[pos]
            if v >> 32 != top >> 32 { continue }  // stale entry
            let next = Int(link[2 * pos + 1])
            sym[pos] = UInt32(truncatingIfNeeded: v)
            value[next] = MergeTable.none
            let after = link[2 * next + 1]
            link[2 * pos + 1] = after
            if after >= 0 { link[2 * Int(after)] = Int32(pos) }
            let prev = Int(link[2 * pos])
            if prev >= 0 {
                let pv = merges.lookup(sym[prev], sym[pos])
                value[prev] = pv
                if pv != MergeTable.none { push(pv & 0xFFFF_FFFF_0000_0000 | UInt64(prev)) }
            }
            if after >= 0 {
                let nv = merges.lookup(sym[pos], sym[Int(after)])
                value[pos] = nv
                if nv != MergeTable.none { push(nv & 0xFFFF_FFFF_0000_0000 | UInt64(pos)) }
            } else {
                value[pos] = MergeTable.none
            }
        }
        var i = 0
        while i >= 0 {
            sink.append(sym[i])
            i = Int(link[2 * i + 1])
        }
    }
}
