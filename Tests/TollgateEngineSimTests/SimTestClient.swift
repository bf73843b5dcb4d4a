import Foundation
import TollgateEngineSim
import NIOCore
import NIOHTTP1
import NIOPosix
import TollgateHTTP
import TollgateTestSupport

/// The shared loopback response (Tests/Support/LoopbackClient.swift), with JSON helpers.
typealias SimTestResponse = LoopbackResponse

extension LoopbackResponse {
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

/// Requests to one simulator by path, each on a new connection.
struct SimTestClient {
    let client = LoopbackClient(maxIdlePerOrigin: 0)
    let port: Int

    func get(_ path: String) async throws -> SimTestResponse {
        try await send(.GET, path, body: nil)
    }

    func post(_ path: String, _ body: String, disconnectAfterParts: Int? = nil) async throws -> SimTestResponse {
        try await send(.POST, path, body: body, disconnectAfterParts: disconnectAfterParts)
    }

    func send(_ method: HTTPMethod, _ path: String, body: String?, disconnectAfterParts: Int? = nil) async throws -> SimTestResponse {
        try await client.send(method, "http://127.0.0.1:\(port)\(path)", body: body, disconnectAfterParts: disconnectAfterParts)
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
