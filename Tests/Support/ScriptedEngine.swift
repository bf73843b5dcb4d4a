import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback engine that answers every inference request with bytes a test wrote by hand: the
/// whole HTTP response, status line included, so it can send what no well-behaved engine would
/// (absurd usage, broken events, a body that never ends). `GET /health` and `GET /v1/models`
/// answer 200, so a gateway's prober keeps the endpoint up.
public final class ScriptedEngine: Sendable {
    private let state = Mutex<(server: (any Channel)?, answer: [UInt8], requests: Int, headers: HTTPHeaders)>((nil, [], 0, [:]))
    /// `GET /health` answers 200 and then a byte every 50 ms, never ending: an engine whose health
    /// answer no idle timeout ever catches.
    public let healthTrickles: Bool

    public init(healthTrickles: Bool = false) {
        self.healthTrickles = healthTrickles
    }

    /// The raw response every inference request gets from now on.
    public func answer(with response: [UInt8]) {
        state.withLock { $0.answer = response }
    }

    /// A complete response: `status`, the `Content-Type`, and `body` framed by `Content-Length`.
    public func answer(status: Int = 200, contentType: String = "application/json", body: String) {
        let head = "HTTP/1.1 \(status) Scripted\r\ncontent-type: \(contentType)\r\ncontent-length: \(body.utf8.count)\r\n\r\n"
        answer(with: Array((head + body).utf8))
    }

    /// Inference requests answered so far.
    public var requests: Int { state.withLock { $0.requests } }

    /// The headers of the last inference request.
    public var lastHeaders: HTTPHeaders { state.withLock { $0.headers } }

    /// Listens on a free loopback port and returns it.
    public func start() async throws -> Int {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(HTTPRequestDecoder()), Responder(engine: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        state.withLock { $0.server = server }
        return server.localAddress?.port ?? 0
    }

    public func stop() async {
        try? await state.withLock { $0.server }?.close()
    }

    fileprivate func nextAnswer(for request: HTTPRequestHead) -> [UInt8] {
        let path = request.uri
        if path.hasSuffix("/health") { return Array("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".utf8) }
        if path.hasSuffix("/models") {
            return Array("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{\"object\":\"list\",\"data\":[]}".utf8)
        }
        return state.withLock {
            $0.requests += 1
            $0.headers = request.headers
            return $0.answer
        }
    }
}

/// Writes the scripted bytes when a request has been read to its end.
private final class Responder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer
    let engine: ScriptedEngine
    private let head = Mutex<HTTPRequestHead?>(nil)

    init(engine: ScriptedEngine) { self.engine = engine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let request): head.withLock { $0 = request }
        case .body: break
        case .end:
            guard let request = head.withLock({ $0 }) else { return }
            if engine.healthTrickles && request.uri.hasSuffix("/health") { return trickle(context: context) }
            let bytes = engine.nextAnswer(for: request)
            context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    private func trickle(context: ChannelHandlerContext) {
        let channel = context.channel
        channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n"), promise: nil)
        let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
            channel.writeAndFlush(ByteBuffer(string: "x"), promise: nil)
        }
        channel.closeFuture.whenComplete { _ in task.cancel() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
