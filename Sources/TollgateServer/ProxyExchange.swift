import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TollgateHTTP
import TollgateLedger
import TollgateMoney
import TollgatePricing
import TollgateRouting
import TollgateTokenizer
import TollgateWire

/// One proxied request, from the first upstream attempt to the last byte to the client.
///
/// Lives on the client connection's event loop (the upstream call runs on the same loop), so its
/// state needs no lock. Fails over to the next endpoint or target while nothing has been sent to
/// the client; after that, upstream failures become a final SSE error event.
final class ProxyExchange: UpstreamResponseDelegate {
    private enum Mode {
        /// Waiting for the upstream's response head.
        case waiting
        /// Forwarding an SSE stream event by event.
        case streaming
        /// Collecting a whole JSON body (non-streaming answer, or an upstream error).
        case buffering(status: Int)
        case done
    }

    private let context: ExchangeContext
    private var request: InferenceRequest { context.request }
    private var candidates: [Target] { context.candidates }
    private var requestID: String { context.ids.own }
    private var logger: Logger { context.logger }
    private let responder: HTTPResponder
    private let state: GatewayState
    private let admission: Admission?

    private var mode = Mode.waiting
    private var candidateIndex = 0
    private var tried: [Endpoint] = []
    private var connectFailures = 0
    private var target: Target?
    private var endpoint: Endpoint?
    /// The endpoint of the last attempt, for the ledger row.
    private var lastEndpoint: Endpoint?
    private var call: UpstreamCall?
    private var collected: ByteBuffer?
    /// Bytes of an SSE event split across reads.
    private var partialEvent: ByteBuffer?
    private var outgoing: ByteBuffer?
    private var sawDone = false
    /// A usage chunk of Tollgate's count went out in place of one it did not believe.
    private var sentUsage = false
    /// The `id` and `model` of a stream whose chunks Tollgate parses (llama.cpp's), for the usage
    /// chunk it adds.
    private var streamIdentity: (id: String, model: String)?
    private var billable = false
    private var clientLeft = false
    private var firstByteAt: Date?
    /// An engine's `retry-after` on a 429 or 503, passed on with its error.
    private var retryAfter: String?
    private var isFinished = false
    /// Counts, estimate and usage of this request, for its bill.
    let account: RequestAccount
    private var pricer: RequestPricer? { account.pricer }

    init(context: ExchangeContext, responder: HTTPResponder, state: GatewayState, account: RequestAccount, admission: Admission?) {
        self.context = context
        self.responder = responder
        self.state = state
        self.account = account
        self.admission = admission
    }

    func start() {
        responder.onClose { [self] in clientDisconnected() }
        responder.onWritabilityChanged { [self] writable in
            if writable { call?.resumeReading() } else { call?.pauseReading() }
        }
        attemptNext()
    }

    // MARK: choosing where to send

    /// Sends to the least-loaded healthy endpoint of the first candidate target that has one.
    private func attemptNext() {
        while candidateIndex < candidates.count {
            let candidate = candidates[candidateIndex]
            if !candidate.isSaturated, let chosen = pickEndpoint(of: candidate) {
                send(to: chosen, of: candidate)
                return
            }
            candidateIndex += 1
        }
        let error: GatewayError = connectFailures > 0 ? .upstreamUnreachable() : .noHealthyTarget(request.model)
        finishWithError(error)
    }

    /// After an engine refused the prompt as too long for its context: the next candidate
    /// configured with a longer `max_model_len` than the refusing target, if any. The refusal
    /// cost the engine no generation, and nothing has reached the client yet.
    private func nextCandidateWithLongerContext() -> Int? {
        guard let refusing = target?.maxModelLen else { return nil }
        return candidates.indices.first { $0 > candidateIndex && (candidates[$0].maxModelLen ?? 0) > refusing }
    }

    private func pickEndpoint(of candidate: Target) -> Endpoint? {
        if request.needsBeta, let beta = candidate.betaEndpoint {
            return tried.contains { $0 === beta } ? nil : beta
        }
        return candidate.leastLoadedEndpoint(spin: state.nextSpin(), excluding: tried)
    }

    private func send(to chosen: Endpoint, of candidate: Target) {
        target = candidate
        endpoint = chosen
        lastEndpoint = chosen
        tried.append(chosen)
        chosen.begin()
        if let pricer {
            account.rates = pricer.rates(target: candidate, model: request.model, at: account.startedAt)
            if let rates = account.rates, let prompt = account.prompt {
                account.estimate = pricer.estimate(at: rates, request: request, promptTokens: prompt.tokens)
            }
        }

        let served = candidate.models[request.model]
        let splices = request.rewrite(servedModel: served, forceUsage: true)
        let upstreamBody: ByteBuffer
        if splices.isEmpty {
            upstreamBody = context.body
        } else {
            upstreamBody = context.body.withUnsafeReadableBytes { responder.allocator.spliced($0, splices) }
        }
        // Built as one list, in one allocation (as `answerHeaders`).
        var headerList: [(String, String)] = []
        headerList.reserveCapacity(7)
        headerList.append(("content-type", "application/json"))
        headerList.append(("accept", request.stream ? "text/event-stream" : "application/json"))
        // Without it any coding is acceptable (RFC 9110), and a proxy may gzip what Tollgate reads.
        headerList.append(("accept-encoding", "identity"))
        // Always the gateway's own id, UUID-shaped: llama.cpp's server answers 400 to any other shape.
        headerList.append(("x-request-id", requestID))
        if let key = candidate.upstreamAPIKey { headerList.append(("authorization", "Bearer \(key)")) }
        let headers = HTTPHeaders(headerList)
        let configuration = state.configuration
        let upstreamRequest = UpstreamRequest(
            origin: chosen.origin, path: request.endpoint.rawValue, method: .POST, headers: headers, body: upstreamBody,
            firstByteTimeout: .milliseconds(Int64(configuration.firstByteTimeoutMs)),
            idleTimeout: .milliseconds(Int64(configuration.idleTimeoutMs)))
        mode = .waiting
        call = state.client.execute(upstreamRequest, on: responder.eventLoop, delegate: self)
    }

    /// Releases the endpoint's load slot once per attempt.
    private func releaseEndpoint() {
        endpoint?.end()
        endpoint = nil
    }

    // MARK: UpstreamResponseDelegate

    func upstreamDidReceiveHead(_ head: HTTPResponseHead) {
        let status = Int(head.status.code)
        let contentType = head.headers.first(name: "content-type") ?? ""
        if status == 429 || status == 503 { retryAfter = head.headers.first(name: "retry-after").flatMap(Self.plainHeaderValue) }
        if (200..<300).contains(status), let reason = Self.unreadable(head.headers, contentType: contentType, streaming: request.stream) {
            return refuseUnreadableAnswer(reason)
        }
        // An engine that accepted the request is doing work for it: from here on it is billed.
        billable = (200..<300).contains(status)
        if (200..<300).contains(status) && request.stream && contentType.hasPrefix("text/event-stream") {
            mode = .streaming
            let headers = answerHeaders(contentType: "text/event-stream", extra: ("cache-control", "no-cache"))
            responder.sendHead(status: .ok, headers: headers)
        } else {
            mode = .buffering(status: status)
        }
    }

    func upstreamDidReceiveBody(_ buffer: ByteBuffer) {
        if firstByteAt == nil { firstByteAt = Date() }
        switch mode {
        case .streaming:
            forwardEvents(buffer)
        case .buffering:
            guard (collected?.readableBytes ?? 0) + buffer.readableBytes <= maxAnswerBytes else { return refuseOversizedAnswer() }
            // Most answers arrive in one read: keep that buffer, copy only when more follow.
            if collected == nil {
                collected = buffer
            } else {
                var buffer = buffer
                collected!.writeBuffer(&buffer)
            }
        case .waiting, .done:
            break
        }
    }

    func upstreamDidFinishRead() {
        if case .streaming = mode { flushOutgoing() }
    }

    func upstreamDidEnd() {
        call = nil
        releaseEndpoint()
        switch mode {
        case .streaming:
            if let partial = partialEvent {
                // The engine ended without the last event's blank line. The event is whole all the
                // same, and what Tollgate writes next must not run on in its line.
                partialEvent = nil
                forwardUnterminatedEvent(partial)
                guard case .streaming = mode else { return }  // its text passed the limit
            }
            if !sawDone {
                appendEstimatedUsageChunkIfMissing()
                appendOutgoing(SSE.done)
            }
            flushOutgoing()
            mode = .done
            responder.end()
            finished(status: 200, errorCode: nil)
        case .buffering(let status):
            let body = collected ?? responder.allocator.buffer(capacity: 0)
            collected = nil
            if (200..<300).contains(status) {
                sendSuccessBody(body)
            } else {
                let error = body.withUnsafeReadableBytes { UpstreamErrorBody.normalise(status: status, body: $0, endpoint: request.endpoint) }
                if error.code == GatewayError.contextLengthExceededCode, let longer = nextCandidateWithLongerContext() {
                    if let target { state.metrics.recordContextSkip(target) }
                    candidateIndex = longer
                    return attemptNext()
                }
                finishWithError(error)
            }
        case .waiting, .done:
            break
        }
    }

    func upstreamDidFail(_ error: UpstreamError) {
        call = nil
        let failedEndpoint = endpoint
        releaseEndpoint()
        switch mode {
        case .waiting:
            // Nothing reached the client: a refused or dropped connection fails over.
            if error.beforeResponse && (error.kind == .connectFailed || error.kind == .connectionClosed) {
                if error.kind == .connectFailed {
                    connectFailures += 1
                    if let failedEndpoint, failedEndpoint.markDown() {
                        logger.warning("endpoint marked down", metadata: ["tollgate.endpoint": "\(failedEndpoint)", "tollgate.error": "\(error)"])
                    }
                }
                attemptNext()
            } else {
                finishWithError(error.kind == .firstByteTimeout ? .upstreamTimeout() : .upstreamDisconnected())
            }
        case .buffering:
            finishWithError(error.kind == .idleTimeout ? .upstreamTimeout() : .upstreamDisconnected())
        case .streaming:
            endStream(with: error.kind == .idleTimeout ? .upstreamTimeout() : .upstreamDisconnected())
        case .done:
            break
        }
    }

    /// The client already has a 200: the stream ends with an error event, then [DONE].
    private func endStream(with error: GatewayError) {
        partialEvent = nil
        appendOutgoing(SSE.event(error.envelope))
        appendOutgoing(SSE.done)
        flushOutgoing()
        mode = .done
        responder.end()
        finished(status: 200, errorCode: error.code)
    }

    private var maxAnswerBytes: Int { state.configuration.maxAnswerBytes }

    /// An answer, one event of a stream, or the text Tollgate counts, past `limits.max_answer_bytes`:
    /// only a broken engine sends that much, so it is cut off before it fills the gateway's memory.
    private func refuseOversizedAnswer() {
        call?.cancel()
        call = nil
        releaseEndpoint()
        collected = nil
        let error = GatewayError.upstreamAnswerTooLarge(limit: maxAnswerBytes)
        if case .streaming = mode { endStream(with: error) } else { finishWithError(error) }
    }

    /// Why a successful answer with these headers cannot be read, or nil: coded (a proxy that
    /// ignored `accept-encoding: identity`), or neither JSON nor the stream the client asked for
    /// (an HTML page from a proxy, an SSE stream for a request that did not ask for one).
    private static func unreadable(_ headers: HTTPHeaders, contentType: String, streaming: Bool) -> String? {
        if let coding = headers.first(name: "content-encoding"), coding.lowercased() != "identity" {
            return "it is sent with content-encoding '\(coding.prefix(40))'"
        }
        // What engines send, checked without making a lowercased copy.
        if contentType.hasPrefix("application/json") || (streaming && contentType.hasPrefix("text/event-stream")) { return nil }
        let type = contentType.lowercased()
        if type.isEmpty || type.contains("json") || (streaming && type.hasPrefix("text/event-stream")) { return nil }
        return "it is \(contentType.prefix(60)), not JSON"
    }

    /// The engine's answer cannot reach the client as an answer: a 502 in the OpenAI envelope,
    /// and no bill, since nothing usable was delivered.
    private func refuseUnreadableAnswer(_ reason: String) {
        call?.cancel()
        call = nil
        releaseEndpoint()
        finishWithError(.upstreamUnreadableAnswer(reason))
    }

    /// A header value fit to pass on: short printable ASCII.
    private static func plainHeaderValue(_ value: String) -> String? {
        value.utf8.count <= 64 && value.utf8.allSatisfy { (0x20...0x7E).contains($0) } ? value : nil
    }

    private func clientDisconnected() {
        // Cancelling closes the upstream connection, which is how the engine learns to abort.
        call?.cancel()
        call = nil
        releaseEndpoint()
        mode = .done
        clientLeft = true
        finished(status: 499, errorCode: "client_disconnected")
    }

    // MARK: non-streaming

    private func sendSuccessBody(_ body: ByteBuffer) {
        var out = body
        var isJSONObject = true
        body.withUnsafeReadableBytes { bytes in
            // Unpriced answers without vLLM's `reasoning` key go out untouched, unread; priced ones
            // need only their usage, which is found from the end without walking the whole body.
            let hasReasoningKey = ByteSearch.find(#""reasoning""#, in: bytes) != nil
            guard pricer != nil || hasReasoningKey else { return }
            let trailingUsage = hasReasoningKey ? nil : TrailingUsage.find(in: bytes)
            guard let shape = trailingUsage.map({ ResponseShape(usageRange: $0, of: bytes) }) ?? ResponseShape.inspect(bytes)
            else {
                isJSONObject = false
                return
            }
            if pricer != nil {
                account.reported = shape.usage
                // No usage the gateway can believe: bill the answer's own text, counted.
                if shape.usage == nil { collectGeneratedText(bytes, member: "message") }
            }
            var edits = AnswerEdits(reasoningKeys: shape.reasoningKeyRanges)
            if shape.usage != nil, let range = shape.usageRange, let cost = settledCost() {
                edits.addCost(cost, toUsageAt: range, replacing: shape.usageCostRange)
            }
            if !edits.isEmpty {
                out = responder.allocator.buffer(capacity: bytes.count + edits.growth)
                out.writeEdited(bytes, edits)
            }
            // Without a usage the gateway believes, the client gets Tollgate's count, marked
            // estimated, as a stream does: the engine's numbers are not passed on.
            if shape.usage == nil, let settlement = settle() {
                out = out.replacingUsage(with: Self.billedUsage(settlement), allocator: responder.allocator) ?? out
            }
        }
        // Read and found no JSON object (cut short, or not JSON at all): nothing the client can use.
        guard isJSONObject else {
            billable = false
            return finishWithError(.upstreamUnreadableAnswer("it is not a JSON object"))
        }
        mode = .done
        responder.send(status: .ok, headers: answerHeaders(contentType: "application/json"), body: out)
        finished(status: 200, errorCode: nil)
    }

    // MARK: streaming

    /// Splits the upstream bytes into SSE events and forwards them, capturing the usage chunk
    /// (hidden when the client did not ask for it) and renaming vLLM's `reasoning` key. Events
    /// that need neither are copied through untouched.
    private func forwardEvents(_ buffer: ByteBuffer) {
        var data = buffer
        // The bytes of an unfinished event already searched for its end are not searched again.
        var searchedTo = 0
        if var partial = partialEvent {
            partialEvent = nil  // so the append below does not copy it
            searchedTo = partial.readableBytes
            partial.writeBuffer(&data)
            data = partial
        }
        let consumed = data.withUnsafeReadableBytes { bytes -> Int in
            var start = 0
            while case .streaming = mode, let end = SSE.eventEnd(in: bytes, from: start, searchedTo: searchedTo) {
                forwardEvent(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = end
            }
            return start
        }
        guard case .streaming = mode else { return }
        data.moveReaderIndex(forwardBy: consumed)
        guard data.readableBytes <= maxAnswerBytes else { return refuseOversizedAnswer() }
        if data.readableBytes > 0 { partialEvent = data }
    }

    private func forwardEvent(_ event: UnsafeRawBufferPointer) {
        if SSE.isDone(event) { return forwardDone(event) }
        guard let payloadRange = SSE.dataPayload(of: event) else { return forwardFieldedEvent(event) }
        forwardPayload(UnsafeRawBufferPointer(rebasing: event[payloadRange]), of: event)
    }

    /// The bytes after the stream's last blank line, forwarded as an event once the engine ended
    /// the stream: framed with the blank line it lacked, or dropped when they are only line ends.
    private func forwardUnterminatedEvent(_ bytes: ByteBuffer) {
        var event = Array(bytes.readableBytesView)
        while let last = event.last, last == 0x0A || last == 0x0D { event.removeLast() }
        guard !event.isEmpty else { return }
        event.append(contentsOf: [0x0A, 0x0A])
        event.withUnsafeBytes { forwardEvent($0) }
    }

    private func forwardDone(_ event: UnsafeRawBufferPointer) {
        sawDone = true
        appendEstimatedUsageChunkIfMissing()
        appendOutgoing(event)
    }

    /// An event with more than one data line: comments, `event:` or `id:` lines beside its data,
    /// data in several lines. Engines rarely send one, but it is valid SSE, and its usage is
    /// read, priced or hidden like any other. Edited, it goes out with its other lines first.
    private func forwardFieldedEvent(_ event: UnsafeRawBufferPointer) {
        guard let fields = SSE.fields(of: event) else { return appendOutgoing(event) }
        if fields.data.elementsEqual("[DONE]".utf8) { return forwardDone(event) }
        guard fields.data.first == UInt8(ascii: "{") else { return appendOutgoing(event) }
        // The data lines' newlines fall between JSON tokens (JSON strings cannot hold one), where a
        // space means the same: the JSON, edited, goes out in one data line.
        let json = fields.data.map { $0 == 0x0A ? 0x20 : $0 }
        json.withUnsafeBytes { forwardPayload($0, of: event, otherLines: fields.otherLines) }
    }

    /// Forwards an event whose data is the JSON `payload`: as it came, or edited (the usage's cost,
    /// hidden or removed usage, vLLM's `reasoning` key renamed).
    private func forwardPayload(_ payload: UnsafeRawBufferPointer, of event: UnsafeRawBufferPointer, otherLines: [UInt8] = []) {
        // An engine's error event generates no token.
        if !payload.starts(with: #"{"error""#.utf8) { account.streamedEvents += 1 }
        if target?.engine == .llamacpp {
            collectGeneratedText(payload)
            guard case .streaming = mode else { return }  // its text passed the limit
        }
        // Tollgate asks every engine for the usage; a client that did not ask must not see the
        // `"usage":null` that makes OpenAI-style engines (the DeepSeek API) write on every chunk.
        let usage = usageValues(payload)
        let unaskedNull = usage.null && !request.clientWantsUsage
        guard usage.object || unaskedNull || contains(payload, #""reasoning""#) else { return appendOutgoing(event) }
        guard let shape = ResponseShape.inspect(payload) else { return appendOutgoing(event) }
        var edits = AnswerEdits(reasoningKeys: shape.reasoningKeyRanges)
        if unaskedNull, let member = shape.nullUsageMember { edits.removeMember(member) }
        if let range = shape.usageRange {
            if let usage = shape.usage {
                // A usage after the one billed (engines send one; a broken one sends more): the
                // bill follows the last, the one the client reads last.
                if account.settlement != nil && account.reported != usage { account.settlement = nil }
                account.reported = usage
            }
            if shape.isUsageOnlyChunk {
                account.streamedEvents -= 1
                guard request.clientWantsUsage else { return }
                if shape.usage == nil {
                    // Not believed: Tollgate's count goes out in its place, in the engine's chunk.
                    guard let settlement = settle() else { return appendOutgoing(event) }
                    var chunk: [UInt8] = []
                    chunk.append(contentsOf: payload[..<range.lowerBound])
                    chunk.append(contentsOf: Self.billedUsage(settlement))
                    chunk.append(contentsOf: payload[range.upperBound...])
                    sentUsage = true
                    return appendOutgoing(otherLines + SSE.event(chunk))
                }
                if let cost = settledCost() { edits.addCost(cost, toUsageAt: range, replacing: shape.usageCostRange) }
            } else if let usage = shape.usage, let cost = cost(of: usage) {
                // The DeepSeek API puts the usage on the last content chunk, and vLLM's
                // `continuous_usage_stats` a running one on every chunk: each gets the cost of the
                // usage it carries. The bill waits for the end of the stream.
                edits.addCost(cost, toUsageAt: range, replacing: shape.usageCostRange)
            }
        }
        guard !edits.isEmpty else { return appendOutgoing(event) }
        // The event goes out as one `data:` line, framed as SSE.event frames it.
        reserveOutgoing(
            otherLines.count + SSE.dataPrefix.utf8CodeUnitCount + payload.count + edits.growth + SSE.eventTerminator.utf8CodeUnitCount)
        outgoing!.writeBytes(otherLines)
        outgoing!.writeStaticString(SSE.dataPrefix)
        outgoing!.writeEdited(payload, edits)
        outgoing!.writeStaticString(SSE.eventTerminator)
    }

    /// The client asked for usage but the engine sent none (llama.cpp's server never does): the
    /// client gets Tollgate's own count, marked `"estimated": true`, in the usual place before
    /// `[DONE]`. Without a price book there is no count, and nothing is made up.
    /// The chunk is shaped like the stream's own: a completions stream's object and id prefix, and
    /// the engine's id and model name where Tollgate read them (a llama.cpp stream, whose chunks
    /// it parses to count their text).
    private func appendEstimatedUsageChunkIfMissing() {
        guard request.clientWantsUsage, account.reported == nil, !sentUsage, let settlement = settle() else { return }
        sentUsage = true
        let chat = request.endpoint == .chat
        var chunk: [UInt8] = Array(#"{"id":"#.utf8)
        JSONWriter.appendString(streamIdentity?.id ?? "\(chat ? "chatcmpl" : "cmpl")-\(requestID)", to: &chunk)
        chunk.append(contentsOf: (chat ? #","object":"chat.completion.chunk","created":"# : #","object":"text_completion","created":"#).utf8)
        JSONWriter.appendInt(Int(account.startedAt.timeIntervalSince1970), to: &chunk)
        chunk.append(contentsOf: #","model":"#.utf8)
        JSONWriter.appendString(streamIdentity?.model ?? request.model, to: &chunk)
        chunk.append(contentsOf: #","choices":[],"usage":"#.utf8)
        chunk.append(contentsOf: Self.billedUsage(settlement))
        chunk.append(UInt8(ascii: "}"))
        appendOutgoing(SSE.event(chunk))
    }

    /// The usage object of what was billed: the counts (reasoning in OpenAI's
    /// `completion_tokens_details` when there was some), `"estimated":true` when they are
    /// Tollgate's own, and the cost.
    private static func billedUsage(_ settlement: Settlement) -> [UInt8] {
        let usage = settlement.usage
        var out = Array(#"{"prompt_tokens":"#.utf8)
        JSONWriter.appendInt(usage.promptTokens, to: &out)
        out.append(contentsOf: #","completion_tokens":"#.utf8)
        JSONWriter.appendInt(usage.completionTokens, to: &out)
        out.append(contentsOf: #","total_tokens":"#.utf8)
        JSONWriter.appendInt(usage.promptTokens + usage.completionTokens, to: &out)
        if usage.reasoningTokens > 0 {
            out.append(contentsOf: #","completion_tokens_details":{"reasoning_tokens":"#.utf8)
            JSONWriter.appendInt(usage.reasoningTokens, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        if usage.estimated { out.append(contentsOf: #","estimated":true"#.utf8) }
        if let cost = settlement.cost {
            out.append(contentsOf: #","cost":"#.utf8)
            JSONWriter.appendString(cost.money.decimalString, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Keeps the text an answer generated, so its tokens can be counted when the engine reports no
    /// usage: llama.cpp's server in streams (`member` "delta"), or an answer without one ("message").
    /// Content, tool calls' names and arguments, and a completion's `text`; reasoning apart, so
    /// the bill can say how much of the completion it was.
    private func collectGeneratedText(_ payload: UnsafeRawBufferPointer, member: String = "delta") {
        guard let chunk = try? JSONValue.parse(payload), let choices = chunk["choices"]?.arrayValue else { return }
        if streamIdentity == nil, let id = chunk["id"]?.stringValue, let model = chunk["model"]?.stringValue {
            streamIdentity = (id, model)
        }
        // Taken out of the account so the appends below do not copy the texts.
        var text = account.generatedText ?? ""
        var reasoning = account.generatedReasoning ?? ""
        account.generatedText = nil
        account.generatedReasoning = nil
        for choice in choices {
            if let completion = choice["text"]?.stringValue { text += completion }
            guard let generated = choice[member] else { continue }
            if let part = generated["content"]?.stringValue { text += part }
            for field in ["reasoning_content", "reasoning"] {
                if let part = generated[field]?.stringValue { reasoning += part }
            }
            for call in generated["tool_calls"]?.arrayValue ?? [] {
                text += (call["function"]?["name"]?.stringValue ?? "") + (call["function"]?["arguments"]?.stringValue ?? "")
            }
        }
        account.generatedText = text
        account.generatedReasoning = reasoning
        if text.utf8.count + reasoning.utf8.count > maxAnswerBytes { refuseOversizedAnswer() }
    }

    /// What the `"usage"` keys of a chunk hold, found without parsing it: whether one holds an
    /// object, and whether one holds `null`.
    private func usageValues(_ payload: UnsafeRawBufferPointer) -> (object: Bool, null: Bool) {
        var found = (object: false, null: false)
        var from = 0
        while let at = find(payload, #""usage""#, from: from) {
            var index = at + 7
            // JSON's whitespace and the colon, up to the value.
            while index < payload.count, JSONScanner.isWhitespace(payload[index]) || payload[index] == UInt8(ascii: ":") { index += 1 }
            if index < payload.count {
                if payload[index] == UInt8(ascii: "{") { found.object = true }
                if payload[index] == UInt8(ascii: "n") { found.null = true }
            }
            from = at + 7
        }
        return found
    }

    private func appendOutgoing<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        reserveOutgoing(512)
        outgoing!.writeBytes(bytes)
    }

    private func appendOutgoing(_ bytes: UnsafeRawBufferPointer) {
        reserveOutgoing(bytes.count)
        outgoing!.writeBytes(bytes)
    }

    /// Makes sure there is an outgoing buffer, sized for at least `bytes` when it is new.
    private func reserveOutgoing(_ bytes: Int) {
        if outgoing == nil { outgoing = responder.allocator.buffer(capacity: max(512, bytes)) }
    }

    private func flushOutgoing() {
        guard let pending = outgoing, pending.readableBytes > 0 else { return }
        outgoing = nil
        responder.sendBody(pending, flush: true)
    }

    // MARK: ending

    /// The head of a successful answer. Built as one list: `HTTPHeaders.add` checks each name it
    /// is given, and these names are all known to be ASCII.
    private func answerHeaders(contentType: String, extra: (String, String)? = nil) -> HTTPHeaders {
        var headers: [(String, String)] = []
        // One allocation, including the content-length the responder adds.
        headers.reserveCapacity(7 + (admission?.headers.count ?? 0))
        headers.append(("content-type", contentType))
        if let extra { headers.append(extra) }
        headers.append(("x-request-id", context.ids.echoed))
        headers.append(("x-tollgate-target", target?.name ?? "none"))
        if let admission { headers.append(contentsOf: admission.headers) }
        if let estimate = account.estimate {
            headers.append(("x-tollgate-cost-estimate", estimate.money.decimalString))
            headers.append(("x-tollgate-currency", estimate.money.currency))
        }
        return HTTPHeaders(headers)
    }

    /// The request's cost, once it is settled (nil without a price for its target).
    private func settledCost() -> Money? {
        settle()?.cost?.money
    }

    /// What `usage` costs on the target, without settling the bill.
    private func cost(of usage: TokenUsage) -> Money? {
        guard let pricer, let rates = account.rates else { return nil }
        return pricer.cost(of: MeteredUsage(usage), at: rates).money
    }

    /// Bills the request once: the engine's usage (or Tollgate's own count) priced on the target.
    @discardableResult
    private func settle() -> Settlement? {
        if let settlement = account.settlement { return settlement }
        guard let pricer, target != nil else { return nil }
        let settlement = pricer.settle(
            rates: account.rates, model: request.model, usage: account.usageToBill(pricer: pricer, request: request), at: account.startedAt,
            withListPrice: admission != nil)
        account.settlement = settlement
        return settlement
    }

    private func finishWithError(_ error: GatewayError) {
        mode = .done
        var headers = admission?.headers ?? []
        // The engine's wait, on its own rate limit or overload passed on: SDKs honour it.
        if let retryAfter, error.status == 429 || error.status == 502 { headers.append(("retry-after", retryAfter)) }
        GatewayHandler.sendError(error, requestID: context.ids.echoed, target: target?.name, extraHeaders: headers, responder: responder)
        finished(status: error.status, errorCode: error.code)
    }

    /// Ends the request's bookkeeping exactly once: bills it when an engine accepted it (also when
    /// the client left or the stream broke), settles or releases its budget, queues its ledger row.
    private func finished(status: Int, errorCode: String?) {
        guard !isFinished else { return }
        isFinished = true
        if billable { settle() }
        let settlement = account.settlement
        let now = Date()
        if let admission, let ledger = state.ledger {
            ledger.finish(admission, event: usageEvent(admission, status: status, errorCode: errorCode, at: now), settlement: settlement)
        }
        let startedAt = account.startedAt
        state.metrics.recordFinished(
            request.endpoint, target: target, status: status, seconds: now.timeIntervalSince(startedAt),
            firstByteSeconds: firstByteAt.map { $0.timeIntervalSince(startedAt) },
            usage: settlement?.usage ?? account.reported.map(MeteredUsage.init), cost: settlement?.cost?.money)
        guard context.baseLogger.logLevel <= .debug else { return }
        logger.debug(
            "request finished",
            metadata: [
                "tollgate.target": "\(target?.name ?? "none")", "tollgate.status": "\(status)",
                "tollgate.error": "\(errorCode ?? "-")",
                "tollgate.prompt_tokens": "\(settlement?.usage.promptTokens ?? -1)",
                "tollgate.completion_tokens": "\(settlement?.usage.completionTokens ?? -1)",
                "tollgate.usage_estimated": "\(settlement?.usage.estimated ?? true)",
                "tollgate.cost": "\(settlement?.cost?.money.decimalString ?? "-")",
            ])
    }

    /// The ledger row of this request; nil when it never reached a target.
    private func usageEvent(_ admission: Admission, status: Int, errorCode: String?, at now: Date) -> UsageEvent? {
        guard let target, let pricer else { return nil }
        let settlement = account.settlement
        let usage = settlement?.usage
        let zero = Money.zero(pricer.currency)
        return UsageEvent(
            requestID: requestID, clientRequestID: context.ids.client, startedAt: account.startedAt, finishedAt: now, teamID: admission.key.teamID,
            keyID: admission.key.id, requestedModel: request.model, target: target.name,
            endpoint: lastEndpoint.map { "\($0)" }, promptTokensEstimated: account.prompt?.tokens ?? 0,
            promptCountExact: account.prompt?.exact,
            promptTokens: usage?.promptTokens ?? 0, cacheHitTokens: usage?.cacheHitTokens ?? 0,
            completionTokens: usage?.completionTokens ?? 0, reasoningTokens: usage?.reasoningTokens ?? 0,
            cost: settlement?.cost?.money ?? zero,
            priceBookVersion: settlement?.cost?.bookVersion ?? account.estimate?.bookVersion ?? "none",
            listCost: settlement?.listPrice?.money ?? zero,
            latencyMs: Int(now.timeIntervalSince(account.startedAt) * 1000),
            ttftMs: firstByteAt.map { Int($0.timeIntervalSince(account.startedAt) * 1000) },
            statusCode: status, errorCode: errorCode, stream: request.stream, clientDisconnected: clientLeft,
            usageEstimated: usage?.estimated ?? false)
    }
}

private func find(_ haystack: UnsafeRawBufferPointer, _ needle: StaticString, from start: Int = 0) -> Int? {
    ByteSearch.find(needle, in: haystack, from: start)
}

private func contains(_ haystack: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
    ByteSearch.find(needle, in: haystack) != nil
}
