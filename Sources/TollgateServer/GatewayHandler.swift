import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP
import TollgateRouting
import TollgateWire

/// The gateway's request pipeline, stage by stage: route → authenticate → read the request →
/// choose candidate targets → proxy (``ProxyExchange``). Runs on the connection's event loop.
struct GatewayHandler: HTTPRequestHandler {
    let state: GatewayState
    let logger: Logger

    func handle(_ request: HTTPInboundRequest, responder: HTTPResponder) {
        let requestID = RequestID.accept(request.head.headers.first(name: "x-request-id")) ?? RequestID.next()
        let uri = request.head.uri
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        let method = request.head.method
        switch path {
        case "/v1/chat/completions", "/chat/completions":
            guard method == .POST else { return fail(.methodNotAllowed(method.rawValue), requestID, responder) }
            proxy(request, endpoint: .chat, requestID: requestID, responder: responder)
        case "/v1/completions", "/completions":
            guard method == .POST else { return fail(.methodNotAllowed(method.rawValue), requestID, responder) }
            proxy(request, endpoint: .completions, requestID: requestID, responder: responder)
        case "/v1/models", "/models":
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue), requestID, responder) }
            guard authenticate(request.head) != nil else { return fail(.invalidAPIKey, requestID, responder) }
            respondJSON(.ok, state.modelsBody, requestID: requestID, responder: responder)
        case "/healthz":
            respondJSON(.ok, Array(#"{"status":"ok"}"#.utf8), requestID: requestID, responder: responder)
        case "/readyz":
            let ready = state.isReady
            respondJSON(
                ready ? .ok : .serviceUnavailable,
                Array((ready ? #"{"status":"ready"}"# : #"{"status":"no healthy target"}"#).utf8),
                requestID: requestID, responder: responder)
        default:
            fail(.notFound, requestID, responder)
        }
    }

    func bodyTooLarge(_ head: HTTPRequestHead, limit: Int, responder: HTTPResponder) {
        let requestID = RequestID.accept(head.headers.first(name: "x-request-id")) ?? RequestID.next()
        fail(.bodyTooLarge(limit: limit), requestID, responder)
    }

    // MARK: stages

    private func authenticate(_ head: HTTPRequestHead) -> TeamKey? {
        guard let header = head.headers.first(name: "authorization") else { return nil }
        let value = Substring(header)
        let scheme = value.prefix(7)
        guard scheme.count == 7, scheme.lowercased() == "bearer " else { return nil }
        let key = value.dropFirst(7).drop(while: { $0 == " " })
        guard !key.isEmpty else { return nil }
        return state.keys.authenticate(bearer: key)
    }

    private func proxy(_ request: HTTPInboundRequest, endpoint: InferenceEndpoint, requestID: String, responder: HTTPResponder) {
        guard let team = authenticate(request.head) else { return fail(.invalidAPIKey, requestID, responder) }
        let parsed: InferenceRequest
        do {
            parsed = try request.body.withUnsafeReadableBytes { bytes throws(GatewayError) in
                try InferenceRequest.parse(bytes, endpoint: endpoint)
            }
        } catch {
            return fail(error, requestID, responder)
        }
        guard let candidates = state.targetsByModel[parsed.model] else {
            return fail(.modelNotFound(parsed.model), requestID, responder)
        }
        if let allowed = team.allowedModels, !allowed.contains(parsed.model) {
            return fail(.modelNotAllowed(parsed.model), requestID, responder)
        }
        var requestLogger = logger
        requestLogger[metadataKey: "tollgate.request_id"] = "\(requestID)"
        requestLogger[metadataKey: "tollgate.team"] = "\(team.team)"
        let start = { [state] (account: RequestAccount) in
            ProxyExchange(
                request: parsed, body: request.body, candidates: candidates, requestID: requestID,
                responder: responder, state: state, account: account, logger: requestLogger
            ).start()
        }
        guard let pricer = state.pricer else { return start(RequestAccount()) }
        var account = RequestAccount()
        let body = request.body
        if body.readableBytes <= RequestPricer.inlineCountLimit {
            account.prompt = pricer.countPrompt(body, endpoint: endpoint)
            return start(account)
        }
        // A long prompt is counted on the thread pool; the exchange resumes on this event loop.
        NIOThreadPool.singleton.runIfActive(eventLoop: responder.eventLoop) {
            pricer.countPrompt(body, endpoint: endpoint)
        }.whenComplete { result in
            account.prompt = try? result.get()
            if !responder.isFinished { start(account) }
        }
    }

    // MARK: answers

    private func respondJSON(_ status: HTTPResponseStatus, _ body: [UInt8], requestID: String, responder: HTTPResponder) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "x-request-id", value: requestID)
        var buffer = responder.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        responder.send(status: status, headers: headers, body: buffer)
    }

    private func fail(_ error: GatewayError, _ requestID: String, _ responder: HTTPResponder) {
        GatewayHandler.sendError(error, requestID: requestID, target: nil, responder: responder)
    }

    /// An error before any byte of the answer went out: the envelope with its status.
    static func sendError(_ error: GatewayError, requestID: String, target: String?, responder: HTTPResponder) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "x-request-id", value: requestID)
        headers.add(name: "x-tollgate-target", value: target ?? "none")
        let envelope = error.envelope
        var buffer = responder.allocator.buffer(capacity: envelope.count)
        buffer.writeBytes(envelope)
        responder.send(status: HTTPResponseStatus(statusCode: error.status), headers: headers, body: buffer)
    }
}
