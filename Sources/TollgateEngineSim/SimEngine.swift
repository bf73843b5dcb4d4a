import Atomics
import NIOCore
import NIOHTTP1
import TollgateHTTP
import TollgateWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The simulated engine behind the HTTP routes: admission, the timing model, responses, counters.
/// Shared by every event loop; all its state is atomics or behind the scheduler's one lock.
final class SimEngine: Sendable {
    let configuration: EngineSimConfiguration
    let shape: SimShape
    let metrics = SimMetrics()
    let scheduler: SimScheduler
    let faults: SimFaultState
    let prefixCache = SimPrefixCache()
    let startedAt = Int(time(nil))
    private let idPrefix = UInt64.random(in: .min ... .max)
    private let idCounter = ManagedAtomic<UInt64>(0)

    static let jsonHeaders = HTTPHeaders([("content-type", "application/json")])
    static let sseHeaders = HTTPHeaders([("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")])

    init(configuration: EngineSimConfiguration) {
        self.configuration = configuration
        self.shape = SimShape(configuration)
        self.scheduler = SimScheduler(
            maxNumSeqs: configuration.maxNumSeqs, maxQueue: configuration.maxQueue,
            kvCapacity: configuration.kvCacheTokens)
        self.faults = SimFaultState(configuration.faults)
    }

    // MARK: errors

    /// vLLM's flat error body: `{"object":"error","message":...,"type":...,"param":...,"code":N}`.
    static func errorBody(status: Int, type: String, message: String, param: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count + 96)
        out.append(contentsOf: #"{"object":"error","message":"#.utf8)
        JSONWriter.appendString(message, to: &out)
        out.append(contentsOf: #","type":"#.utf8)
        JSONWriter.appendString(type, to: &out)
        out.append(contentsOf: #","param":"#.utf8)
        JSONWriter.appendOptionalString(param, to: &out)
        out.append(contentsOf: #","code":"#.utf8)
        Decimal.append(status, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func sendError(
        _ responder: HTTPResponder, status: Int, type: String, message: String, param: String? = nil
    ) {
        let body = errorBody(status: status, type: type, message: message, param: param)
        responder.send(
            status: HTTPResponseStatus(statusCode: status), headers: jsonHeaders,
            body: responder.allocator.buffer(bytes: body))
    }

    static func send(_ responder: HTTPResponder, json: [UInt8], status: HTTPResponseStatus = .ok) {
        responder.send(status: status, headers: jsonHeaders, body: responder.allocator.buffer(bytes: json))
    }

    // MARK: inference

    private func makeID(_ endpoint: InferenceEndpoint) -> [UInt8] {
        var id: [UInt8] = []
        id.reserveCapacity(41)
        id.append(contentsOf: (endpoint == .chat ? "chatcmpl-" : "cmpl-").utf8)
        Hex.append(idPrefix, to: &id)
        Hex.append(idCounter.wrappingIncrementThenLoad(ordering: .relaxed), to: &id)
        return id
    }

    /// `POST /v1/chat/completions` and `POST /v1/completions`.
    func handleInference(_ body: ByteBuffer, endpoint: InferenceEndpoint, responder: HTTPResponder) {
        if faults.refusing {
            // The engine is "down": a kept-alive connection dies like the process behind it did.
            responder.abortConnection()
            return
        }
        metrics.requests.wrappingIncrement(ordering: .relaxed)
        let request: SimRequest
        do {
            request = try body.withUnsafeReadableBytes { bytes in try SimRequest.parse(bytes, endpoint: endpoint) }
        } catch let error as GatewayError {
            metrics.badRequests.wrappingIncrement(ordering: .relaxed)
            Self.sendError(responder, status: 400, type: "BadRequestError", message: error.message, param: error.param)
            return
        } catch {
            metrics.badRequests.wrappingIncrement(ordering: .relaxed)
            Self.sendError(responder, status: 400, type: "BadRequestError", message: "The request body could not be read.")
            return
        }
        guard request.base.model == configuration.model || configuration.aliases.contains(request.base.model) else {
            metrics.badRequests.wrappingIncrement(ordering: .relaxed)
            Self.sendError(
                responder, status: 404, type: "NotFoundError",
                message: "The model `\(request.base.model.prefix(200))` does not exist.", param: "model")
            return
        }
        // Each prompt of a batch must fit on its own.
        let prompt = request.longestPromptTokens
        let completion = request.maxTokens ?? 0
        if prompt + completion > configuration.maxModelLen
            || (request.maxTokens == nil && prompt >= configuration.maxModelLen)
        {
            metrics.badRequests.wrappingIncrement(ordering: .relaxed)
            let message =
                "This model's maximum context length is \(configuration.maxModelLen) tokens. However, you requested "
                + "\(prompt + completion) tokens (\(prompt) in the messages, \(completion) in "
                + "the completion). Please reduce the length of the messages or completion."
            Self.sendError(responder, status: 400, type: "BadRequestError", message: message)
            return
        }
        if faults.shouldFail() {
            metrics.injectedErrors.wrappingIncrement(ordering: .relaxed)
            Self.sendError(
                responder, status: 500, type: "InternalServerError",
                message: "Simulated engine failure (error rate \(faults.errorRate)).")
            return
        }
        var cached = 0
        if configuration.deepSeekUsage || !configuration.instant {
            cached = prefixCache.lookupAndInsert(request.prefixes)
            metrics.prefixQueries.wrappingIncrement(by: request.promptTokens, ordering: .relaxed)
            metrics.prefixHits.wrappingIncrement(by: cached, ordering: .relaxed)
        }
        let id = makeID(endpoint)
        let plan = ResponsePlan.make(
            request, configuration: configuration, cachedPromptTokens: cached, idSeed: PromptHash.mix(idPrefix, request.seed))
        let writer = ResponseWriter(
            shape: shape, request: request, plan: plan, id: id, created: Int(time(nil)),
            eventLimit: request.base.stream ? faults.dropAfterChunks : nil, omitsUsage: faults.omitUsage)
        let stall = faults.stallMs
        if configuration.instant && stall == 0 {
            respondNow(writer, responder: responder, arrival: nil)
            return
        }
        let exchange = SimExchange(engine: self, responder: responder, writer: writer)
        exchange.begin(stallMs: stall)
    }

    /// Writes the whole answer at once (`--instant`): no scheduler, no timers.
    func respondNow(_ writer: ResponseWriter, responder: HTTPResponder, arrival: NIODeadline?) {
        var writer = writer
        let plan = writer.plan
        metrics.promptTokens.wrappingIncrement(by: plan.promptTokens, ordering: .relaxed)
        metrics.generationTokens.wrappingIncrement(by: plan.completionTokens, ordering: .relaxed)
        if let arrival {
            let elapsed = Double((NIODeadline.now() - arrival).nanoseconds) / 1e9
            metrics.timeToFirstToken.observe(seconds: elapsed)
            metrics.endToEnd.observe(seconds: elapsed)
        }
        if writer.request.base.stream {
            var out: [UInt8] = []
            out.reserveCapacity(plan.steps * plan.choices.count * (200 + writer.id.count))
            for step in 0..<plan.steps {
                writer.appendStep(step, to: &out)
                if writer.limitReached { break }
            }
            if writer.request.base.clientWantsUsage { writer.appendUsageChunk(to: &out) }
            writer.appendDone(to: &out)
            responder.sendHead(status: .ok, headers: Self.sseHeaders)
            responder.sendBody(responder.allocator.buffer(bytes: out), flush: true)
            if writer.limitReached && writer.eventsWritten < totalEvents(writer) {
                metrics.finished(.abort)
                responder.abortConnection()
            } else {
                metrics.finished(plan.choices[0].finishReason.metricLabel)
                responder.end()
            }
        } else {
            metrics.finished(plan.choices[0].finishReason.metricLabel)
            let body = writer.completeBody()
            Self.send(responder, json: body)
        }
    }

    /// Events of a whole stream, to tell a drop from a stream that simply ended at the limit.
    func totalEvents(_ writer: ResponseWriter) -> Int {
        var counter = writer
        counter.eventLimit = nil
        var scratch: [UInt8] = []
        for step in 0..<writer.plan.steps { counter.appendStep(step, to: &scratch) }
        if writer.request.base.clientWantsUsage { counter.appendUsageChunk(to: &scratch) }
        counter.appendDone(to: &scratch)
        return counter.eventsWritten
    }

    // MARK: timing model

    /// Time to first token once running: the fixed part plus prefill of the uncached prompt.
    func prefillTime(promptTokens: Int, cachedTokens: Int) -> TimeAmount {
        let ms = configuration.prefillBaseMs
            + Double(max(0, promptTokens - cachedTokens)) * configuration.prefillMsPer1kTokens / 1000
        return .nanoseconds(Int64(ms * 1_000_000))
    }

    /// Time of one decode step with `running` sequences in the batch.
    func decodeTime(running: Int) -> TimeAmount {
        let ms = configuration.decodeMsPerToken * (1 + configuration.decodeSlowdownPerSeq * Double(max(0, running - 1)))
        return .nanoseconds(Int64(ms * 1_000_000))
    }

    var kvUsage: Double {
        Double(scheduler.snapshot.kvUsed) / Double(configuration.kvCacheTokens)
    }

    /// Drops every running and waiting request (the engine went down).
    func abortAll() {
        for exchange in scheduler.allActive {
            exchange.eventLoop.execute { exchange.drop() }
        }
    }
}
