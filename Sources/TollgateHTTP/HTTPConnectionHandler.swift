import NIOCore
import NIOHTTP1

/// Collects one request at a time (the pipelining helper before it queues the next one until the
/// response ends) and hands it to the ``HTTPRequestHandler``.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// Body over the limit: the rest is read and dropped, the 413 goes out at `.end`.
        case discarding(HTTPRequestHead)
        case responding(HTTPResponder)
    }

    private let handler: any HTTPRequestHandler
    private let maxBodyBytes: Int
    private var state = State.idle
    private var context: ChannelHandlerContext!

    init(handler: any HTTPRequestHandler, maxBodyBytes: Int) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                state = .discarding(head)
            } else {
                let capacity = head.headers.first(name: "content-length").flatMap(Int.init) ?? 0
                state = .receiving(head, context.channel.allocator.buffer(capacity: capacity))
            }
        case .body(var part):
            switch state {
            case .receiving(let head, var body):
                if body.readableBytes + part.readableBytes > maxBodyBytes {
                    state = .discarding(head)
                } else {
                    state = .idle  // drop the reference so the append does not copy
                    body.writeBuffer(&part)
                    state = .receiving(head, body)
                }
            default:
                break
            }
        case .end:
            switch state {
            case .receiving(let head, let body):
                let responder = HTTPResponder(connection: self, keepAlive: head.isKeepAlive)
                state = .responding(responder)
                handler.handle(HTTPInboundRequest(head: head, body: body), responder: responder)
            case .discarding(let head):
                // The body was not kept, so the connection cannot be trusted for the next request.
                let responder = HTTPResponder(connection: self, keepAlive: false)
                state = .responding(responder)
                handler.bodyTooLarge(head, limit: maxBodyBytes, responder: responder)
            case .idle, .responding:
                break
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .responding(let responder) = state {
            state = .idle
            responder.connectionClosed()
        }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .responding(let responder) = state {
            responder.writabilityChanged(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
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
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in
                context?.close(promise: nil)
            }
        }
    }

    var channel: Channel { context.channel }
}
