import NIOCore
import NIOHTTP1

/// Collects one request at a time and hands it to the ``HTTPRequestHandler``. Requests a client
/// pipelines behind one still being answered are queued and taken up, in order, when it ends.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// Refused (body over a limit, or a bad key at the head): the rest is read and dropped, and
        /// the answer goes out at `.end`, or once `dropped` passes `maxBodyBytes` (a body that
        /// never ends must not keep the connection reading forever).
        case discarding(HTTPRequestHead, HTTPRefusal, dropped: Int)
        case responding(HTTPResponder)
        /// Refused while its body may still be arriving, answered, and our side shut: the rest of
        /// the body is read and dropped until its end, then the connection closes.
        case lingering
    }

    /// How long a refused client may go on sending before the connection closes anyway.
    static let lingerTime = TimeAmount.seconds(5)

    private let handler: any HTTPRequestHandler
    private let maxBodyBytes: Int
    private let pendingBodies: PendingBodyBudget
    /// Bytes of the body being received that are counted in `pendingBodies`.
    private var heldBodyBytes = 0
    private var state = State.idle
    private var context: ChannelHandlerContext!
    /// Parts of pipelined requests that arrived while a response was under way.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var queuedBytes = 0
    /// The drain loop is running further up the stack: a response that ends inside it (one
    /// answered at once) leaves the next request to that loop instead of nesting another.
    private var isDraining = false
    /// The answer being written refuses a client waiting to send its body: linger after it.
    private var lingersAfterAnswer = false

    init(handler: any HTTPRequestHandler, maxBodyBytes: Int, pendingBodies: PendingBodyBudget) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.pendingBodies = pendingBodies
    }

    private func releaseHeldBody() {
        pendingBodies.give(heldBodyBytes)
        heldBodyBytes = 0
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .responding = state {
            enqueue(part)
            return
        }
        process(part, context: context)
    }

    private func enqueue(_ part: HTTPServerRequestPart) {
        if case .body(let bytes) = part { queuedBytes += bytes.readableBytes }
        queued.append(part)
        // A client that floods pipelined requests is paused until the queue drains.
        if queuedBytes > maxBodyBytes || queued.count > 1024 {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    /// Takes up queued pipelined requests after a response ended.
    private func drainQueue() {
        guard !isDraining else { return }
        isDraining = true
        defer { isDraining = false }
        while !queued.isEmpty {
            if case .responding = state { return }
            let part = queued.removeFirst()
            if case .body(let bytes) = part { queuedBytes -= bytes.readableBytes }
            process(part, context: context)
        }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if case .lingering = state {
            if case .end = part { context.close(promise: nil) }
            return
        }
        switch part {
        case .head(let head):
            let length = head.headers.first(name: "content-length").flatMap(Int.init)
            let waitsToSend = Self.expectsContinue(head)
            var refusal: HTTPRefusal?
            if let length, length > maxBodyBytes {
                refusal = .bodyTooLarge(limit: maxBodyBytes)
            } else if waitsToSend || (length ?? Int.max) > Self.screenedBodyBytes {
                refusal = handler.screen(head)
            }
            if let refusal, waitsToSend {
                // The client has not sent the body and should not: answer now, then linger in case
                // it sends it anyway.
                refuse(refusal, head: head, lingering: true)
            } else if let refusal {
                state = .discarding(head, refusal, dropped: 0)
            } else {
                if waitsToSend {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
                }
                state = .receiving(head, context.channel.allocator.buffer(capacity: length ?? 0))
            }
        case .body(var part):
            switch state {
            case .receiving(let head, var body):
                if body.readableBytes + part.readableBytes > maxBodyBytes {
                    releaseHeldBody()
                    state = .discarding(head, .bodyTooLarge(limit: maxBodyBytes), dropped: 0)
                } else if !pendingBodies.take(part.readableBytes) {
                    releaseHeldBody()
                    state = .discarding(head, .tooManyPendingBodies(limit: pendingBodies.limit), dropped: 0)
                } else {
                    heldBodyBytes += part.readableBytes
                    state = .idle  // drop the reference so the append does not copy
                    body.writeBuffer(&part)
                    state = .receiving(head, body)
                }
            case .discarding(let head, let refusal, let dropped):
                let total = dropped + part.readableBytes
                if total > maxBodyBytes {
                    refuse(refusal, head: head, lingering: true)
                } else {
                    state = .discarding(head, refusal, dropped: total)
                }
            default:
                break
            }
        case .end:
            switch state {
            case .receiving(let head, let body):
                releaseHeldBody()
                let responder = HTTPResponder(connection: self, keepAlive: head.isKeepAlive)
                state = .responding(responder)
                handler.handle(HTTPInboundRequest(head: head, body: body), responder: responder)
            case .discarding(let head, let refusal, _):
                // The body was not kept, so the connection cannot be trusted for the next request.
                refuse(refusal, head: head, lingering: false)
            case .idle, .responding, .lingering:
                break
            }
        }
    }

    /// Answers `refusal` and closes the connection after it. `lingering`: the request's body may
    /// still be arriving, so only our side is shut and the rest is read and dropped first.
    private func refuse(_ refusal: HTTPRefusal, head: HTTPRequestHead?, lingering: Bool) {
        let responder = HTTPResponder(connection: self, keepAlive: false)
        state = .responding(responder)
        lingersAfterAnswer = lingering
        handler.refuse(refusal, head: head, responder: responder)
    }

    /// Bodies above this size (or of unknown size) are worth screening before they are read.
    static let screenedBodyBytes = 64 << 10

    /// `Expect: 100-continue` (HTTP/1.1): the client waits for a `100 Continue` before it sends
    /// the body; curl does so for bodies of 1 MiB and more, and gives up waiting after a second.
    private static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        guard let expect = head.headers.first(name: "expect") else { return false }
        return head.version == .http1_1 && expect.lowercased() == "100-continue"
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseHeldBody()
        if case .responding(let responder) = state {
            state = .idle
            responder.connectionClosed()
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client sent nothing for the idle timeout: between requests, or in the middle of one.
        // While an answer is under way its silence is normal (the upstream timeouts apply).
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if case .responding = state {} else { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .responding(let responder) = state {
            responder.writabilityChanged(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Bytes the parser cannot read get an answer unless one is under way; the decoder closes
        // the connection after it.
        if error is HTTPParserError {
            switch state {
            case .responding, .lingering: break
            default: return refuse(.malformed(reason: "\(error)"), head: nil, lingering: false)
            }
        }
        // Resets and broken pipes end the connection; the responder hears it via channelInactive.
        context.close(promise: nil)
    }

    // MARK: used by HTTPResponder, always on the event loop

    func write(_ part: HTTPServerResponsePart, flush: Bool) {
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: nil)
        } else {
            context.write(wrapOutboundOut(part), promise: nil)
        }
    }

    func finish(_ responder: HTTPResponder, keepAlive: Bool) {
        guard case .responding(let current) = state, current === responder else { return }
        state = .idle
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            if !queued.isEmpty { drainQueue() }
        } else if lingersAfterAnswer {
            // Closing with body bytes still arriving would answer them with a reset, which can
            // wipe out the answer before the client reads it. Shut our side only, read on.
            state = .lingering
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in
                context?.close(mode: .output, promise: nil)
                context?.eventLoop.scheduleTask(in: Self.lingerTime) { context?.close(promise: nil) }
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in
                context?.close(promise: nil)
            }
        }
    }

    var channel: Channel { context.channel }
}
