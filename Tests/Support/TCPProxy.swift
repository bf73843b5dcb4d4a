import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy in front of PostgreSQL that a test can cut and restore, to stand in for
/// a database outage: ``cut()`` closes every connection and stops listening (new connections
/// are refused); ``restore()`` listens on the same port again.
public final class TCPProxy: Sendable {
    private let group = MultiThreadedEventLoopGroup.singleton
    private let targetHost: String
    private let targetPort: Int
    /// `generation` counts cuts, so a connection accepted before a cut whose upstream connect
    /// finishes after it is closed instead of surviving the outage.
    private let state = Mutex<(server: (any Channel)?, children: [any Channel], port: Int, generation: Int)>((nil, [], 0, 0))

    public init(targetHost: String, targetPort: Int) {
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    /// Starts listening (on `port`, or a free one) and returns the port.
    @discardableResult
    public func start(port: Int = 0) async throws -> Int {
        let (host, targetPort, group) = (targetHost, self.targetPort, self.group)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] inbound in
                // Tracked from the moment it is accepted, so a cut closes it too.
                let generation = self.state.withLock { state -> Int in
                    state.children.append(inbound)
                    return state.generation
                }
                return inbound.setOption(ChannelOptions.autoRead, value: false).flatMap {
                    ClientBootstrap(group: inbound.eventLoop).connect(host: host, port: targetPort)
                }.flatMap { outbound in
                    let cutMeanwhile = self.state.withLock { state -> Bool in
                        if state.generation != generation { return true }
                        state.children.append(outbound)
                        return false
                    }
                    if cutMeanwhile {
                        outbound.close(promise: nil)
                        return inbound.close()
                    }
                    let toOutbound = Relay(peer: outbound)
                    let toInbound = Relay(peer: inbound)
                    return inbound.pipeline.addHandler(toOutbound).flatMap {
                        outbound.pipeline.addHandler(toInbound)
                    }.flatMap { inbound.setOption(ChannelOptions.autoRead, value: true) }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let bound = server.localAddress?.port ?? port
        state.withLock {
            $0.server = server
            $0.port = bound
        }
        return bound
    }

    /// The outage: close everything and stop listening.
    public func cut() async {
        let (server, children) = state.withLock { state -> ((any Channel)?, [any Channel]) in
            defer {
                state.server = nil
                state.children = []
                state.generation += 1
            }
            return (state.server, state.children)
        }
        try? await server?.close()
        for child in children { try? await child.close() }
    }

    /// Back: listen on the same port again.
    public func restore() async throws {
        try await start(port: state.withLock { $0.port })
    }

    func stop() async { await cut() }
}

/// Copies bytes to the peer channel; closing one side closes the other.
private final class Relay: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let peer: any Channel

    init(peer: any Channel) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(Self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
