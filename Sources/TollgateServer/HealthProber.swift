import Logging
import NIOCore
import NIOHTTP1
import TollgateHTTP
import TollgateRouting

/// Probes every endpoint on an interval and marks it up or down.
///
/// Pool engines answer `GET /health` (vLLM, SGLang); llama.cpp and the upstream API are probed
/// with `GET {base}/models`, where for the API any HTTP answer (even 401) proves it is reachable.
/// An endpoint changes state after `thresholds` probes in a row say so (``Endpoint/recordProbe``).
/// Between probes the proxy marks an endpoint down on its own when a connection is refused.
final class HealthProber: Sendable {
    private let targets: [Target]
    private let client: UpstreamClient
    private let eventLoop: EventLoop
    private let logger: Logger
    private let timeout: TimeAmount
    private let thresholds: ProbeThresholds

    init(
        targets: [Target], client: UpstreamClient, eventLoop: EventLoop, timeout: TimeAmount, thresholds: ProbeThresholds,
        logger: Logger
    ) {
        self.targets = targets
        self.client = client
        self.eventLoop = eventLoop
        self.timeout = timeout
        self.thresholds = thresholds
        self.logger = logger
    }

    /// Probes every endpoint once, concurrently, and waits for all answers.
    func probeAll() async {
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                // llama.cpp's server has no /health; it opens its port once the model is loaded.
                let path = target.kind == .pool && target.engine != .llamacpp ? "/health" : "/models"
                var probes: [(Endpoint, String)] = target.endpoints.map { ($0, path) }
                if let beta = target.betaEndpoint { probes.append((beta, "/models")) }
                for (endpoint, path) in probes {
                    group.addTask { await self.probe(endpoint, path: path, target: target) }
                }
            }
        }
    }

    private func probe(_ endpoint: Endpoint, path: String, target: Target) async {
        let origin = endpoint.origin
        // /health lives at the engine's root, not under its OpenAI base path.
        let probeOrigin = path == "/health" ? UpstreamOrigin(tls: origin.tls, host: origin.host, port: origin.port, basePath: "") : origin
        var headers = HTTPHeaders()
        if let key = target.upstreamAPIKey { headers.add(name: "authorization", value: "Bearer \(key)") }
        let request = UpstreamRequest(
            origin: probeOrigin, path: path, method: .GET, headers: headers, body: nil,
            firstByteTimeout: timeout, idleTimeout: timeout)
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            eventLoop.execute {
                let probe = StatusProbe(continuation)
                let call = self.client.execute(request, on: self.eventLoop, delegate: probe)
                // An answer that trickles a byte at a time never trips the idle timeout, and one
                // probe that never ends would hold up every later round: the whole probe has a deadline.
                let deadline = self.eventLoop.scheduleTask(in: self.timeout) {
                    call.cancel()
                    probe.giveUp()
                }
                probe.onEnd = { deadline.cancel() }
            }
        }
        let healthy: Bool
        if path == "/health" || target.kind == .pool {
            healthy = status == 200
        } else {
            // The API answers 401 to a bad key: still reachable, and the key problem shows per request.
            healthy = status != nil && status! < 500
        }
        let metadata: Logger.Metadata = [
            "tollgate.target": "\(target.name)", "tollgate.endpoint": "\(endpoint)", "tollgate.status": "\(status.map(String.init) ?? "unreachable")",
        ]
        if endpoint.recordProbe(healthy: healthy, thresholds: thresholds) {
            logger.notice(healthy ? "endpoint up" : "endpoint down", metadata: metadata)
        } else if healthy != endpoint.isHealthy {
            logger.info(healthy ? "good probe of a down endpoint" : "failed probe of an up endpoint", metadata: metadata)
        }
    }
}

/// Collects the status of a probe; the body is read and dropped.
private final class StatusProbe: UpstreamResponseDelegate {
    private var continuation: CheckedContinuation<Int?, Never>?
    private var status: Int?
    // The call holds its delegate weakly; the probe keeps itself alive until it resumes.
    private var keepAlive: StatusProbe?

    init(_ continuation: CheckedContinuation<Int?, Never>) {
        self.continuation = continuation
        self.keepAlive = self
    }

    func upstreamDidReceiveHead(_ head: HTTPResponseHead) { status = Int(head.status.code) }
    func upstreamDidReceiveBody(_ buffer: ByteBuffer) {}
    func upstreamDidFinishRead() {}
    func upstreamDidEnd() { resume(status) }
    func upstreamDidFail(_ error: UpstreamError) { resume(nil) }
    /// The probe's deadline passed: unreachable, whatever arrived.
    func giveUp() { resume(nil) }
    var onEnd: (() -> Void)?

    private func resume(_ value: Int?) {
        continuation?.resume(returning: value)
        continuation = nil
        keepAlive = nil
        onEnd?()
        onEnd = nil
    }
}
