import Atomics
import Logging
import NIOCore
import TollgateHTTP
import TollgateRouting
import TollgateWire

/// What the request handler reads on every request, built once from the configuration.
final class GatewayState: Sendable {
    let configuration: GatewayConfiguration
    let keys: KeyTable
    let targets: [Target]
    /// Client model name → the targets serving it, in configuration order.
    let targetsByModel: [String: [Target]]
    /// The `/v1/models` entry of each model, in the order the configuration first names them.
    private let modelEntries: [(model: String, json: [UInt8])]
    let client: UpstreamClient
    /// The price book in force and its reload, when the configuration names a price book.
    let pricing: CurrentPricer?
    /// Prices requests when the configuration names a price book. A request reads it once, into
    /// its ``RequestAccount``: a reload does not change the book a running request is billed under.
    var pricer: RequestPricer? { pricing?.pricer }
    /// Keys, limits, budgets and the usage ledger, when a database is configured.
    let ledger: LedgerAdmission?
    /// The admin API and team usage reports (`/admin/...`, `/v1/usage/report`).
    let admin: AdminAPI
    /// Request counters for `/admin/metrics`.
    let metrics: GatewayMetrics

    init(
        configuration: GatewayConfiguration, client: UpstreamClient, pricing: CurrentPricer?, ledger: LedgerAdmission?, createdAt: Int,
        adminToken: String? = nil, logger: Logger = Logger(label: "tollgate")
    ) {
        self.configuration = configuration
        let metrics = GatewayMetrics(targets: configuration.targets)
        self.metrics = metrics
        self.admin = AdminAPI(
            token: AdminToken(adminToken), ledger: ledger, pricing: pricing, metrics: metrics, logger: logger)
        self.pricing = pricing
        self.ledger = ledger
        self.keys = KeyTable(configuration.teams)
        self.targets = configuration.targets
        self.client = client
        var byModel: [String: [Target]] = [:]
        var order: [String] = []
        for target in configuration.targets {
            for model in target.modelOrder {
                if byModel[model] == nil { order.append(model) }
                byModel[model, default: []].append(target)
            }
        }
        self.targetsByModel = byModel
        self.modelEntries = order.map { model in
            var entry: [UInt8] = Array(#"{"id":"#.utf8)
            JSONWriter.appendString(model, to: &entry)
            entry.append(contentsOf: #","object":"model","created":"#.utf8)
            JSONWriter.appendInt(createdAt, to: &entry)
            entry.append(contentsOf: #","owned_by":"tollgate""#.utf8)
            if let maxLen = byModel[model]!.compactMap(\.maxModelLen).max() {
                entry.append(contentsOf: #","max_model_len":"#.utf8)
                JSONWriter.appendInt(maxLen, to: &entry)
            }
            entry.append(UInt8(ascii: "}"))
            return (model, entry)
        }
    }

    /// The `/v1/models` body for a caller: only the models its key may use, as OpenAI lists only
    /// the models a key can reach.
    func modelsBody(for caller: Caller) -> [UInt8] {
        var body: [UInt8] = Array(#"{"object":"list","data":["#.utf8)
        for (model, entry) in modelEntries where caller.allows(model: model) {
            if body.last == UInt8(ascii: "}") { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: entry)
        }
        body.append(contentsOf: "]}".utf8)
        return body
    }

    private let spin = ManagedAtomic<Int>(0)

    /// A rotating start for the least-loaded scan, so endpoints with equal load take turns.
    func nextSpin() -> Int { spin.loadThenWrappingIncrement(ordering: .relaxed) & 0x3FFF_FFFF }

    var isReady: Bool { targets.contains { $0.isHealthy } }
}
