import NIOCore
import NIOHTTP1

/// The last handler of an upstream connection: passes response parts to the current call.
final class UpstreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    var call: UpstreamCall?
    var reusedForCurrentCall = false
    private var context: ChannelHandlerContext?
    private var autoRead = true

    var isOpen: Bool { context?.channel.isActive ?? false }
    /// Open and not serving a call: may be taken from the pool.
    var isUsable: Bool { call == nil && isOpen }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func send(head: HTTPRequestHead, body: ByteBuffer?) {
        guard let context else {
            call?.connectionClosed(reused: reusedForCurrentCall)
            return
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func setAutoRead(_ on: Bool) {
        guard on != autoRead, let context else { return }
        autoRead = on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in }
    }

    func close() {
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            call?.receivedHead(head)
        case .body(let buffer):
            call?.receivedBody(buffer)
        case .end:
            call?.receivedEnd()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        call?.readComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let current = call
        call = nil
        current?.connectionClosed(reused: reusedForCurrentCall)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Protocol errors and resets: the connection is done; channelInactive reports it.
        context.close(promise: nil)
    }
}
