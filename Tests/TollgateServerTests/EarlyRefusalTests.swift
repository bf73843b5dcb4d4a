import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import TollgateLedger

/// A request's head is looked at before its body is read when the body is worth sparing: a client
/// that sends `Expect: 100-continue` (curl does for 1 MiB and more) is told to go on, or refused
/// before it sends a byte of the body; a large body with a bad key is dropped as it arrives.
@Suite struct EarlyRefusalTests {
    static let chat = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#

    static func head(key: String, length: Int, expect: Bool = true) -> String {
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
            + (expect ? "Expect: 100-continue\r\n" : "") + "Content-Length: \(length)\r\n\r\n"
    }

    @Test func aClientWaitingToSendItsBodyIsToldToGoOnAndServed() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let session = try await RawSession.open(port: fixture.gateway.port)
        defer { session.close() }
        try await session.send(Self.head(key: GatewayFixture.key, length: Self.chat.utf8.count))
        let interim = try await session.read(until: { $0.contains("\r\n\r\n") })
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        try await session.send(Self.chat)
        let answer = try await session.read(until: { $0.hasSuffix("}") && $0.contains("\"usage\"") })
        #expect(answer.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(answer.prefix(300))")
        // The connection stays usable for the next request.
        try await session.send(Self.head(key: GatewayFixture.key, length: Self.chat.utf8.count, expect: false) + Self.chat)
        let again = try await session.read(until: { $0.components(separatedBy: "HTTP/1.1 200 OK").count == 3 && $0.hasSuffix("}") })
        #expect(again.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
    }

    @Test(arguments: ["sk-not-a-key", ""])
    func aBadKeyWaitingToSendItsBodyIsRefusedBeforeIt(key: String) async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let session = try await RawSession.open(port: fixture.gateway.port)
        defer { session.close() }
        try await session.send(Self.head(key: key, length: 2 << 20))
        let answer = try await session.read(until: { $0.hasSuffix("}}") })
        #expect(answer.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(answer.prefix(300))")
        #expect(answer.lowercased().contains("connection: close"))
        #expect(answer.contains(#""code":"invalid_api_key""#))
        #expect(try await session.waitForClose())
    }

    /// A client may send its body after all, without waiting (its wait for `100 Continue` ran out
    /// as the refusal came). The gateway shuts only its own side after the answer and reads the body
    /// to its end before closing: a socket closed with bytes still arriving answers them with a
    /// reset, which can wipe out the answer before the client reads it.
    @Test func aRefusedClientThatSendsItsBodyAnywayIsNotReset() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let session = try await RawSession.open(port: fixture.gateway.port, halfClosable: true)
        defer { session.close() }
        let length = 2 << 20
        try await session.send(Self.head(key: "sk-not-a-key", length: length))
        let answer = try await session.read(until: { $0.hasSuffix("}}") })
        #expect(answer.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(answer.prefix(300))")
        #expect(try await session.waitForEndOfInput(), "the gateway did not end its side after the answer")
        try await Self.expectClosedCleanly(session, afterSending: String(repeating: " ", count: length))
    }

    /// Sends the rest of a refused body, then checks the gateway read it without a reset and
    /// closed at once, not after the linger time: one more byte then meets a closed socket.
    static func expectClosedCleanly(_ session: RawSession, afterSending rest: String) async throws {
        try await session.send(rest)
        try await Task.sleep(for: .milliseconds(200))
        #expect(session.errors.isEmpty, "\(session.errors)")
        try? await session.send("x")
        #expect(try await session.waitForClose(within: .seconds(2)))
    }

    /// A refused body is dropped as it arrives, but not forever: past `limits.max_body_bytes`
    /// of dropped bytes the refusal goes out without waiting for an end that may never come.
    @Test func aRefusedBodyThatDoesNotEndIsAnsweredPastTheLimit() async throws {
        let fixture = try await GatewayFixture.start(maxBodyBytes: 1 << 20)
        defer { Task { await fixture.stop() } }
        let session = try await RawSession.open(port: fixture.gateway.port, halfClosable: true)
        defer { session.close() }
        try await session.send(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-not-a-key\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n")
        let chunk = String(64 << 10, radix: 16) + "\r\n" + String(repeating: " ", count: 64 << 10) + "\r\n"
        for _ in 0..<8 { try await session.send(chunk) }
        #expect(session.text.isEmpty, "answered before the limit: \(session.text.prefix(200))")
        for _ in 0..<12 { try await session.send(chunk) }
        let answer = try await session.read(until: { $0.hasSuffix("}}") })
        #expect(answer.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(answer.prefix(300))")
        // The body's end, when it comes, closes the connection cleanly.
        try await Self.expectClosedCleanly(session, afterSending: "0\r\n\r\n")
    }

    @Test func anOversizedBodyWaitingToBeSentIsRefusedBeforeIt() async throws {
        let fixture = try await GatewayFixture.start(maxBodyBytes: 1 << 20)
        defer { Task { await fixture.stop() } }
        let session = try await RawSession.open(port: fixture.gateway.port)
        defer { session.close() }
        try await session.send(Self.head(key: GatewayFixture.key, length: 2 << 20))
        let answer = try await session.read(until: { $0.hasSuffix("}}") })
        #expect(answer.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(answer.prefix(300))")
        #expect(try await session.waitForClose())
    }

    /// Without `Expect`, a large body with a bad key is read and dropped, never held: it does not
    /// count against the bytes all connections may hold (here 1 MiB, less than the body).
    @Test func aLargeBodyWithABadKeyIsDroppedAsItArrives() async throws {
        let fixture = try await GatewayFixture.start(maxPendingBodyBytes: 1 << 20)
        defer { Task { await fixture.stop() } }
        let padded = Self.chat + String(repeating: " ", count: (2 << 20) - Self.chat.utf8.count)
        let refused = try await fixture.chat(padded, headers: [("authorization", "Bearer sk-not-a-key")])
        #expect(refused.status == 401)
        #expect(errorCode(refused.body) == "invalid_api_key", "\(refused.body)")
        // The same body with a good key is held, and passes the limit.
        let held = try await fixture.chat(padded)
        #expect(held.status == 503)
        #expect(errorCode(held.body) == "server_busy", "\(held.body)")
    }
}

/// A raw TCP connection kept open across several writes, for exchanges in steps.
final class RawSession: Sendable {
    private let channel: Channel
    private let collector: Collector

    private init(channel: Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// `halfClosable`: the connection stays open for sending after the server ended its side.
    static func open(port: Int, halfClosable: Bool = false) async throws -> RawSession {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: halfClosable)
            .channelInitializer { $0.pipeline.addHandler(collector) }
            .connect(host: "127.0.0.1", port: port).get()
        return RawSession(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Everything received so far, once `done` holds for it or 5 s have passed.
    func read(until done: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !done(collector.text), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return collector.text
    }

    /// Whether the server closed the connection within `time`.
    func waitForClose(within time: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: time)
        while !collector.closed, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return collector.closed
    }

    /// Whether the server ended its side (or the whole connection) within 5 s.
    func waitForEndOfInput() async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !collector.inputEnded, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return collector.inputEnded
    }

    /// Errors the connection met, such as a reset.
    var errors: [String] { collector.errors }

    /// Everything received so far.
    var text: String { collector.text }

    func close() { channel.close(promise: nil) }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let state = NIOLockedValueBox((text: "", closed: false, inputEnded: false, errors: [String]()))
        var text: String { state.withLockedValue { $0.text } }
        var closed: Bool { state.withLockedValue { $0.closed } }
        var inputEnded: Bool { state.withLockedValue { $0.inputEnded || $0.closed } }
        var errors: [String] { state.withLockedValue { $0.errors } }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { state.withLockedValue { $0.inputEnded = true } }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            state.withLockedValue { $0.errors.append("\(error)") }
            context.close(promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let received = String(buffer: unwrapInboundIn(data))
            state.withLockedValue { $0.text += received }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.closed = true }
        }
    }
}
