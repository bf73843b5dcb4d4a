import NIOCore
import NIOHTTP1

/// Answers one request: either ``send(status:headers:body:)`` once, or ``sendHead(status:headers:)``,
/// any number of ``sendBody(_:flush:)`` and ``end()``. Use it on ``eventLoop`` only.
///
/// A responder outlives its connection safely: once the client is gone or the response ended,
/// further writes are ignored, and ``onClose`` tells the owner to cancel upstream work.
public final class HTTPResponder {
    // Strong on purpose: the handler keeps the responder only while a response is under way and
    // drops it at the end or on close, which breaks the cycle.
    private let connection: HTTPConnectionHandler
    private let keepAlive: Bool
    public let eventLoop: EventLoop
    private var headSent = false
    private var finished = false
    private var closeCallback: (() -> Void)?
    private var writabilityCallback: ((Bool) -> Void)?

    init(connection: HTTPConnectionHandler, keepAlive: Bool) {
        self.connection = connection
        self.keepAlive = keepAlive
        self.eventLoop = connection.channel.eventLoop
    }

    public var allocator: ByteBufferAllocator { connection.channel.allocator }
    public var isFinished: Bool { finished }

    /// Called once if the client disconnects before the response ended.
    public func onClose(_ callback: @escaping () -> Void) {
        closeCallback = callback
    }

    /// Called when the client's socket buffer fills up (false) or drains (true): a proxy stops and
    /// resumes reading its upstream, so a slow client never makes the gateway buffer a whole answer.
    public func onWritabilityChanged(_ callback: @escaping (Bool) -> Void) {
        writabilityCallback = callback
    }

    /// A whole response with a Content-Length.
    public func send(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        guard !finished, !headSent else { return }
        var headers = headers
        headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        headSent = true
        connection.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), flush: false)
        if body.readableBytes > 0 { connection.write(.body(.byteBuffer(body)), flush: false) }
        end()
    }

    /// Starts a streamed response (chunked unless the headers carry a Content-Length).
    public func sendHead(status: HTTPResponseStatus, headers: HTTPHeaders) {
        guard !finished, !headSent else { return }
        var headers = headers
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        headSent = true
        connection.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), flush: true)
    }

    public func sendBody(_ body: ByteBuffer, flush: Bool = true) {
        guard !finished, headSent, body.readableBytes > 0 else { return }
        connection.write(.body(.byteBuffer(body)), flush: flush)
    }

    /// Ends the response; on a keep-alive connection the next request may follow.
    public func end() {
        guard !finished, headSent else { return }
        finished = true
        closeCallback = nil
        writabilityCallback = nil
        connection.finish(self, keepAlive: keepAlive)
    }

    /// Closes the connection at once, whatever was sent so far: a client sees a reset or a
    /// truncated response. For fault injection (the engine simulator) and for giving up on a
    /// client. ``onClose`` does not fire: the caller already knows.
    public func abortConnection() {
        finished = true
        closeCallback = nil
        writabilityCallback = nil
        connection.channel.close(promise: nil)
    }

    func connectionClosed() {
        guard !finished else { return }
        finished = true
        let callback = closeCallback
        closeCallback = nil
        writabilityCallback = nil
        callback?()
    }

    func writabilityChanged(_ writable: Bool) {
        writabilityCallback?(writable)
    }
}
