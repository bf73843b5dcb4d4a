/// Counters of a running simulator (`EngineSimulator.stats()` and `GET /sim/stats`).
public struct EngineSimStats: Sendable, Equatable {
    /// Inference requests received (chat and completions), whatever became of them.
    public var requests: Int
    /// Requests answered in full (finished by stop or length).
    public var completed: Int
    /// Requests that ended early: the client disconnected, a drop fault, or the engine went down.
    public var aborts: Int
    /// Requests answered 500 by the error-rate fault.
    public var injectedErrors: Int
    /// Requests refused with 503 because the waiting queue was full.
    public var rejected: Int
    /// Requests answered 400 or 404 (bad body, unknown model, context too long).
    public var badRequests: Int
    /// Sequences running now, and requests waiting for a slot.
    public var running: Int
    public var waiting: Int
    /// KV-cache tokens held by running sequences.
    public var kvCacheTokens: Int
    public var promptTokens: Int
    public var generationTokens: Int

    init(_ engine: SimEngine) {
        let metrics = engine.metrics
        let snapshot = engine.scheduler.snapshot
        requests = metrics.requests.load(ordering: .relaxed)
        completed = metrics.finishedCount(.stop) + metrics.finishedCount(.length)
        aborts = metrics.finishedCount(.abort)
        injectedErrors = metrics.injectedErrors.load(ordering: .relaxed)
        rejected = metrics.rejected.load(ordering: .relaxed)
        badRequests = metrics.badRequests.load(ordering: .relaxed)
        running = snapshot.running
        waiting = snapshot.waiting
        kvCacheTokens = snapshot.kvUsed
        promptTokens = metrics.promptTokens.load(ordering: .relaxed)
        generationTokens = metrics.generationTokens.load(ordering: .relaxed)
    }

    /// `{"requests":...,"completed":...,"aborts":...}` with snake_case keys.
    public var json: [UInt8] {
        let fields: [(String, Int)] = [
            ("requests", requests), ("completed", completed), ("aborts", aborts), ("injected_errors", injectedErrors),
            ("rejected", rejected), ("bad_requests", badRequests), ("running", running), ("waiting", waiting),
            ("kv_cache_tokens", kvCacheTokens), ("prompt_tokens", promptTokens), ("generation_tokens", generationTokens),
        ]
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "\"\(field.0)\":".utf8)
            Decimal.append(field.1, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
