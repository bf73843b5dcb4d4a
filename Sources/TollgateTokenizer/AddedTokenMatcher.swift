/// Finds added tokens in raw text, leftmost-longest, as Hugging Face's aho-corasick pass does.
/// A byte trie: added tokens are few (1,283) and almost all start with `<`, so the scan for a
/// candidate first byte is one table load per byte and a real match check is rare.
final class AddedTokenMatcher: Sendable {
    // A class: every encode holds the matchers, and one reference is cheaper than six arrays.
    private let childStart: [Int32]
    private let childCount: [Int32]
    private let terminal: [Int32]
    private let edgeByte: [UInt8]
    private let edgeTarget: [Int32]
    /// Child of the root for each first byte, or -1.
    let rootChild: [Int32]
    let isEmpty: Bool

    init(tokens: [(bytes: [UInt8], id: Int)]) {
        // Build with per-node dictionaries, then flatten into sorted edge arrays.
        var children: [[UInt8: Int]] = [[:]]
        var terms: [Int] = [-1]
        for t in tokens where !t.bytes.isEmpty {
            var node = 0
            for b in t.bytes {
                if let next = children[node][b] {
                    node = next
                } else {
                    children.append([:])
                    terms.append(-1)
                    children[node][b] = children.count - 1
                    node = children.count - 1
                }
            }
            terms[node] = t.id
        }
        var childStart: [Int32] = []
        var childCount: [Int32] = []
        var terminal: [Int32] = []
        var edgeByte: [UInt8] = []
        var edgeTarget: [Int32] = []
        for (node, map) in children.enumerated() {
            childStart.append(Int32(edgeByte.count))
            childCount.append(Int32(map.count))
            terminal.append(Int32(terms[node]))
            for (b, target) in map.sorted(by: { $0.key < $1.key }) {
                edgeByte.append(b)
                edgeTarget.append(Int32(target))
            }
        }
        var rootChild = [Int32](repeating: -1, count: 256)
        for (b, target) in children[0] { rootChild[Int(b)] = Int32(target) }
        self.childStart = childStart
        self.childCount = childCount
        self.terminal = terminal
        self.edgeByte = edgeByte
        self.edgeTarget = edgeTarget
        self.rootChild = rootChild
        self.isEmpty = tokens.isEmpty
    }

    /// The longest token starting exactly at `start` (`text[start..<end]`): (length, id) or nil.
    @inline(__always)
    func longestMatch(_ text: UnsafePointer<UInt8>, at start: Int, end: Int) -> (length: Int, id: Int)? {
        var node = Int(rootChild[Int(text[start])])
        if node < 0 { return nil }
        var q = start + 1
        var best: (Int, Int)? = terminal[node] >= 0 ? (1, Int(terminal[node])) : nil
        while q < end {
            let b = text[q]
            let first = Int(childStart[node])
            let n = Int(childCount[node])
            var next = -1
            var i = first
            while i < first + n {
                let e = edgeByte[i]
                if e == b {
                    next = Int(edgeTarget[i])
                    break
                }
                if e > b { break }
                i += 1
            }
            if next < 0 { break }
            node = next
            q += 1
            if terminal[node] >= 0 { best = (q - start, Int(terminal[node])) }
        }
        return best
    }

    /// The leftmost-longest match in `text[from..<end]`: (start, length, id) or nil.
    @inline(__always)
    func find(_ text: UnsafePointer<UInt8>, from: Int, end: Int) -> (start: Int, length: Int, id: Int)? {
        if isEmpty { return nil }
        var p = from
        while p < end {
            if rootChild[Int(text[p])] >= 0, let m = longestMatch(text, at: p, end: end) {
                return (p, m.length, m.id)
            }
            p += 1
        }
        return nil
    }
}
