import NIOCore
import TollgateHTTP

/// One request going through the timing model: waiting → prefill → decode steps → done, paced by
/// timers on its connection's event loop (never a sleeping thread).
final class SimExchange: @unchecked Sendable {
    // @unchecked: every mutable field is touched only on `eventLoop`; other loops (the scheduler
    // promoting it, `abortAll`) only hold the reference and hop onto `eventLoop` to call it.
    private enum Phase {
        case created, stalled, waiting, prefill, decoding, done
    }

    let eventLoop: EventLoop
    let promptTokens: Int
    private let engine: SimEngine
    private let responder: HTTPResponder
    private var writer: ResponseWriter
    private var phase = Phase.created
    private var timer: Scheduled<Void>?
    private var step = 0
    private var kvHeld = 0
    private let arrival = NIODeadline.now()
    private var lastToken = NIODeadline.now()

    init(engine: SimEngine, responder: HTTPResponder, writer: ResponseWriter) {
        self.engine = engine
        self.responder = responder
        self.writer = writer
        self.eventLoop = responder.eventLoop
        self.promptTokens = writer.plan.promptTokens
    }

    private var stream: Bool { writer.request.base.stream }

    func begin(stallMs: Int) {
        responder.onClose { [self] in clientClosed() }
        if stallMs > 0 {
            phase = .stalled
            timer = eventLoop.scheduleTask(in: .milliseconds(Int64(stallMs))) { [self] in
                guard phase == .stalled else { return }
                enter()
            }
        } else {
            enter()
        }
    }

    private func enter() {
        if engine.configuration.instant {
            phase = .done
            engine.respondNow(writer, responder: responder, arrival: arrival)
            return
        }
        phase = .waiting
        switch engine.scheduler.admit(self) {
        case .run:
            admitted()
        case .queued:
            break
        case .rejected:
            phase = .done
            engine.metrics.rejected.wrappingIncrement(ordering: .relaxed)
            SimEngine.sendError(
                responder, status: 503, type: "ServiceUnavailableError",
                message: "The engine is overloaded: \(engine.configuration.maxQueue) requests are already waiting.")
        }
    }

    /// Called on `eventLoop` once the scheduler gave this request a running slot.
    func admitted() {
        guard phase == .waiting else { return }
        phase = .prefill
        kvHeld = promptTokens
        let now = NIODeadline.now()
        engine.metrics.queueTime.observe(seconds: Double((now - arrival).nanoseconds) / 1e9)
        let prefill = engine.prefillTime(promptTokens: promptTokens, cachedTokens: writer.plan.cachedPromptTokens)
        timer = eventLoop.scheduleTask(in: prefill) { [self] in firstToken() }
    }

    private func firstToken() {
        guard phase == .prefill else { return }
        phase = .decoding
        let now = NIODeadline.now()
        lastToken = now
        engine.metrics.promptTokens.wrappingIncrement(by: promptTokens, ordering: .relaxed)
        engine.metrics.timeToFirstToken.observe(seconds: Double((now - arrival).nanoseconds) / 1e9)
        if stream { responder.sendHead(status: .ok, headers: SimEngine.sseHeaders) }
        decodeStep()
    }

    private func decodeStep() {
        guard phase == .decoding else { return }
        var tokens = 0
        for choice in writer.plan.choices where step < choice.steps { tokens += 1 }
        let running = engine.scheduler.advance(tokens: tokens)
        kvHeld += tokens
        engine.metrics.generationTokens.wrappingIncrement(by: tokens, ordering: .relaxed)
        if stream {
            var out: [UInt8] = []
            writer.appendStep(step, to: &out)
            if step == writer.plan.steps - 1 {
                if writer.request.base.clientWantsUsage { writer.appendUsageChunk(to: &out) }
                writer.appendDone(to: &out)
            }
            responder.sendBody(responder.allocator.buffer(bytes: out), flush: true)
            if writer.limitReached && writer.eventsWritten < engine.totalEvents(writer) {
                drop()
                return
            }
        }
        step += 1
        if step >= writer.plan.steps {
            complete()
            return
        }
        let now = NIODeadline.now()
        if step > 1 { engine.metrics.interTokenLatency.observe(seconds: Double((now - lastToken).nanoseconds) / 1e9) }
        lastToken = now
        timer = eventLoop.scheduleTask(in: engine.decodeTime(running: running)) { [self] in decodeStep() }
    }

    private func complete() {
        phase = .done
        engine.scheduler.finish(self, kvHeld: kvHeld)
        engine.metrics.finished(writer.plan.choices[0].finishReason.metricLabel)
        engine.metrics.endToEnd.observe(seconds: Double((NIODeadline.now() - arrival).nanoseconds) / 1e9)
        if stream {
            responder.end()
        } else {
            SimEngine.send(responder, json: writer.completeBody())
        }
    }

    /// The client went away: stop, free the slot and the KV cache, count an abort (as vLLM does).
    private func clientClosed() {
        release()
    }

    /// Closes the connection ourselves (a drop fault, or the engine going down).
    func drop() {
        guard phase != .done else { return }
        release()
        responder.abortConnection()
    }

    private func release() {
        let previous = phase
        guard previous != .done else { return }
        phase = .done
        timer?.cancel()
        timer = nil
        switch previous {
        case .waiting:
            if !engine.scheduler.cancelWaiting(self) {
                // Promoted in the meantime: the slot is ours and must be given back.
                engine.scheduler.finish(self, kvHeld: promptTokens)
            }
        case .prefill, .decoding:
            engine.scheduler.finish(self, kvHeld: kvHeld)
        case .created, .stalled, .done:
            break
        }
        engine.metrics.finished(.abort)
    }
}
