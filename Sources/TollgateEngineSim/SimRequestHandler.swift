import NIOCore
import NIOHTTP1
import TollgateHTTP
import TollgateWire

/// Routes the simulator's HTTP requests: vLLM's OpenAI endpoints, `/health`, `/metrics`,
/// `/tokenize`, and the `/sim/*` control endpoints.
struct SimRequestHandler: HTTPRequestHandler {
    let engine: SimEngine
    let control: SimListeners
    /// The admin listener serves only `/sim/*`, `/health` and `/metrics`.
    let adminOnly: Bool

    func handle(_ request: HTTPInboundRequest, responder: HTTPResponder) {
        let uri = request.head.uri
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        let method = request.head.method
        switch path {
        case "/v1/chat/completions" where !adminOnly:
            guard method == .POST else { return methodNotAllowed(responder) }
            engine.handleInference(request.body, endpoint: .chat, responder: responder)
        case "/v1/completions" where !adminOnly:
            guard method == .POST else { return methodNotAllowed(responder) }
            engine.handleInference(request.body, endpoint: .completions, responder: responder)
        case "/health":
            if engine.faults.refusing && !adminOnly { return responder.abortConnection() }
            responder.send(
                status: engine.faults.unhealthy ? .serviceUnavailable : .ok, headers: [:], body: ByteBuffer())
        case "/v1/models" where !adminOnly:
            if engine.faults.refusing { return responder.abortConnection() }
            SimEngine.send(responder, json: modelsBody())
        case "/metrics":
            let snapshot = engine.scheduler.snapshot
            let text = engine.metrics.render(
                model: engine.configuration.model, running: snapshot.running,
                waiting: snapshot.waiting, kvUsage: Double(snapshot.kvUsed) / Double(engine.configuration.kvCacheTokens))
            responder.send(
                status: .ok, headers: HTTPHeaders([("content-type", "text/plain; version=0.0.4; charset=utf-8")]),
                body: responder.allocator.buffer(string: text))
        case "/tokenize" where !adminOnly:
            guard method == .POST else { return methodNotAllowed(responder) }
            tokenize(request.body, responder: responder)
        case "/version" where !adminOnly:
            SimEngine.send(responder, json: Array(#"{"version":"tollgate-engine-sim"}"#.utf8))
        case "/sim/stats":
            SimEngine.send(responder, json: EngineSimStats(engine).json)
        case "/sim/faults":
            if method == .GET {
                SimEngine.send(responder, json: SimFaultsJSON.write(engine.faults.current))
            } else if method == .POST {
                updateFaults(request.body, responder: responder)
            } else {
                methodNotAllowed(responder)
            }
        default:
            SimEngine.send(responder, json: Array(#"{"detail":"Not Found"}"#.utf8), status: .notFound)
        }
    }

    func refuse(_ refusal: HTTPRefusal, head: HTTPRequestHead?, responder: HTTPResponder) {
        switch refusal {
        case .bodyTooLarge(let limit):
            SimEngine.sendError(responder, status: 413, type: "BadRequestError", message: "The request body exceeds \(limit) bytes.")
        case .tooManyPendingBodies:
            SimEngine.sendError(responder, status: 503, type: "ServiceUnavailableError", message: "Too many request bodies at once.")
        case .malformed(let reason):
            SimEngine.sendError(responder, status: 400, type: "BadRequestError", message: "Invalid HTTP request (\(reason)).")
        case .unauthenticated:  // the simulator screens nothing; vLLM's answer to a bad --api-key
            SimEngine.send(responder, json: Array(#"{"error":"Unauthorized"}"#.utf8), status: .unauthorized)
        }
    }

    private func methodNotAllowed(_ responder: HTTPResponder) {
        SimEngine.send(responder, json: Array(#"{"detail":"Method Not Allowed"}"#.utf8), status: .methodNotAllowed)
    }

    private func modelsBody() -> [UInt8] {
        let configuration = engine.configuration
        var out: [UInt8] = []
        out.append(contentsOf: #"{"object":"list","data":[{"id":"#.utf8)
        out.append(contentsOf: engine.shape.modelQuoted)
        out.append(contentsOf: #","object":"model","created":"#.utf8)
        Decimal.append(engine.startedAt, to: &out)
        out.append(contentsOf: #","owned_by":"vllm","root":"#.utf8)
        out.append(contentsOf: engine.shape.modelQuoted)
        out.append(contentsOf: #","parent":null,"max_model_len":"#.utf8)
        Decimal.append(configuration.maxModelLen, to: &out)
        out.append(contentsOf: #","permission":[]}]}"#.utf8)
        return out
    }

    // MARK: /tokenize

    /// vLLM's `/tokenize`: a chat body (`messages`) or a completions body (`prompt`); `model` may be
    /// left out. The count is the simulator's approximation, equal to `usage.prompt_tokens`; the ids
    /// are stand-ins derived from the text (see docs/ENGINE_SIM.md).
    private func tokenize(_ body: ByteBuffer, responder: HTTPResponder) {
        var bytes = Array(body.readableBytesView)
        var hasModel = false
        var hasMessages = false
        var members = 0
        bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            _ = try? scanner.walkObject { key, _, _ in
                members += 1
                if JSONScanner.key(key, is: "model") { hasModel = true }
                if JSONScanner.key(key, is: "messages") { hasMessages = true }
            }
        }
        if !hasModel && members > 0, let brace = bytes.firstIndex(of: UInt8(ascii: "{")) {
            bytes.insert(contentsOf: Array(#""model":"#.utf8) + engine.shape.modelQuoted + [UInt8(ascii: ",")], at: brace + 1)
        }
        let endpoint: InferenceEndpoint = hasMessages ? .chat : .completions
        let request: SimRequest
        do {
            request = try bytes.withUnsafeBytes { raw in try SimRequest.parse(raw, endpoint: endpoint, collectSegments: true) }
        } catch let error as GatewayError {
            return SimEngine.sendError(responder, status: 400, type: "BadRequestError", message: error.message)
        } catch {
            return SimEngine.sendError(responder, status: 400, type: "BadRequestError", message: "Unreadable body.")
        }
        let ids = bytes.withUnsafeBytes { raw in Self.tokenIDs(request, body: raw) }
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 7 + 64)
        out.append(contentsOf: #"{"count":"#.utf8)
        Decimal.append(ids.count, to: &out)
        out.append(contentsOf: #","max_model_len":"#.utf8)
        Decimal.append(engine.configuration.maxModelLen, to: &out)
        out.append(contentsOf: #","tokens":["#.utf8)
        for (index, id) in ids.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            Decimal.append(id, to: &out)
        }
        out.append(contentsOf: "]}".utf8)
        SimEngine.send(responder, json: out)
    }

    /// Exactly `promptTokens` ids: the markers, then one id per 4-byte slice of the prompt's text.
    static func tokenIDs(_ request: SimRequest, body: UnsafeRawBufferPointer) -> [Int] {
        var specials: [Int] = []
        var text: [UInt8] = []
        for segment in request.segments {
            switch segment {
            case .special(let id): specials.append(id)
            case .text(let range): text.append(contentsOf: body[range])
            }
        }
        let textTokens = max(0, request.promptTokens - specials.count)
        var ids: [Int] = []
        ids.reserveCapacity(request.promptTokens)
        if let first = specials.first { ids.append(first) }
        text.withUnsafeBytes { raw in
            for index in 0..<textTokens {
                let start = min(index * 4, raw.count)
                let end = min(start + 4, raw.count)
                let hash = PromptHash.fnv(UnsafeRawBufferPointer(rebasing: raw[start..<end]), seed: UInt64(end > start ? 0 : index))
                ids.append(100 + Int(hash % 127_000))
            }
        }
        ids.append(contentsOf: specials.dropFirst())
        return Array(ids.prefix(request.promptTokens))
    }

    // MARK: /sim/faults

    private func updateFaults(_ body: ByteBuffer, responder: HTTPResponder) {
        let update: SimFaultsJSON.Update
        do {
            update = try body.withUnsafeReadableBytes { raw in try SimFaultsJSON.read(raw) }
        } catch {
            return SimEngine.sendError(responder, status: 400, type: "BadRequestError", message: "\(error)")
        }
        var faults = engine.faults.current
        update.apply(to: &faults)
        if let problem = faults.validate() {
            return SimEngine.sendError(responder, status: 400, type: "BadRequestError", message: problem)
        }
        let control = self.control
        let eventLoop = responder.eventLoop
        let responderBox = NIOLoopBound(responder, eventLoop: eventLoop)
        let engine = self.engine
        Task {
            var failure: String?
            do {
                try await control.setFaults(faults, refuseForMs: update.refuseForMs)
            } catch {
                failure = "\(error)"
            }
            eventLoop.execute {
                if let failure {
                    SimEngine.sendError(responderBox.value, status: 500, type: "InternalServerError", message: failure)
                } else {
                    SimEngine.send(responderBox.value, json: SimFaultsJSON.write(engine.faults.current))
                }
            }
        }
    }
}
