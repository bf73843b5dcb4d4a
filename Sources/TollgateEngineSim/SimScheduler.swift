import NIOConcurrencyHelpers

/// vLLM's scheduler, reduced to what shapes latency: a cap on running sequences, KV-cache tokens
/// held by them, and a FIFO waiting queue (a request that does not fit waits; nothing overtakes it).
/// One lock for all event loops: it is taken a few times per request and once per decode step.
final class SimScheduler: Sendable {
    enum Admission {
        case run
        case queued
        case rejected
    }

    private struct State {
        var running = 0
        var kvUsed = 0
        var waiting: [SimExchange] = []
        var active: [ObjectIdentifier: SimExchange] = [:]
    }

    private let maxNumSeqs: Int
    private let maxQueue: Int
    private let kvCapacity: Int
    private let state = NIOLockedValueBox(State())

    init(maxNumSeqs: Int, maxQueue: Int, kvCapacity: Int) {
        self.maxNumSeqs = maxNumSeqs
        self.maxQueue = maxQueue
        self.kvCapacity = kvCapacity
    }

    private func fits(_ promptTokens: Int, _ state: State) -> Bool {
        // An empty engine takes anything, so an oversized prompt cannot wedge the queue.
        state.running < maxNumSeqs && (state.running == 0 || state.kvUsed + promptTokens <= kvCapacity)
    }

    /// Runs the exchange now (its prompt's KV is reserved), queues it, or refuses it (queue full).
    func admit(_ exchange: SimExchange) -> Admission {
        state.withLockedValue { state in
            if state.waiting.isEmpty && fits(exchange.promptTokens, state) {
                state.running += 1
                state.kvUsed += exchange.promptTokens
                state.active[ObjectIdentifier(exchange)] = exchange
                return .run
            }
            guard state.waiting.count < maxQueue else { return .rejected }
            state.waiting.append(exchange)
            state.active[ObjectIdentifier(exchange)] = exchange
            return .queued
        }
    }

    /// Adds decoded tokens to the KV cache; returns the number of running sequences.
    func advance(tokens: Int) -> Int {
        state.withLockedValue { state in
            state.kvUsed += tokens
            return state.running
        }
    }

    /// Releases a running exchange and starts those that now fit, each on its own event loop.
    func finish(_ exchange: SimExchange, kvHeld: Int) {
        let promoted: [SimExchange] = state.withLockedValue { state in
            guard state.active.removeValue(forKey: ObjectIdentifier(exchange)) != nil else { return [] }
            state.running -= 1
            state.kvUsed -= kvHeld
            var started: [SimExchange] = []
            var taken = 0
            while taken < state.waiting.count, fits(state.waiting[taken].promptTokens, state) {
                let next = state.waiting[taken]
                state.running += 1
                state.kvUsed += next.promptTokens
                started.append(next)
                taken += 1
            }
            if taken > 0 { state.waiting.removeFirst(taken) }
            return started
        }
        for next in promoted {
            next.eventLoop.execute { next.admitted() }
        }
    }

    /// Removes a waiting exchange (its client left). False when it was not waiting any more.
    func cancelWaiting(_ exchange: SimExchange) -> Bool {
        state.withLockedValue { state in
            guard let index = state.waiting.firstIndex(where: { $0 === exchange }) else { return false }
            state.waiting.remove(at: index)
            state.active.removeValue(forKey: ObjectIdentifier(exchange))
            return true
        }
    }

    var snapshot: (running: Int, waiting: Int, kvUsed: Int) {
        state.withLockedValue { ($0.running, $0.waiting.count, $0.kvUsed) }
    }

    /// Every running or waiting exchange (to drop them all when the engine goes down).
    var allActive: [SimExchange] {
        state.withLockedValue { Array($0.active.values) }
    }
}

/// The simulated prefix cache behind DeepSeek's `prompt_cache_hit_tokens`: prompt prefixes that end
/// at a message boundary are remembered; a later prompt hits the longest one it repeats, counted
/// in whole 64-token units as the DeepSeek API does. Bounded: it forgets everything when full.
final class SimPrefixCache: Sendable {
    static let unit = 64
    private let capacity: Int
    private let seen = NIOLockedValueBox(Set<UInt64>())

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Cached tokens of this prompt, and remembers its prefixes for the next one.
    func lookupAndInsert(_ prefixes: [PromptPrefix]) -> Int {
        guard !prefixes.isEmpty else { return 0 }
        return seen.withLockedValue { seen in
            var hit = 0
            for prefix in prefixes where seen.contains(prefix.hash) {
                hit = max(hit, prefix.tokens)
            }
            if seen.count + prefixes.count > capacity { seen.removeAll(keepingCapacity: true) }
            for prefix in prefixes { seen.insert(prefix.hash) }
            return hit / Self.unit * Self.unit
        }
    }
}
