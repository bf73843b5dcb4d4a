import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP

/// An HTTP response as a test sees it.
struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    /// The SSE `data:` payloads, in order.
    var events: [String] {
        body.components(separatedBy: "\n\n").compactMap { event in
            event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
        }
    }
}

/// A loopback HTTP client for tests, built on the gateway's own upstream client so requests go
/// over real sockets.
struct TestClient {
    let client = UpstreamClient()
    let eventLoop: EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    /// Sends a request and collects the whole answer.
    func send(
        _ method: HTTPMethod = .POST, _ url: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> TestResponse {
        try await withCheckedThrowingContinuation { continuation in
            eventLoop.execute {
                let collector = Collector(continuation: continuation, stopAfterBodyParts: nil)
                collector.call = client.execute(makeRequest(method, url, body: body, headers: headers), on: eventLoop, delegate: collector)
            }
        }
    }

    /// Sends a request and hangs up after `parts` body reads, like a client that goes away.
    /// Returns what arrived before the hang-up.
    func sendAndDisconnect(_ url: String, body: String, headers: [(String, String)] = [], afterParts parts: Int) async throws -> TestResponse {
        try await withCheckedThrowingContinuation { continuation in
            eventLoop.execute {
                let collector = Collector(continuation: continuation, stopAfterBodyParts: parts)
                collector.call = client.execute(makeRequest(.POST, url, body: body, headers: headers), on: eventLoop, delegate: collector)
            }
        }
    }

    private func makeRequest(_ method: HTTPMethod, _ url: String, body: String?, headers: [(String, String)]) -> UpstreamRequest {
        let slash = url.dropFirst(7).firstIndex(of: "/")!
        let origin = UpstreamOrigin(url: String(url[..<slash]))!
        var httpHeaders = HTTPHeaders(headers)
        if body != nil && !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            httpHeaders.add(name: "content-type", value: "application/json")
        }
        var buffer: ByteBuffer?
        if let body { buffer = ByteBuffer(string: body) }
        return UpstreamRequest(
            origin: origin, path: String(url[slash...]), method: method, headers: httpHeaders, body: buffer,
            firstByteTimeout: .seconds(30), idleTimeout: .seconds(30))
    }
}

private final class Collector: UpstreamResponseDelegate {
    var continuation: CheckedContinuation<TestResponse, Error>?
    var call: UpstreamCall?
    var head: HTTPResponseHead?
    var body = ByteBuffer()
    var parts = 0
    let stopAfterBodyParts: Int?
    var keepSelf: Collector?

    init(continuation: CheckedContinuation<TestResponse, Error>, stopAfterBodyParts: Int?) {
        self.continuation = continuation
        self.stopAfterBodyParts = stopAfterBodyParts
        self.keepSelf = self
    }

    func upstreamDidReceiveHead(_ head: HTTPResponseHead) { self.head = head }

    func upstreamDidReceiveBody(_ buffer: ByteBuffer) {
        var buffer = buffer
        body.writeBuffer(&buffer)
        parts += 1
        if let stop = stopAfterBodyParts, parts >= stop {
            call?.cancel()
            finish()
        }
    }

    func upstreamDidFinishRead() {}
    func upstreamDidEnd() { finish() }

    func upstreamDidFail(_ error: UpstreamError) {
        if head != nil && error.kind == .connectionClosed {
            finish()
        } else {
            continuation?.resume(throwing: error)
            continuation = nil
            keepSelf = nil
        }
    }

    private func finish() {
        guard let head else { return }
        continuation?.resume(returning: TestResponse(status: Int(head.status.code), headers: head.headers, body: String(buffer: body)))
        continuation = nil
        keepSelf = nil
    }
}
