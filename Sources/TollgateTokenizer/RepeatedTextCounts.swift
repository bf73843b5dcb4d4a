import Synchronization

/// Token counts of long texts seen recently, so that a system prompt, a tool list or a chat
/// history, which clients send again whole with every turn, is tokenized once instead of on
/// every request (an 8 KB English text takes about 0.1 ms to count; looking it up, a few µs).
///
/// - A text is known by a 64-bit SipHash of its scope and bytes (Swift's `Hasher`, keyed at
///   random per process) and by its length. A wrong count would need two texts of the same length
///   whose hashes collide: about one chance in 1.8e19 per lookup, and nobody outside the process
///   can aim for one because the key is unknown to them.
/// - Counts are scoped (the gateway scopes them per team), so that no team can tell from timing
///   whether another team sent a text recently.
/// - Texts under `minimumBytes` are counted every time: they take a microsecond or so, and
///   keeping them would churn the table with every short message. The exception is a text that
///   holds an assistant's tool calls: agents send every call back with each turn, and a request
///   carries many.
/// - A fixed table of slots, each text in the slot its hash picks; a newer text takes the slot.
///   Memory is fixed too: 24 bytes a slot, 384 KB for the default 16,384 slots.
/// - Beside the counts, the renderings of tool lists (an assistant's `tool_calls`, a request's
///   `tools`), known the same way by their bytes as sent: agents send every call and the same
///   schemas again with each turn, and parsing and rendering them was most of what such a request
///   cost to count. At most one rendering for every 32 count slots (512 by default), each at most
///   `maximumRenderingBytes` (16 KB), so at most 8 MB by default; when full, a new rendering
///   takes the place of an arbitrary one.
public final class RepeatedTextCounts: Sendable {
    public let minimumBytes: Int
    private let table: Mutex<Table>
    private let mask: Int
    private let renderings: Mutex<RenderingTable>
    private let renderingLimit: Int
    static let maximumRenderingBytes = 16 << 10

    /// A tool list as the prompt layout writes it, and what the renderer approximated in it.
    struct Rendering: Sendable {
        let bytes: [UInt8]
        let reasons: [String]
    }

    /// Which list a rendering is of: the same bytes render differently as calls and as schemas.
    enum ListKind: UInt8 {
        case toolCalls = 1
        case toolSchemas = 2
    }

    private struct RenderingTable {
        var entries: [UInt64: (length: Int, rendering: Rendering)] = [:]
        var hits = 0
        var misses = 0
    }

    private struct Slot {
        var hash: UInt64 = 0
        var length = 0  // 0: empty (no text under `minimumBytes` is kept)
        var tokens = 0
    }

    private struct Table {
        var slots: [Slot]
        var hits = 0
        var misses = 0
    }

    /// `slots` is rounded up to a power of two.
    public init(slots: Int = 16_384, minimumBytes: Int = 1024) {
        precondition(slots > 0 && minimumBytes > 0)
        let size = 1 << (Int.bitWidth - (slots - 1).leadingZeroBitCount)
        mask = size - 1
        self.minimumBytes = minimumBytes
        table = Mutex(Table(slots: Array(repeating: Slot(), count: size)))
        renderingLimit = max(16, size / 32)
        renderings = Mutex(RenderingTable())
    }

    /// Texts the table can hold.
    public var slots: Int { mask + 1 }

    /// Lookups answered from the table, and lookups that had to count (texts under
    /// `minimumBytes` are neither).
    public var lookups: (hits: Int, misses: Int) {
        table.withLock { ($0.hits, $0.misses) }
    }

    /// The count of `text` for the scope `seed` was started with: from the table when this text
    /// was counted before, else counted and remembered (a text under `minimumBytes` only when
    /// `evenIfShort`). Counting runs outside the lock.
    fileprivate func tokens(
        of text: UnsafeBufferPointer<UInt8>, seed: Hasher, _ tokenizer: DeepSeekTokenizer, evenIfShort: Bool
    ) -> Int {
        guard text.count >= minimumBytes || evenIfShort else { return tokenizer.count(validUTF8: text) }
        var hasher = seed
        hasher.combine(bytes: UnsafeRawBufferPointer(text))
        let hash = UInt64(UInt(bitPattern: hasher.finalize()))
        let index = Int(truncatingIfNeeded: hash) & mask
        let known: Int? = table.withLock { table in
            let slot = table.slots[index]
            guard slot.hash == hash && slot.length == text.count else {
                table.misses += 1
                return nil
            }
            table.hits += 1
            return slot.tokens
        }
        if let known { return known }
        let tokens = tokenizer.count(validUTF8: text)
        table.withLock { $0.slots[index] = Slot(hash: hash, length: text.count, tokens: tokens) }
        return tokens
    }

    /// Renderings answered from the table, and renderings that had to be made.
    public var renderingLookups: (hits: Int, misses: Int) {
        renderings.withLock { ($0.hits, $0.misses) }
    }

    /// Renderings kept now, and at most.
    public var renderingsKept: Int { renderings.withLock { $0.entries.count } }
    public var renderingCapacity: Int { renderingLimit }

    /// The rendering of the tool list `raw` (its bytes as sent) for the scope `seed` was started
    /// with: from the table when the same list was rendered before, else made by `render` (outside
    /// the lock) and remembered. A list `render` refuses (nil) is not remembered.
    fileprivate func rendering(
        of raw: UnsafeRawBufferPointer, kind: ListKind, seed: Hasher, _ render: () -> Rendering?
    ) -> Rendering? {
        var hasher = seed
        hasher.combine(kind.rawValue)
        hasher.combine(bytes: raw)
        let hash = UInt64(UInt(bitPattern: hasher.finalize()))
        let known: Rendering? = renderings.withLock { table in
            guard let entry = table.entries[hash], entry.length == raw.count else {
                table.misses += 1
                return nil
            }
            table.hits += 1
            return entry.rendering
        }
        if let known { return known }
        guard let made = render() else { return nil }
        if made.bytes.count <= Self.maximumRenderingBytes {
            renderings.withLock { table in
                if table.entries.count >= renderingLimit && table.entries[hash] == nil {
                    table.entries.remove(at: table.entries.startIndex)
                }
                table.entries[hash] = (raw.count, made)
            }
        }
        return made
    }

    /// These counts as seen by one scope. The scope is hashed here, once per request; each text
    /// then continues a copy of that hasher.
    public func scoped(_ scope: String) -> Scoped {
        var seed = Hasher()
        var scope = scope  // its bytes as written, then their length, so scope and text cannot run together
        scope.withUTF8 { seed.combine(bytes: UnsafeRawBufferPointer($0)) }
        seed.combine(scope.utf8.count)
        return Scoped(counts: self, seed: seed)
    }

    /// ``RepeatedTextCounts`` for one scope (a team), as the prompt counter takes them. A class,
    /// made only for long requests: a short one passes nil, one pointer, with no copying code.
    public final class Scoped: Sendable {
        let counts: RepeatedTextCounts
        fileprivate let seed: Hasher

        fileprivate init(counts: RepeatedTextCounts, seed: Hasher) {
            self.counts = counts
            self.seed = seed
        }

        func tokens(of text: UnsafeBufferPointer<UInt8>, _ tokenizer: DeepSeekTokenizer, evenIfShort: Bool = false) -> Int {
            counts.tokens(of: text, seed: seed, tokenizer, evenIfShort: evenIfShort)
        }

        func rendering(of raw: UnsafeRawBufferPointer, kind: ListKind, _ render: () -> Rendering?) -> Rendering? {
            counts.rendering(of: raw, kind: kind, seed: seed, render)
        }
    }
}
