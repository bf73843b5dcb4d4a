import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP
import TollgateLedger
import TollgateRouting
import TollgateWire

/// The gateway's request pipeline, stage by stage: route → authenticate → read the request →
/// choose candidate targets → proxy (``ProxyExchange``). Runs on the connection's event loop.
struct GatewayHandler: HTTPRequestHandler {
    let state: GatewayState
    let logger: Logger

    func handle(_ request: HTTPInboundRequest, responder: HTTPResponder) {
        let ids = RequestIDs(request.head)
        let requestID = ids.echoed
        let path = Self.path(request.head)
        let method = request.head.method
        if let endpoint = Self.inferenceEndpoint(path) {
            guard method == .POST else { return fail(.methodNotAllowed(method.rawValue, allowed: "POST"), endpoint, requestID, responder) }
            return proxy(request, endpoint: endpoint, ids: ids, responder: responder)
        }
        switch path {
        case "/v1/models", "/models":
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            resolveCaller(request.head, on: responder.eventLoop) { [self] resolved in
                switch resolved {
                case .success(let caller): respondJSON(.ok, state.modelsBody(for: caller), requestID: requestID, responder: responder)
                case .failure(let error): fail(error, requestID, responder)
                }
            }
        case "/healthz":
            respondJSON(.ok, Array(#"{"status":"ok"}"#.utf8), requestID: requestID, responder: responder)
        case "/readyz":
            let ready = state.isReady
            respondJSON(
                ready ? .ok : .serviceUnavailable,
                Array((ready ? #"{"status":"ready"}"# : #"{"status":"no healthy target"}"#).utf8),
                requestID: requestID, responder: responder)
        case "/v1/usage/report":
            state.admin.handleUsageReport(request, requestID: requestID, responder: responder)
        default:
            if path.hasPrefix("/admin/") {
                return state.admin.handleAdmin(request, path: String(path), requestID: requestID, responder: responder)
            }
            fail(.notFound, requestID, responder)
        }
    }

    func refuse(_ refusal: HTTPRefusal, head: HTTPRequestHead?, responder: HTTPResponder) {
        let requestID = RequestIDs(head).echoed
        let error: GatewayError
        switch refusal {
        case .bodyTooLarge(let limit): error = .bodyTooLarge(limit: limit)
        case .tooManyPendingBodies: error = .serverBusy()
        case .malformed(let reason): error = .invalidRequest("The request is not valid HTTP/1.1 (\(reason)).")
        case .unauthenticated: error = .invalidAPIKey
        }
        guard let head, let endpoint = Self.inferenceEndpoint(Self.path(head)) else { return fail(error, requestID, responder) }
        fail(error, endpoint, requestID, responder)
    }

    /// An inference request whose key is surely bad is refused before its body is read (the server
    /// asks only when the body is large or the client waits for `100 Continue`). A key this
    /// replica has not seen yet passes: it is looked up once the body is in, as always.
    func screen(_ head: HTTPRequestHead) -> HTTPRefusal? {
        guard head.method == .POST, Self.inferenceEndpoint(Self.path(head)) != nil else { return nil }
        guard let key = bearerKey(head) else { return .unauthenticated }
        if let ledger = state.ledger { return ledger.isSurelyInvalid(bearer: key) ? .unauthenticated : nil }
        return state.keys.authenticate(bearer: key) == nil ? .unauthenticated : nil
    }

    // MARK: stages

    /// The request's path, without its query.
    private static func path(_ head: HTTPRequestHead) -> Substring {
        head.uri.prefix { $0 != "?" }
    }

    /// The inference endpoint a path names, if any.
    private static func inferenceEndpoint(_ path: Substring) -> InferenceEndpoint? {
        switch path {
        case "/v1/chat/completions", "/chat/completions": .chat
        case "/v1/completions", "/completions": .completions
        default: nil
        }
    }

    /// The bearer key of a request, if it sent one.
    private func bearerKey(_ head: HTTPRequestHead) -> Substring? {
        guard let header = head.headers.first(name: "authorization") else { return nil }
        let value = Substring(header)
        let scheme = value.prefix(7)
        guard scheme.count == 7, scheme.lowercased() == "bearer " else { return nil }
        let key = value.dropFirst(7).drop(while: { $0 == " " })
        return key.isEmpty ? nil : key
    }

    /// Resolves the caller: from the ledger's key cache when a database is configured, else from
    /// the configuration file. Calls `done` on the event loop.
    private func resolveCaller(_ head: HTTPRequestHead, on eventLoop: EventLoop, _ done: @escaping (Result<Caller, GatewayError>) -> Void) {
        guard let key = bearerKey(head) else { return done(.failure(.invalidAPIKey)) }
        if let ledger = state.ledger { return ledger.resolve(bearer: key, on: eventLoop, done) }
        guard let team = state.keys.authenticate(bearer: key) else { return done(.failure(.invalidAPIKey)) }
        done(.success(Caller(configKey: team)))
    }

    /// The stages of an inference request, each of which may end it with an error:
    /// caller → request fields → candidate targets → prompt count → admission → proxy.
    /// Without a ledger every stage is synchronous, and then no closure is allocated on the way.
    private func proxy(_ request: HTTPInboundRequest, endpoint: InferenceEndpoint, ids: RequestIDs, responder: HTTPResponder) {
        guard state.ledger != nil else {
            guard let key = bearerKey(request.head), let team = state.keys.authenticate(bearer: key) else {
                return fail(.invalidAPIKey, endpoint, ids.echoed, responder)
            }
            return proxy(request, caller: Caller(configKey: team), endpoint: endpoint, ids: ids, responder: responder)
        }
        resolveCaller(request.head, on: responder.eventLoop) { [self] resolved in
            switch resolved {
            case .success(let caller):
                proxy(request, caller: caller, endpoint: endpoint, ids: ids, responder: responder)
            case .failure(let error):
                fail(error, endpoint, ids.echoed, responder)
            }
        }
    }

    private func proxy(
        _ request: HTTPInboundRequest, caller: Caller, endpoint: InferenceEndpoint, ids: RequestIDs, responder: HTTPResponder
    ) {
        let requestID = ids.echoed
        let parsed: InferenceRequest
        do throws(GatewayError) {
            parsed = try request.body.withUnsafeReadableBytes { bytes throws(GatewayError) in
                // With a price book, the same pass records a plain chat's turns for the prompt count.
                try InferenceRequest.parse(bytes, endpoint: endpoint, recordingTurns: state.pricing != nil)
            }
        } catch {
            return fail(error, endpoint, requestID, responder)
        }
        guard let candidates = state.targetsByModel[parsed.model] else {
            return fail(.modelNotFound(parsed.model), endpoint, requestID, responder)
        }
        guard caller.allows(model: parsed.model) else {
            return fail(.modelNotAllowed(parsed.model), endpoint, requestID, responder)
        }
        let context = ExchangeContext(
            request: parsed, body: request.body, candidates: candidates, ids: ids, caller: caller, baseLogger: logger)
        let account = RequestAccount(pricer: state.pricer)
        if let pricer = account.pricer {
            guard context.body.readableBytes <= RequestPricer.inlineCountLimit else {
                return countOffLoop(context, account: account, pricer: pricer, responder: responder)
            }
            // Short prompts are counted right here: about a microsecond for a typical chat turn.
            account.prompt = pricer.countPrompt(context.body, request: parsed, team: caller.team)
            return fitAndSend(context, account: account, responder: responder)
        }
        admitAndSend(context, account: account, responder: responder)
    }

    /// Counts a long prompt on the thread pool, so a 1M-token prompt never stalls the event loop.
    private func countOffLoop(_ context: ExchangeContext, account: RequestAccount, pricer: RequestPricer, responder: HTTPResponder) {
        let body = context.body
        let request = context.request
        let team = context.caller.team
        NIOThreadPool.singleton.runIfActive(eventLoop: responder.eventLoop) {
            pricer.countPrompt(body, request: request, team: team)
        }.whenComplete { [self] result in
            account.prompt = try? result.get()
            if !responder.isFinished { fitAndSend(context, account: account, responder: responder) }
        }
    }

    /// Drops the candidates whose context cannot hold the counted prompt and its answer, then
    /// admits and sends; when no candidate can, refuses as the engine would, before any budget is
    /// reserved or any engine is asked (README, "Context fit").
    private func fitAndSend(_ context: ExchangeContext, account: RequestAccount, responder: HTTPResponder) {
        guard let prompt = account.prompt, let fit = ContextFit.check(context.candidates, prompt: prompt, request: context.request) else {
            return admitAndSend(context, account: account, responder: responder)
        }
        switch fit {
        case .narrowed(let fitting, let skipped):
            skipped.forEach(state.metrics.recordContextSkip)
            var narrowed = context
            narrowed.candidates = fitting
            admitAndSend(narrowed, account: account, responder: responder)
        case .refused(let error):
            context.candidates.forEach(state.metrics.recordContextSkip)
            fail(error, context.request.endpoint, context.ids.echoed, responder)
        }
    }

    /// Admission (with a ledger), then the exchange. Without a ledger there is nothing to wait for.
    private func admitAndSend(_ context: ExchangeContext, account: RequestAccount, responder: HTTPResponder) {
        guard state.ledger != nil else { return startExchange(context, account: account, admission: nil, responder: responder) }
        admit(context, account: account, responder: responder) { [self] admission in
            startExchange(context, account: account, admission: admission, responder: responder)
        }
    }

    /// One copy for every kind of gateway (priced or not, with a ledger or not), so that pricing
    /// runs no code of its own here.
    @inline(never)
    private func startExchange(_ context: ExchangeContext, account: RequestAccount, admission: Admission?, responder: HTTPResponder) {
        ProxyExchange(context: context, responder: responder, state: state, account: account, admission: admission).start()
    }

    /// Rate limits and budget, when keys come from the ledger.
    private func admit(
        _ context: ExchangeContext, account: RequestAccount, responder: HTTPResponder, _ next: @escaping (Admission?) -> Void
    ) {
        guard let ledger = state.ledger, let key = context.caller.ledgerKey, let pricer = account.pricer else { return next(nil) }
        let request = context.request
        let prompt = account.prompt?.tokens ?? context.body.readableBytes / 4
        let output = pricer.estimator.expectedOutputTokens(
            model: request.model, maxTokens: request.maxTokens, thinking: request.thinking, choices: request.choices) ?? 0
        // Reserve the dearest candidate's estimate: whichever target serves it, the budget holds.
        let estimate = context.candidates.compactMap {
            pricer.estimate(target: $0, request: request, promptTokens: prompt, at: account.startedAt)?.money
        }.max() ?? .zero(pricer.currency)
        ledger.admit(key, estimatedTokens: prompt + output, estimate: estimate, on: responder.eventLoop) { result in
            switch result {
            case .success(let admission):
                if responder.isFinished {
                    ledger.ledger.budgets.release(admission.reservation)
                } else {
                    next(admission)
                }
            case .failure(let refusal):
                state.metrics.recordRefused(context.request.endpoint, status: refusal.error.status)
                GatewayHandler.sendError(
                    refusal.error, requestID: context.ids.echoed, target: nil, extraHeaders: refusal.headers, responder: responder)
            }
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

    /// An inference request answered before it reached a target: counted for `/admin/metrics`.
    private func fail(_ error: GatewayError, _ route: InferenceEndpoint, _ requestID: String, _ responder: HTTPResponder) {
        state.metrics.recordRefused(route, status: error.status)
        fail(error, requestID, responder)
    }

    /// An error before any byte of the answer went out: the envelope with its status.
    static func sendError(
        _ error: GatewayError, requestID: String, target: String?, extraHeaders: [(String, String)] = [], responder: HTTPResponder
    ) {
        var headers = HTTPHeaders(extraHeaders)
        if let allow = error.allow { headers.add(name: "allow", value: allow) }
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "x-request-id", value: requestID)
        headers.add(name: "x-tollgate-target", value: target ?? "none")
        let envelope = error.envelope
        var buffer = responder.allocator.buffer(capacity: envelope.count)
        buffer.writeBytes(envelope)
        responder.send(status: HTTPResponseStatus(statusCode: error.status), headers: headers, body: buffer)
    }
}
