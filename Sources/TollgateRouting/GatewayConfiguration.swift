import Crypto
import Foundation
import TollgateConfig
import TollgateHTTP

/// Everything `tollgate serve` reads from its YAML file (README, "Configuration reference").
public struct GatewayConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Default 64 MiB: a 1M-token prompt is about 4 MB of text, and JSON escaping of CJK text
    /// (`\uXXXX`, 6 bytes a character) can triple it.
    public var maxBodyBytes: Int = 64 << 20
    /// The most an engine's answer may hold in the gateway's memory: a whole JSON answer, one
    /// event of a stream, or the text of a stream Tollgate counts itself. Far past any real
    /// answer (a 384K-token completion is about 2 MB), so only a broken engine meets it.
    public var maxAnswerBytes: Int = 64 << 20
    /// The most bytes of request bodies all clients together may have on their way in at once.
    public var maxPendingBodyBytes: Int = 1 << 30
    public var connectTimeoutMs: Int = 2000
    /// Time to the response head: covers queueing and prefill of a long prompt.
    public var firstByteTimeoutMs: Int = 600_000
    /// Longest silence inside a streamed response.
    public var idleTimeoutMs: Int = 300_000
    /// How long a client may send nothing while no answer is under way before its connection
    /// closes (`timeouts.client_idle_ms`): idle keep-alive connections, requests stopped halfway.
    public var clientIdleTimeoutMs: Int = 60_000
    public var healthIntervalMs: Int = 2000
    /// How long one probe may take (`health.timeout_ms`); nil: the larger of `connect_ms` and 1 s.
    public var healthTimeoutMs: Int?
    /// How many probes in a row must disagree with an endpoint's state to change it.
    public var probeThresholds = ProbeThresholds()
    /// The price book (`pricing.price_book`), resolved against the configuration file's folder.
    public var priceBookPath: String?
    /// Slots of the table of long texts counted before (`pricing.repeated_text_slots`); 0 turns it off.
    public var repeatedTextSlots: Int = 16_384
    /// How often the price book file is read for changes (`pricing.watch_ms`); nil: only SIGHUP and
    /// the admin route reload it.
    public var priceBookWatchMs: Int?
    public var teams: [TeamKey] = []
    public var targets: [Target] = []
    /// The file it came from, for messages.
    public var file: String = ""

    public init() {}

    /// The deadline of one health probe, connecting included.
    public var probeTimeoutMs: Int { healthTimeoutMs ?? max(connectTimeoutMs, 1000) }

    /// Reads and checks a configuration file. Errors name the file, the line and the reason.
    /// `environment` supplies the API keys named by `api_key_env`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> GatewayConfiguration
    {
        try parse(ConfigNode.load(path: path), environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws
        -> GatewayConfiguration
    {
        try parse(ConfigNode.parse(text, file: file), environment: environment)
    }

    static func parse(_ root: ConfigNode, environment: [String: String]) throws -> GatewayConfiguration {
        var config = GatewayConfiguration()
        config.file = root.file
        let top = try root.mapping()
        try top.allowOnly(["listen", "limits", "timeouts", "health", "pricing", "teams", "targets"])
        if let listen = try top.optional("listen")?.mapping() {
            try listen.allowOnly(["host", "port"])
            if let host = listen.optional("host") { config.host = try host.nonEmptyString() }
            if let port = listen.optional("port") { config.port = try port.int(in: 0...65535) }
        }
        if let limits = try top.optional("limits")?.mapping() {
            try limits.allowOnly(["max_body_bytes", "max_answer_bytes", "max_pending_body_bytes"])
            if let max = limits.optional("max_body_bytes") { config.maxBodyBytes = try max.int(in: 1024...(1 << 30)) }
            if let max = limits.optional("max_answer_bytes") { config.maxAnswerBytes = try max.int(in: 1024...(1 << 30)) }
            if let max = limits.optional("max_pending_body_bytes") { config.maxPendingBodyBytes = try max.int(in: 1024...(1 << 40)) }
        }
        if let timeouts = try top.optional("timeouts")?.mapping() {
            try timeouts.allowOnly(["connect_ms", "first_byte_ms", "idle_ms", "client_idle_ms"])
            if let value = timeouts.optional("connect_ms") { config.connectTimeoutMs = try value.int(in: 1...600_000) }
            if let value = timeouts.optional("first_byte_ms") { config.firstByteTimeoutMs = try value.int(in: 1...86_400_000) }
            if let value = timeouts.optional("idle_ms") { config.idleTimeoutMs = try value.int(in: 1...86_400_000) }
            if let value = timeouts.optional("client_idle_ms") { config.clientIdleTimeoutMs = try value.int(in: 1...86_400_000) }
        }
        if let health = try top.optional("health")?.mapping() {
            try health.allowOnly(["interval_ms", "timeout_ms", "unhealthy_after", "healthy_after"])
            if let value = health.optional("interval_ms") { config.healthIntervalMs = try value.int(in: 50...600_000) }
            if let value = health.optional("timeout_ms") { config.healthTimeoutMs = try value.int(in: 1...600_000) }
            if let value = health.optional("unhealthy_after") { config.probeThresholds.unhealthyAfter = try value.int(in: 1...100) }
            if let value = health.optional("healthy_after") { config.probeThresholds.healthyAfter = try value.int(in: 1...100) }
        }
        if let pricing = try top.optional("pricing")?.mapping() {
            try pricing.allowOnly(["price_book", "repeated_text_slots", "watch_ms"])
            if let book = pricing.optional("price_book") {
                let path = try book.nonEmptyString()
                let folder = (root.file as NSString).deletingLastPathComponent
                config.priceBookPath = path.hasPrefix("/") || folder.isEmpty ? path : (folder as NSString).appendingPathComponent(path)
            }
            if let slots = pricing.optional("repeated_text_slots") { config.repeatedTextSlots = try slots.int(in: 0...(1 << 24)) }
            if let watch = pricing.optional("watch_ms") {
                guard config.priceBookPath != nil else { throw watch.error("there is no price book to watch (pricing.price_book is not set)") }
                config.priceBookWatchMs = try watch.int(in: 100...3_600_000)
            }
        }
        if let teams = top.optional("teams") {
            config.teams = try teams.sequence().map(TeamKey.parse)
            var names = Set<String>()
            for (team, node) in zip(config.teams, try teams.sequence()) where !names.insert(team.name).inserted {
                throw node.error("duplicate team '\(team.name)'")
            }
        }
        let targetsNode = try top.required("targets")
        let targetNodes = try targetsNode.sequence()
        guard !targetNodes.isEmpty else { throw targetsNode.error("at least one target is required") }
        var names = Set<String>()
        for node in targetNodes {
            var target = try parseTarget(node, environment: environment)
            guard names.insert(target.name).inserted else { throw node.error("duplicate target name '\(target.name)'") }
            target.position = config.targets.count
            config.targets.append(target)
        }
        return config
    }

    private static func parseTarget(_ node: ConfigNode, environment: [String: String]) throws -> Target {
        let map = try node.mapping()
        let name = try map.required("name").nonEmptyString()
        let kind = Target.Kind(rawValue: try map.required("kind").oneOf(["pool", "upstream"]))!
        let common: Set<String> = ["name", "kind", "engine", "models", "max_model_len"]
        var engine: EngineKind
        var endpoints: [Endpoint] = []
        var beta: Endpoint?
        var apiKey: String?
        var maxConcurrency: Int?
        switch kind {
        case .pool:
            try map.allowOnly(common.union(["endpoints", "max_concurrency"]))
            engine = EngineKind(rawValue: try map.required("engine").oneOf(["vllm", "sglang", "llamacpp"]))!
            let list = try map.required("endpoints").sequence()
            guard !list.isEmpty else { throw try map.required("endpoints").error("a pool needs at least one endpoint") }
            endpoints = try list.map { Endpoint(origin: try parseURL($0)) }
            maxConcurrency = try map.optional("max_concurrency")?.int(in: 1...1_000_000)
        case .upstream:
            try map.allowOnly(common.union(["base_url", "beta_url", "api_key_env", "max_concurrency"]))
            engine = EngineKind(rawValue: try map.optional("engine")?.oneOf(EngineKind.allCases.map(\.rawValue)) ?? "deepseek")!
            endpoints = [Endpoint(origin: try parseURL(try map.required("base_url")))]
            if let betaNode = map.optional("beta_url") { beta = Endpoint(origin: try parseURL(betaNode)) }
            if let envNode = map.optional("api_key_env") {
                let variable = try envNode.nonEmptyString()
                guard let value = environment[variable], !value.isEmpty else {
                    throw envNode.error("the environment variable \(variable) is not set")
                }
                guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    throw envNode.error("the environment variable \(variable) holds characters an HTTP header cannot carry")
                }
                apiKey = value
            }
            maxConcurrency = try map.optional("max_concurrency")?.int(in: 1...1_000_000)
        }
        let (models, order) = try parseModels(try map.required("models"))
        let maxModelLen = try map.optional("max_model_len")?.int(in: 1...100_000_000)
        return Target(
            name: name, kind: kind, engine: engine, models: models, modelOrder: order, maxModelLen: maxModelLen,
            endpoints: endpoints, betaEndpoint: beta, upstreamAPIKey: apiKey, maxConcurrency: maxConcurrency)
    }

    /// `models:` is a list whose items are a name (served under the same name) or a one-entry
    /// mapping `client-name: served-name`.
    private static func parseModels(_ node: ConfigNode) throws -> ([String: String], [String]) {
        var models: [String: String] = [:]
        var order: [String] = []
        let items = try node.sequence()
        guard !items.isEmpty else { throw node.error("a target needs at least one model") }
        for item in items {
            let client: String
            let served: String
            if let mapping = try? item.mapping() {
                guard mapping.pairs.count == 1, let pair = mapping.pairs.first else {
                    throw item.error("write a model as 'name' or as 'client-name: served-name'")
                }
                client = pair.key
                served = try pair.value.nonEmptyString()
            } else {
                client = try item.nonEmptyString()
                served = client
            }
            guard models[client] == nil else { throw item.error("model '\(client)' is listed twice") }
            models[client] = served
            order.append(client)
        }
        return (models, order)
    }

    private static func parseURL(_ node: ConfigNode) throws -> UpstreamOrigin {
        let text = try node.nonEmptyString()
        guard let origin = UpstreamOrigin(url: text) else {
            throw node.error("'\(text)' is not an http:// or https:// URL")
        }
        return origin
    }
}

/// A team's API key as the configuration stores it: the SHA-256 of the key, never the key.
public struct TeamKey: Sendable {
    public var team: String
    public var name: String { team }
    public var keyHash: [UInt8]
    /// Models this key may use; nil for all.
    public var allowedModels: Set<String>?

    public init(team: String, keyHash: [UInt8], allowedModels: Set<String>? = nil) {
        self.team = team
        self.keyHash = keyHash
        self.allowedModels = allowedModels
    }

    static func parse(_ node: ConfigNode) throws -> TeamKey {
        let map = try node.mapping()
        try map.allowOnly(["name", "key_sha256", "models"])
        let name = try map.required("name").nonEmptyString()
        let hashNode = try map.required("key_sha256")
        guard let hash = hexBytes(try hashNode.string()), hash.count == 32 else {
            throw hashNode.error("key_sha256 must be 64 hex digits (the SHA-256 of the key, e.g. from 'tollgate hash-key')")
        }
        let models = try map.optional("models")?.sequence().map { try $0.nonEmptyString() }
        return TeamKey(team: name, keyHash: hash, allowedModels: models.map(Set.init))
    }

    /// SHA-256 of a key, as stored in configuration and databases.
    public static func hash(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

func hexBytes(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    var index = 0
    while index < chars.count {
        guard let high = hexNibble(chars[index]), let low = hexNibble(chars[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

private func hexNibble(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: return c - 48
    case 65...70: return c - 55
    case 97...102: return c - 87
    default: return nil
    }
}
