import TollgateHTTP

/// What speaks at the other end of a target; decides small protocol differences.
public enum EngineKind: String, Sendable, CaseIterable {
    /// vLLM: names reasoning `reasoning` (renamed to `reasoning_content` for clients).
    case vllm
    /// SGLang: `reasoning_content`, flat error bodies.
    case sglang
    /// llama.cpp's server (`llama-cpp-python[server]`): no usage chunk in streams.
    case llamacpp
    /// The DeepSeek API (or anything speaking exactly like it).
    case deepseek
}

/// A place a request can be sent: a local pool of engines or the upstream API.
public struct Target: Sendable {
    public enum Kind: String, Sendable { case pool, upstream }

    public var name: String
    public var kind: Kind
    public var engine: EngineKind
    /// Client-facing model name → the name the engine serves.
    public var models: [String: String]
    /// Client-facing model names in file order (for `/v1/models`).
    public var modelOrder: [String]
    public var maxModelLen: Int?
    public var endpoints: [Endpoint]
    /// Base URL for beta-only features (prefix completion, FIM) on the DeepSeek API.
    public var betaEndpoint: Endpoint?
    /// `Authorization: Bearer` sent upstream (the API key), if any. Never logged.
    public var upstreamAPIKey: String?
    /// Most requests in flight to this target at once (the API's account concurrency).
    public var maxConcurrency: Int?
    /// Its place in the configuration's list of targets, from 0: an index for per-target tables.
    public var position = 0

    public init(
        name: String, kind: Kind, engine: EngineKind, models: [String: String], modelOrder: [String],
        maxModelLen: Int?, endpoints: [Endpoint], betaEndpoint: Endpoint? = nil, upstreamAPIKey: String? = nil,
        maxConcurrency: Int? = nil
    ) {
        self.name = name
        self.kind = kind
        self.engine = engine
        self.models = models
        self.modelOrder = modelOrder
        self.maxModelLen = maxModelLen
        self.endpoints = endpoints
        self.betaEndpoint = betaEndpoint
        self.upstreamAPIKey = upstreamAPIKey
        self.maxConcurrency = maxConcurrency
    }

    /// Every endpoint the target sends to: its pool or base URL, then the beta URL if it has one.
    public var allEndpoints: [Endpoint] { endpoints + (betaEndpoint.map { [$0] } ?? []) }

    /// Whether the target's context holds `tokens`, prompt and answer together. A target without a
    /// `max_model_len` holds any number.
    public func holds(tokens: Int) -> Bool { maxModelLen.map { tokens <= $0 } ?? true }

    /// Requests in flight across the target's endpoints.
    public var outstanding: Int { endpoints.reduce(0) { $0 + $1.outstanding } + (betaEndpoint?.outstanding ?? 0) }

    public var isHealthy: Bool { endpoints.contains { $0.isHealthy } }

    /// True when the target is at its concurrency cap.
    public var isSaturated: Bool {
        guard let maxConcurrency else { return false }
        return outstanding >= maxConcurrency
    }

    /// The healthy endpoint with the fewest requests in flight, skipping those already tried.
    /// The scan starts at `spin` so endpoints with equal load take turns. No allocation: this runs
    /// on every request.
    public func leastLoadedEndpoint(spin: Int, excluding tried: [Endpoint] = []) -> Endpoint? {
        let count = endpoints.count
        var best: Endpoint?
        var bestLoad = Int.max
        for step in 0..<count {
            let endpoint = endpoints[(spin &+ step) % count]
            guard endpoint.isHealthy, !tried.contains(where: { $0 === endpoint }) else { continue }
            let load = endpoint.outstanding
            if load < bestLoad {
                best = endpoint
                bestLoad = load
            }
        }
        return best
    }
}

/// A target as logs and debug output show it: everything but the API key. Swift's default
/// description prints every stored property, and a library that logs its configuration (Service
/// Lifecycle does at debug level) would print the key.
extension Target: CustomReflectable {
    public var customMirror: Mirror {
        Mirror(self, children: [
            "name": name, "kind": kind, "engine": engine, "models": models, "maxModelLen": maxModelLen as Any,
            "endpoints": endpoints, "betaEndpoint": betaEndpoint as Any,
            "upstreamAPIKey": upstreamAPIKey == nil ? "none" : "<redacted>",
            "maxConcurrency": maxConcurrency as Any, "position": position,
        ])
    }
}
