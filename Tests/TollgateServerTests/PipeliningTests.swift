import NIOCore
import NIOPosix
import Testing
import TollgateEngineSim

/// HTTP/1.1 pipelining: requests written back to back on one connection are answered in order.
@Suite struct PipeliningTests {
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#
        func request(_ id: String) -> String {
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(GatewayFixture.key)\r\n"
                + "Content-Type: application/json\r\nX-Request-Id: \(id)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let models = "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(GatewayFixture.key)\r\nX-Request-Id: third\r\n\r\n"
        let raw = try await RawConnection.exchange(
            port: fixture.gateway.port, send: request("first") + request("second") + models, until: { text in
                text.components(separatedBy: "HTTP/1.1 200 OK").count == 4
            })
        let ids = raw.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("x-request-id:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        #expect(ids == ["first", "second", "third"])
        #expect(raw.contains(#""object":"list""#))
    }

    /// Thousands of requests pipelined behind one that waits on its engine, in one write: each
    /// is answered, in order, without the queue's drain nesting one call deeper per request
    /// (which ran the stack out at about 1,300 in a debug build, 20,000 in release).
    @Test func aLongPipelineBehindAWaitingRequestIsAnsweredInOrder() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#
        let chat = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(GatewayFixture.key)\r\n"
            + "Content-Type: application/json\r\nX-Request-Id: chat\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let count = 5_000
        let health = (0..<count).map { "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: h\($0)\r\n\r\n" }.joined()
        let raw = try await RawConnection.exchange(
            port: fixture.gateway.port, send: chat + health, until: { $0.hasSuffix(#"{"status":"ok"}"#) && $0.contains("h\(count - 1)\r\n") })
        let ids = raw.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("x-request-id:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        #expect(ids == ["chat"] + (0..<count).map { "h\($0)" })
        #expect(try await fixture.client.send(.GET, fixture.base + "/healthz").status == 200)
    }
}

/// Bytes that are not HTTP/1.1 get a 400 in the OpenAI envelope, then the connection closes.
@Suite struct MalformedHTTPTests {
    @Test(arguments: [
        "GET /healthz HTTP/1.1\r\nHost: x\r\nA header without a colon\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n",
        "\u{1}\u{2}\u{3} not http\r\n\r\n",
    ])
    func malformedBytesGetAnEnvelope(request: String) async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let raw = try await RawConnection.exchange(port: fixture.gateway.port, send: request, until: { $0.hasSuffix("}}") })
        #expect(raw.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(raw.prefix(300))")
        #expect(raw.lowercased().contains("connection: close"), "\(raw.prefix(300))")
        let body = try #require(raw.components(separatedBy: "\r\n\r\n").last)
        #expect(errorCode(body) == "invalid_request", "\(body)")
        #expect(try await fixture.client.send(.GET, fixture.base + "/healthz").status == 200)
    }
}

/// A client that sends nothing for `timeouts.client_idle_ms` while no answer is under way is
/// closed; one waiting on a long answer is not.
@Suite struct ClientIdleTests {
    /// How long the gateway takes to close a connection after `bytes` were written to it.
    static func timeToClose(port: Int, after bytes: String) async throws -> Duration {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        let start = ContinuousClock.now
        if !bytes.isEmpty { try await channel.writeAndFlush(ByteBuffer(string: bytes)) }
        let watchdog = channel.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        try await channel.closeFuture.get()
        watchdog.cancel()
        return start.duration(to: .now)
    }

    @Test func silentAndStalledClientsAreClosed() async throws {
        let fixture = try await GatewayFixture.start(clientIdleMs: 300)
        defer { Task { await fixture.stop() } }
        let port = fixture.gateway.port
        #expect(try await Self.timeToClose(port: port, after: "") < .seconds(3))
        let halfway = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\""
        #expect(try await Self.timeToClose(port: port, after: halfway) < .seconds(3))
    }

    @Test func aLongAnswerIsNotCutWhileTheClientWaits() async throws {
        // About 80 tokens at 10 ms each: a stream of some 0.8 s, past the 300 ms client timeout.
        var engine = EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072)
        engine.decodeMsPerToken = 10
        let fixture = try await GatewayFixture.start(engines: [engine], clientIdleMs: 300)
        defer { Task { await fixture.stop() } }
        let started = ContinuousClock.now
        let response = try await fixture.chat(
            #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":80,"stream":true}"#)
        #expect(started.duration(to: .now) > .milliseconds(500))
        #expect(response.status == 200)
        #expect(!response.truncated)
        #expect(response.events.last == "[DONE]")
    }
}

/// Request bodies on their way in are held against one limit for all connections, so many
/// large or slow uploads at once cannot take all memory.
@Suite struct PendingBodyTests {
    @Test func aBodyPastWhatAllConnectionsMayHoldIsRefusedUntilTheyLetGo() async throws {
        let fixture = try await GatewayFixture.start(maxPendingBodyBytes: 2_048)
        defer { Task { await fixture.stop() } }
        // 1,000 bytes: a chat padded with spaces.
        let chat = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#
        let body = chat + String(repeating: " ", count: 1_000 - chat.utf8.count)
        #expect(try await fixture.chat(body).status == 200)

        // A slow upload holds 1,500 bytes of its 3,000.
        let slow = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: fixture.gateway.port).get()
        try await slow.writeAndFlush(ByteBuffer(string:
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n" + String(repeating: " ", count: 1_500)))
        var refused = try await fixture.chat(body)
        for _ in 0..<20 where refused.status == 200 {  // until the gateway has read the upload's bytes
            try await Task.sleep(for: .milliseconds(50))
            refused = try await fixture.chat(body)
        }
        #expect(refused.status == 503)
        #expect(errorCode(refused.body) == "server_busy", "\(refused.body)")

        try await slow.close()
        var status = 0
        for _ in 0..<20 where status != 200 {
            try await Task.sleep(for: .milliseconds(50))
            status = try await fixture.chat(body).status
        }
        #expect(status == 200)
    }
}

/// A plain TCP exchange: writes bytes, collects what comes back until `until` is satisfied.
enum RawConnection {
    static func exchange(port: Int, send: String, until done: @escaping @Sendable (String) -> Bool) async throws -> String {
        let collector = Collector(done: done)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { $0.pipeline.addHandler(collector) }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: send))
        let text = try await collector.promise(on: channel.eventLoop).futureResult.get()
        try? await channel.close()
        return text
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: used on its channel's event loop only.
        typealias InboundIn = ByteBuffer
        let done: @Sendable (String) -> Bool
        var text = ""
        var result: EventLoopPromise<String>?
        var answered = false

        func answer() {
            guard !answered, let result else { return }
            answered = true
            result.succeed(text)
        }

        init(done: @escaping @Sendable (String) -> Bool) { self.done = done }

        func promise(on eventLoop: EventLoop) -> EventLoopPromise<String> {
            let promise = eventLoop.makePromise(of: String.self)
            eventLoop.execute {
                self.result = promise
                if self.done(self.text) { self.answer() }
            }
            eventLoop.scheduleTask(in: .seconds(10)) { self.answer() }
            return promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            text += String(buffer: unwrapInboundIn(data))
            if done(text) { answer() }
        }
    }
}
