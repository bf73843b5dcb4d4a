import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Settings of an ``HTTPServer``.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body accepted; larger bodies get 413 before they are read.
    public var maxBodyBytes: Int
    /// The most bytes of request bodies all connections together may hold while they are still
    /// arriving; a body that would pass it is refused (``HTTPRefusal/tooManyPendingBodies(limit:)``).
    public var maxPendingBodyBytes: Int
    /// TCP listen backlog.
    public var backlog: Int32
    /// How long a client may send nothing while no answer is under way (an idle keep-alive
    /// connection, or a request that stopped halfway) before its connection is closed.
    public var clientIdleTimeout: TimeAmount

    public init(
        host: String = "127.0.0.1", port: Int, maxBodyBytes: Int = 64 << 20, maxPendingBodyBytes: Int = 1 << 30,
        backlog: Int32 = 1024, clientIdleTimeout: TimeAmount = .seconds(60)
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxPendingBodyBytes = maxPendingBodyBytes
        self.backlog = backlog
        self.clientIdleTimeout = clientIdleTimeout
    }
}

/// What a server does with one complete request. Called on the connection's event loop.
///
/// Handlers answer through the ``HTTPResponder``; they may answer later (after upstream I/O) as long
/// as they do so on `responder.eventLoop`.
public protocol HTTPRequestHandler: Sendable {
    func handle(_ request: HTTPInboundRequest, responder: HTTPResponder)
    /// The answer to a request the server will not hand to ``handle(_:responder:)``; `head` is nil
    /// when the bytes were not a request. The connection closes after it.
    func refuse(_ refusal: HTTPRefusal, head: HTTPRequestHead?, responder: HTTPResponder)
    /// A look at a request's head before its body is read, for requests whose body is worth
    /// sparing (a large or chunked one, or a client waiting for `100 Continue`). A refusal here
    /// is answered without the body being kept, or, to a waiting client, without it being sent.
    func screen(_ head: HTTPRequestHead) -> HTTPRefusal?
}

extension HTTPRequestHandler {
    public func screen(_ head: HTTPRequestHead) -> HTTPRefusal? { nil }
}

/// Why a request is answered without being handled.
public enum HTTPRefusal: Sendable, Equatable {
    /// The body is larger than ``HTTPServerConfiguration/maxBodyBytes``.
    case bodyTooLarge(limit: Int)
    /// The bodies all connections are receiving would pass ``HTTPServerConfiguration/maxPendingBodyBytes``.
    case tooManyPendingBodies(limit: Int)
    /// The bytes are not an HTTP/1.1 request (the parser's reason). Answered at once: the
    /// decoder closes the connection right after.
    case malformed(reason: String)
    /// The handler's ``HTTPRequestHandler/screen(_:)`` found the request's credentials bad.
    case unauthenticated
}

/// The bytes of request bodies that every connection of one server is still receiving, held
/// against one limit, so that many large or slow uploads at once cannot take all memory.
final class PendingBodyBudget: Sendable {
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts `bytes` as held, unless that passes the limit.
    func take(_ bytes: Int) -> Bool {
        if held.add(bytes, ordering: .relaxed).newValue <= limit { return true }
        held.subtract(bytes, ordering: .relaxed)
        return false
    }

    func give(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }
}

/// A request with its whole body.
public struct HTTPInboundRequest {
    public var head: HTTPRequestHead
    public var body: ByteBuffer
}

/// A lean HTTP/1.1 server on SwiftNIO: keep-alive, pipelining, bodies collected up to a limit,
/// responses written whole or streamed. No routing and no async hops: the handler is called on
/// the event loop that owns the connection, so a proxy can keep the upstream call on that loop.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let channel: Channel

    /// The port actually bound (useful with port 0).
    public var port: Int { channel.localAddress?.port ?? configuration.port }

    private init(configuration: HTTPServerConfiguration, channel: Channel) {
        self.configuration = configuration
        self.channel = channel
    }

    /// Binds and starts accepting connections.
    public static func start(
        configuration: HTTPServerConfiguration,
        group: EventLoopGroup,
        handler: any HTTPRequestHandler
    ) async throws -> HTTPServer {
        let maxBody = configuration.maxBodyBytes
        let pendingBodies = PendingBodyBudget(limit: configuration.maxPendingBodyBytes)
        let clientIdleTimeout = configuration.clientIdleTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: configuration.backlog)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                // Outbound header validation is off: every header we write is a constant, a number, a
                // configured name or a request id checked on the way in (see RequestID.accept).
                // NIO's pipelining assistance is off too: it stops and restarts reading around every
                // response (two epoll_ctl calls per request); HTTPConnectionHandler queues pipelined
                // requests itself.
                // Parser errors are answered by HTTPConnectionHandler, in the handler's error shape.
                // Set up synchronously: the initializer runs on the channel's own event loop.
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: clientIdleTimeout))
                    try pipeline.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
                    try pipeline.addHandler(HTTPConnectionHandler(handler: handler, maxBodyBytes: maxBody, pendingBodies: pendingBodies))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        return HTTPServer(configuration: configuration, channel: channel)
    }

    /// Stops accepting; open connections finish their current exchange.
    public func close() async throws {
        try await channel.close()
    }

    /// Completes when the listening socket closes.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
}
