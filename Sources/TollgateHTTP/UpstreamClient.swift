import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Receives one upstream response, part by part, on the call's event loop.
public protocol UpstreamResponseDelegate: AnyObject {
    func upstreamDidReceiveHead(_ head: HTTPResponseHead)
    func upstreamDidReceiveBody(_ buffer: ByteBuffer)
    /// Called after the last body part of every response read from one socket read, so a proxy can
    /// flush its client once per read instead of once per chunk.
    func upstreamDidFinishRead()
    func upstreamDidEnd()
    func upstreamDidFail(_ error: UpstreamError)
}

/// One request to send upstream.
public struct UpstreamRequest: Sendable {
    public var origin: UpstreamOrigin
    /// Path below the origin's base path, e.g. `/chat/completions`.
    public var path: String
    public var method: HTTPMethod
    public var headers: HTTPHeaders
    public var body: ByteBuffer?
    /// How long to wait for the response head once the request is written.
    public var firstByteTimeout: TimeAmount
    /// How long a started response may go without a byte.
    public var idleTimeout: TimeAmount

    public init(
        origin: UpstreamOrigin, path: String, method: HTTPMethod = .POST, headers: HTTPHeaders = [:],
        body: ByteBuffer? = nil, firstByteTimeout: TimeAmount = .seconds(300), idleTimeout: TimeAmount = .seconds(300)
    ) {
        self.origin = origin
        self.path = path
        self.method = method
        self.headers = headers
        self.body = body
        self.firstByteTimeout = firstByteTimeout
        self.idleTimeout = idleTimeout
    }
}

/// Settings of an ``UpstreamClient``.
public struct UpstreamClientConfiguration: Sendable {
    public var connectTimeout: TimeAmount
    /// Idle keep-alive connections kept per origin and event loop.
    public var maxIdlePerOrigin: Int

    public init(connectTimeout: TimeAmount = .seconds(2), maxIdlePerOrigin: Int = 256) {
        self.connectTimeout = connectTimeout
        self.maxIdlePerOrigin = maxIdlePerOrigin
    }
}

/// A keep-alive HTTP/1.1 client tuned for proxying: calls run on the event loop the caller names
/// (the inbound connection's), connections are pooled per event loop and origin, so a proxied
/// request never hops threads and never takes a lock after its pool is found.
public final class UpstreamClient: Sendable {
    private let configuration: UpstreamClientConfiguration
    private let pools = NIOLockedValueBox<[ObjectIdentifier: LoopConnectionPool]>([:])
    private let tlsContext: NIOSSLContext?

    public init(configuration: UpstreamClientConfiguration = .init()) {
        self.configuration = configuration
        // TLS is only for the public API upstream; a failure here only disables https origins.
        self.tlsContext = try? NIOSSLContext(configuration: .makeClientConfiguration())
    }

    /// Starts a call on `eventLoop`; the delegate hears about it on that loop. Call on `eventLoop`.
    @discardableResult
    public func execute(
        _ request: UpstreamRequest, on eventLoop: EventLoop, delegate: UpstreamResponseDelegate
    ) -> UpstreamCall {
        eventLoop.preconditionInEventLoop()
        let call = UpstreamCall(request: request, eventLoop: eventLoop, delegate: delegate, pool: pool(for: eventLoop))
        call.start()
        return call
    }

    /// Closes every idle connection.
    public func shutdown() {
        let all = pools.withLockedValue { pools in
            defer { pools = [:] }
            return Array(pools.values)
        }
        for pool in all {
            pool.eventLoop.execute { pool.closeAll() }
        }
    }

    private func pool(for eventLoop: EventLoop) -> LoopConnectionPool {
        let key = ObjectIdentifier(eventLoop)
        return pools.withLockedValue { pools in
            if let pool = pools[key] { return pool }
            let pool = LoopConnectionPool(
                eventLoop: eventLoop, configuration: configuration, tlsContext: tlsContext)
            pools[key] = pool
            return pool
        }
    }
}

/// Idle upstream connections of one event loop. Touched only on that loop.
final class LoopConnectionPool: @unchecked Sendable {
    // @unchecked: every method runs on `eventLoop` (asserted), so the dictionary needs no lock.
    let eventLoop: EventLoop
    private let configuration: UpstreamClientConfiguration
    private let tlsContext: NIOSSLContext?
    private var idle: [UpstreamOrigin.ConnectionKey: [UpstreamConnectionHandler]] = [:]
    /// Calls in flight, checked for timeouts by one repeating task per event loop.
    private var active: [ObjectIdentifier: UpstreamCall] = [:]
    private var sweeper: RepeatedTask?
    static let sweepInterval = TimeAmount.milliseconds(50)

    init(eventLoop: EventLoop, configuration: UpstreamClientConfiguration, tlsContext: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.tlsContext = tlsContext
    }

    /// A pooled connection that is still open, if any.
    func takeIdle(_ key: UpstreamOrigin.ConnectionKey) -> UpstreamConnectionHandler? {
        eventLoop.assertInEventLoop()
        while var list = idle[key], let connection = list.popLast() {
            idle[key] = list
            if connection.isUsable { return connection }
        }
        return nil
    }

    func giveBack(_ connection: UpstreamConnectionHandler, key: UpstreamOrigin.ConnectionKey) {
        eventLoop.assertInEventLoop()
        var list = idle[key, default: []]
        if list.count >= configuration.maxIdlePerOrigin {
            connection.close()
            return
        }
        list.append(connection)
        idle[key] = list
    }

    func register(_ call: UpstreamCall) {
        active[ObjectIdentifier(call)] = call
        if sweeper == nil {
            sweeper = eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { [weak self] _ in
                self?.sweep()
            }
        }
    }

    func unregister(_ call: UpstreamCall) {
        active[ObjectIdentifier(call)] = nil
    }

    private func sweep() {
        guard !active.isEmpty else { return }
        let now = NIODeadline.now()
        for call in Array(active.values) { call.checkTimeout(now: now) }
    }

    func connect(_ origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnectionHandler> {
        let handler = UpstreamConnectionHandler()
        let tls = origin.tls ? tlsContext : nil
        if origin.tls && tls == nil {
            return eventLoop.makeFailedFuture(UpstreamError(.connectFailed, beforeResponse: true, detail: "TLS unavailable"))
        }
        let host = origin.host
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if let tls {
                        let sni = host.first?.isNumber == true || host.contains(":") ? nil : host
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: sni))
                    }
                    // Header validation is off: the gateway writes only constants, request ids checked on
                    // the way in and an API key checked when the configuration was read.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .fireError, enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: origin.host, port: origin.port)
            .map { _ in handler }
    }

    func closeAll() {
        for list in idle.values { for connection in list { connection.close() } }
        idle = [:]
        sweeper?.cancel()
        sweeper = nil
    }
}
