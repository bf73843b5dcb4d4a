import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP

/// An HTTP response as a test sees it, with arrival times.
public struct LoopbackResponse {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: String
    public var started: NIODeadline
    public var firstByte: NIODeadline?
    public var ended: NIODeadline
    /// The connection closed (or the test hung up) before the response ended.
    public var truncated: Bool

    /// The SSE `data:` payloads, in order.
    public var events: [String] {
        body.components(separatedBy: "\n\n").compactMap { event in
            event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
        }
    }
}

/// A loopback HTTP client for tests, built on Tollgate's own upstream client so requests go over
/// real sockets without Foundation networking.
public struct LoopbackClient: Sendable {
    let client: UpstreamClient
    let eventLoop: EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    /// `maxIdlePerOrigin: 0` opens a new connection per request.
    public init(maxIdlePerOrigin: Int = 256) {
        client = UpstreamClient(configuration: .init(connectTimeout: .seconds(2), maxIdlePerOrigin: maxIdlePerOrigin))
    }

    /// Sends a request to `url` (`http://host:port/path`) and collects the whole answer, or what
    /// arrived before hanging up after `disconnectAfterParts` body reads.
    public func send(
        _ method: HTTPMethod = .POST, _ url: String, body: String? = nil, headers: [(String, String)] = [],
        disconnectAfterParts: Int? = nil
    ) async throws -> LoopbackResponse {
        let slash = url.dropFirst(7).firstIndex(of: "/")!
        let origin = UpstreamOrigin(url: String(url[..<slash]))!
        var httpHeaders = HTTPHeaders(headers)
        if body != nil && !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            httpHeaders.add(name: "content-type", value: "application/json")
        }
        let request = UpstreamRequest(
            origin: origin, path: String(url[slash...]), method: method, headers: httpHeaders,
            body: body.map { ByteBuffer(string: $0) }, firstByteTimeout: .seconds(30), idleTimeout: .seconds(30))
        let (client, eventLoop) = (self.client, self.eventLoop)
        return try await withCheckedThrowingContinuation { continuation in
            eventLoop.execute {
                let collector = Collector(continuation: continuation, stopAfterBodyParts: disconnectAfterParts)
                collector.call = client.execute(request, on: eventLoop, delegate: collector)
            }
        }
    }

    /// Sends a request and hangs up after `parts` body reads, like a client that goes away.
    public func sendAndDisconnect(
        _ url: String, body: String, headers: [(String, String)] = [], afterParts parts: Int
    ) async throws -> LoopbackResponse {
        try await send(.POST, url, body: body, headers: headers, disconnectAfterParts: parts)
    }
}

/// Collects one response on its event loop; keeps itself alive until it has answered (the call
/// holds its delegate weakly).
private final class Collector: UpstreamResponseDelegate {
    var continuation: CheckedContinuation<LoopbackResponse, Error>?
    var call: UpstreamCall?
    var head: HTTPResponseHead?
    var body = ByteBuffer()
    var parts = 0
    let started = NIODeadline.now()
    var firstByte: NIODeadline?
    let stopAfterBodyParts: Int?
    var keepSelf: Collector?

    init(continuation: CheckedContinuation<LoopbackResponse, Error>, stopAfterBodyParts: Int?) {
        self.continuation = continuation
        self.stopAfterBodyParts = stopAfterBodyParts
        self.keepSelf = self
    }

    func upstreamDidReceiveHead(_ head: HTTPResponseHead) { self.head = head }

    func upstreamDidReceiveBody(_ buffer: ByteBuffer) {
        var buffer = buffer
        if firstByte == nil { firstByte = .now() }
        body.writeBuffer(&buffer)
        parts += 1
        if let stop = stopAfterBodyParts, parts >= stop {
            call?.cancel()
            finish(truncated: true)
        }
    }

    func upstreamDidFinishRead() {}
    func upstreamDidEnd() { finish(truncated: false) }

    func upstreamDidFail(_ error: UpstreamError) {
        if head != nil && error.kind == .connectionClosed {
            finish(truncated: true)
        } else {
            continuation?.resume(throwing: error)
            continuation = nil
            keepSelf = nil
        }
    }

    private func finish(truncated: Bool) {
        guard let head else { return }
        continuation?.resume(
            returning: LoopbackResponse(
                status: Int(head.status.code), headers: head.headers, body: String(buffer: body), started: started,
                firstByte: firstByte, ended: .now(), truncated: truncated))
        continuation = nil
        keepSelf = nil
    }
}
