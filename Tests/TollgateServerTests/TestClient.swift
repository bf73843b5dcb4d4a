import TollgateTestSupport

// The gateway tests use the shared loopback client (Tests/Support/LoopbackClient.swift).
typealias TestResponse = LoopbackResponse
typealias TestClient = LoopbackClient
