import Foundation
import TollgateEngineSim
import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP

/// An HTTP response as a test sees it, with arrival times.
struct SimTestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: String
    var started: NIODeadline
    var firstByte: NIODeadline?
    var ended: NIODeadline
    /// The connection closed before the response ended.
    var truncated: Bool

    /// SSE `data:` payloads in order.
    var events: [String] {
        body.components(separatedBy: "\n\n").compactMap { $0.hasPrefix("data: ") ? String($0.dropFirst(6)) : nil }
    }

    /// The JSON events (all but `[DONE]`), parsed.
    var chunks: [[String: Any]] {
        events.filter { $0 != "[DONE]" }.compactMap { try? jsonObject($0) }
    }

    func json() throws -> [String: Any] { try jsonObject(body) }
}

struct SimTestFailure: Error, CustomStringConvertible {
    var description: String
}

func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw SimTestFailure(description: "not a JSON object: \(text.prefix(200))")
    }
    return object
}

/// A loopback client on the gateway's own upstream client (real sockets, no Foundation networking).
struct SimTestClient {
    let client = UpstreamClient(configuration: .init(connectTimeout: .seconds(2), maxIdlePerOrigin: 0))
    let eventLoop: EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    let port: Int

    func get(_ path: String) async throws -> SimTestResponse {
        try await send(.GET, path, body: nil)
    }

    func post(_ path: String, _ body: String, disconnectAfterParts: Int? = nil) async throws -> SimTestResponse {
        try await send(.POST, path, body: body, disconnectAfterParts: disconnectAfterParts)
    }

    func send(_ method: HTTPMethod, _ path: String, body: String?, disconnectAfterParts: Int? = nil) async throws -> SimTestResponse {
        let origin = UpstreamOrigin(tls: false, host: "127.0.0.1", port: port, basePath: "")
        var headers = HTTPHeaders([("host", "127.0.0.1:\(port)")])
        if body != nil { headers.add(name: "content-type", value: "application/json") }
        let request = UpstreamRequest(
            origin: origin, path: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) },
            firstByteTimeout: .seconds(30), idleTimeout: .seconds(30))
        return try await withCheckedThrowingContinuation { continuation in
            eventLoop.execute {
                let collector = SimCollector(continuation: continuation, stopAfterBodyParts: disconnectAfterParts)
                collector.call = client.execute(request, on: eventLoop, delegate: collector)
            }
        }
    }
}

private final class SimCollector: UpstreamResponseDelegate {
    var continuation: CheckedContinuation<SimTestResponse, Error>?
    var call: UpstreamCall?
    var head: HTTPResponseHead?
    var body = ByteBuffer()
    var parts = 0
    let started = NIODeadline.now()
    var firstByte: NIODeadline?
    let stopAfterBodyParts: Int?
    var keepSelf: SimCollector?

    init(continuation: CheckedContinuation<SimTestResponse, Error>, stopAfterBodyParts: Int?) {
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
            returning: SimTestResponse(
                status: Int(head.status.code), headers: head.headers, body: String(buffer: body), started: started,
                firstByte: firstByte, ended: .now(), truncated: truncated))
        continuation = nil
        keepSelf = nil
    }
}

/// A simulator for one test, stopped by `stop()`.
struct SimFixture {
    let simulator: EngineSimulator
    let client: SimTestClient

    static func start(_ configuration: EngineSimConfiguration) async throws -> SimFixture {
        let simulator = try await EngineSimulator.start(
            configuration, host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton)
        return SimFixture(simulator: simulator, client: SimTestClient(port: simulator.port))
    }

    func stop() async {
        try? await simulator.shutdown()
    }

    func chat(_ body: String) async throws -> SimTestResponse {
        try await client.post("/v1/chat/completions", body)
    }

    /// Polls until `condition` holds or `seconds` pass.
    func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while NIODeadline.now() < deadline {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }
}
