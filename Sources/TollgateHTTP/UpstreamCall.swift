import NIOCore
import NIOHTTP1

/// One request in flight to an upstream. Lives on its event loop; ``cancel()`` closes the
/// upstream connection at once, which is how an engine learns that the client went away.
public final class UpstreamCall {
    private enum State {
        case connecting
        case waitingForHead(UpstreamConnectionHandler)
        case streaming(UpstreamConnectionHandler)
        case done
    }

    private let request: UpstreamRequest
    private let eventLoop: EventLoop
    private let pool: LoopConnectionPool
    private weak var delegate: UpstreamResponseDelegate?
    private var state = State.connecting
    private var retriedStaleConnection = false
    private var responseKeepAlive = true
    /// When the call stops waiting: send time + first-byte timeout, then last byte + idle timeout.
    /// The pool's sweeper checks it (no timer per request).
    private var sentAt = NIODeadline.now()
    private var lastActivity = NIODeadline.now()
    private var registered = false

    init(request: UpstreamRequest, eventLoop: EventLoop, delegate: UpstreamResponseDelegate, pool: LoopConnectionPool) {
        self.request = request
        self.eventLoop = eventLoop
        self.delegate = delegate
        self.pool = pool
    }

    func start() {
        if let connection = pool.takeIdle(request.origin.connectionKey) {
            send(on: connection, reused: true)
        } else {
            connectAndSend()
        }
    }

    /// Abandons the call: the connection is closed, not pooled, and the delegate hears nothing more.
    public func cancel() {
        eventLoop.assertInEventLoop()
        switch state {
        case .waitingForHead(let connection), .streaming(let connection):
            finish()
            connection.close()
        case .connecting:
            finish()
        case .done:
            break
        }
    }

    /// Stops reading the upstream socket (the client is slow); TCP flow control does the rest.
    public func pauseReading() {
        if case .streaming(let connection) = state { connection.setAutoRead(false) }
    }

    public func resumeReading() {
        if case .streaming(let connection) = state { connection.setAutoRead(true) }
    }

    public var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    // MARK: connection

    private func connectAndSend() {
        pool.connect(request.origin).whenComplete { [self] result in
            guard case .connecting = state else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                send(on: connection, reused: false)
            case .failure(let error):
                fail(UpstreamError(.connectFailed, beforeResponse: true, detail: String(describing: error)))
            }
        }
    }

    private func send(on connection: UpstreamConnectionHandler, reused: Bool) {
        state = .waitingForHead(connection)
        connection.call = self
        connection.reusedForCurrentCall = reused
        var headers = request.headers
        headers.replaceOrAdd(name: "host", value: request.origin.hostHeader)
        if let body = request.body {
            headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        }
        let head = HTTPRequestHead(
            version: .http1_1, method: request.method, uri: request.origin.basePath + request.path, headers: headers)
        connection.send(head: head, body: request.body)
        sentAt = .now()
        if !registered {
            registered = true
            pool.register(self)
        }
    }

    /// Called by the pool's sweeper a few times a second.
    func checkTimeout(now: NIODeadline) {
        switch state {
        case .waitingForHead:
            if now - sentAt >= request.firstByteTimeout {
                failAndClose(UpstreamError(.firstByteTimeout, beforeResponse: true))
            }
        case .streaming:
            if now - lastActivity >= request.idleTimeout {
                failAndClose(UpstreamError(.idleTimeout, beforeResponse: false))
            }
        case .connecting, .done:
            break
        }
    }

    // MARK: events from UpstreamConnectionHandler

    func receivedHead(_ head: HTTPResponseHead) {
        guard case .waitingForHead(let connection) = state else { return }
        state = .streaming(connection)
        responseKeepAlive = head.isKeepAlive
        lastActivity = .now()
        delegate?.upstreamDidReceiveHead(head)
    }

    func receivedBody(_ buffer: ByteBuffer) {
        guard case .streaming = state else { return }
        lastActivity = .now()
        delegate?.upstreamDidReceiveBody(buffer)
    }

    func readComplete() {
        guard case .streaming = state else { return }
        delegate?.upstreamDidFinishRead()
    }

    func receivedEnd() {
        guard case .streaming(let connection) = state else { return }
        finish()
        connection.call = nil
        if responseKeepAlive && connection.isOpen {
            connection.setAutoRead(true)
            pool.giveBack(connection, key: request.origin.connectionKey)
        } else {
            connection.close()
        }
        delegate?.upstreamDidEnd()
    }

    func connectionClosed(reused: Bool) {
        switch state {
        case .waitingForHead:
            // A pooled connection the server had already closed: nothing reached the engine's
            // handler, so one retry on a fresh connection is safe and invisible to the client.
            if reused && !retriedStaleConnection {
                retriedStaleConnection = true
                state = .connecting
                connectAndSend()
            } else {
                fail(UpstreamError(.connectionClosed, beforeResponse: true))
            }
        case .streaming:
            fail(UpstreamError(.connectionClosed, beforeResponse: false))
        case .connecting, .done:
            break
        }
    }

    // MARK: ending

    private func finish() {
        state = .done
        if registered {
            registered = false
            pool.unregister(self)
        }
    }

    private func failAndClose(_ error: UpstreamError) {
        switch state {
        case .waitingForHead(let connection), .streaming(let connection):
            connection.call = nil
            connection.close()
        default:
            break
        }
        fail(error)
    }

    private func fail(_ error: UpstreamError) {
        guard !isDone else { return }
        finish()
        delegate?.upstreamDidFail(error)
    }
}
