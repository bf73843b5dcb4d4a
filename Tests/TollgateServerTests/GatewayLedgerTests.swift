import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Testing
import TollgateEngineSim
import TollgateLedger
import TollgateMoney
import TollgateServer
import TollgateTestSupport

/// Budgets and the usage ledger through real gateways: several replicas share one PostgreSQL,
/// requests race for one budget, and every served request leaves exactly one ledger row.
@Suite(.serialized) struct GatewayLedgerTests {
    /// The same small request every time; its estimate is read back from a gateway answer.
    static let body = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"How much is this?"}],"max_tokens":8}"#

    @Test func threeReplicasHoldOneBudgetUnderConcurrentLoad() async throws {
        try await ReplicaStack.with(replicas: 3, tag: "budget") { stack in
            // One request's estimate, read from a gateway answer (same prompt every time).
            let probeKey = try await stack.ledgers[0].keyStore.create(NewKey(team: "probe"))
            let probe = try await stack.chat(0, key: probeKey.plaintext)
            let estimate = try #require(probe.headers.first(name: "x-tollgate-cost-estimate").flatMap { Money(decimal: $0, currency: "USD") })
            let budget = Money(nanos: estimate.nanos * 50 + estimate.nanos / 2, currency: "USD")
            let key = try await stack.ledgers[1].keyStore.create(NewKey(team: "racers", budget: budget))

            // 300 requests, 100 at a time, spread over the three replicas.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                var statuses: [Int] = []
                for index in 0..<300 {
                    if index >= 100, let status = try await group.next() { statuses.append(status) }
                    group.addTask { try await stack.chat(index % 3, key: key.plaintext).status }
                }
                for try await status in group { statuses.append(status) }
                return statuses
            }
            let served = statuses.filter { $0 == 200 }.count
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 402 }, "\(Set(statuses))")
            #expect(served > 0 && served <= 51)
            #expect(statuses.filter { $0 == 402 }.count == 300 - served)

            try await stack.stopGatewaysAndDrain()
            let rows = try await stack.waitForRows(team: "racers", count: served)
            print("three replicas: served \(served) of 300, spent \(rows.spentNanos) of \(budget.nanos) nano-USD, estimate \(estimate.nanos)")
            #expect(rows.count == served, "one ledger row per served request")
            #expect(rows.distinctIDs == rows.count)
            #expect(rows.spentNanos <= budget.nanos + estimate.nanos, "spend \(rows.spentNanos) vs budget \(budget.nanos)")
            #expect(rows.spentNanos >= budget.nanos - 3 * estimate.nanos, "budget left unused: \(budget.nanos - rows.spentNanos)")
        }
    }

    @Test func aDatabaseOutageLosesNoUsageAndKnownKeysKeepWorking() async throws {
        try await ReplicaStack.with(replicas: 1, tag: "outage", throughProxy: true) { stack in
            let key = try await stack.ledgers[0].keyStore.create(NewKey(team: "steady"))
            var served = 0
            for _ in 0..<20 where try await stack.chat(0, key: key.plaintext).status == 200 { served += 1 }
            await stack.cutDatabase()
            // The key is cached: requests keep being served while PostgreSQL is unreachable.
            for _ in 0..<30 {
                let status = try await stack.chat(0, key: key.plaintext).status
                #expect(status == 200)
                if status == 200 { served += 1 }
            }
            try await Task.sleep(for: .seconds(3))
            try await stack.restoreDatabase()
            for _ in 0..<20 where try await stack.chat(0, key: key.plaintext).status == 200 { served += 1 }
            #expect(served == 70)
            try await stack.stopGatewaysAndDrain()
            // The writer spooled while PostgreSQL was away and replays once it answers again.
            let rows = try await stack.waitForRows(team: "steady", count: served)
            #expect(rows.count == served, "every served request has exactly one row (spooled ones replayed)")
            #expect(rows.distinctIDs == served)
        }
    }
}

extension GatewayLedgerTests {
    @Test func rateLimitedKeysGet429WithRetryAfterAndOpenAIHeaders() async throws {
        try await ReplicaStack.with(replicas: 1, tag: "rpm") { stack in
            let key = try await stack.ledgers[0].keyStore.create(NewKey(team: "limited", requestsPerMinute: 2))
            let first = try await stack.chat(0, key: key.plaintext)
            #expect(first.status == 200)
            #expect(first.headers.first(name: "x-ratelimit-limit-requests") == "2")
            #expect(first.headers.first(name: "x-ratelimit-remaining-requests") == "1")
            #expect(try await stack.chat(0, key: key.plaintext).status == 200)
            let refused = try await stack.chat(0, key: key.plaintext)
            #expect(refused.status == 429)
            #expect(errorCode(refused.body) == "rate_limit_exceeded")
            #expect(Int(refused.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)
            #expect(refused.headers.first(name: "x-ratelimit-remaining-requests") == "0")
            try await stack.stopGatewaysAndDrain()
            // Refused requests never reached an engine: only the two served ones are in the ledger.
            #expect(try await stack.waitForRows(team: "limited", count: 2).count == 2)
        }
    }

    /// Clients choose their `x-request-id`s and may repeat one (a retry, a fixed string): each
    /// response echoes it, and each request still has its own ledger row under the gateway's id.
    @Test func requestsSharingAClientIDEachKeepTheirOwnRow() async throws {
        try await ReplicaStack.with(replicas: 2, tag: "clientid") { stack in
            let key = try await stack.ledgers[0].keyStore.create(NewKey(team: "echoes"))
            let echoed = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let response = try await stack.chat(index % 2, key: key.plaintext, headers: [("x-request-id", "same-id")])
                        return response.status == 200 ? response.headers.first(name: "x-request-id") : nil
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(echoed == Array(repeating: "same-id", count: 20))
            try await stack.stopGatewaysAndDrain()
            let rows = try await stack.waitForRows(team: "echoes", count: 20)
            #expect(rows.count == 20)
            #expect(rows.distinctIDs == 20)
            #expect(try await stack.scalar("SELECT count(*)::bigint FROM usage_events WHERE client_request_id = 'same-id'") == 20)
        }
    }

    /// With keys in the ledger, a request waiting to send its body is screened from memory: a key
    /// already found unknown is refused before the body; a good one is told to go on.
    @Test func aKeyFoundUnknownIsRefusedBeforeTheBody() async throws {
        try await ReplicaStack.with(replicas: 1, tag: "early") { stack in
            let good = try await stack.ledgers[0].keyStore.create(NewKey(team: "early"))
            let unknown = APIKeyGenerator.generate()
            let port = stack.gateways[0].port
            let body = GatewayLedgerTests.body
            // Not yet looked up: it passes the screen, and is refused once its body is in.
            let first = try await RawSession.open(port: port)
            defer { first.close() }
            try await first.send(EarlyRefusalTests.head(key: unknown, length: body.utf8.count))
            #expect(try await first.read(until: { $0.hasSuffix("\r\n\r\n") }) == "HTTP/1.1 100 Continue\r\n\r\n")
            try await first.send(body)
            #expect(try await first.read(until: { $0.hasSuffix("}}") }).contains("HTTP/1.1 401 Unauthorized\r\n"))
            // Now remembered as unknown: refused at once, no 100 Continue.
            let second = try await RawSession.open(port: port)
            defer { second.close() }
            try await second.send(EarlyRefusalTests.head(key: unknown, length: body.utf8.count))
            let refused = try await second.read(until: { $0.hasSuffix("}}") })
            #expect(refused.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(refused.prefix(200))")
            #expect(try await second.waitForClose())
            // A good key goes on and is served.
            let third = try await RawSession.open(port: port)
            defer { third.close() }
            try await third.send(EarlyRefusalTests.head(key: good.plaintext, length: body.utf8.count))
            #expect(try await third.read(until: { $0.hasSuffix("\r\n\r\n") }) == "HTTP/1.1 100 Continue\r\n\r\n")
            try await third.send(body)
            #expect(try await third.read(until: { $0.hasSuffix("}") && $0.contains("usage") }).contains("HTTP/1.1 200 OK\r\n"))
        }
    }

    @Test func aStreamTheClientAbandonedIsStillBilled() async throws {
        try await ReplicaStack.with(replicas: 1, tag: "abandon", engineDecodeMs: 20) { stack in
            let key = try await stack.ledgers[0].keyStore.create(NewKey(team: "walkers"))
            let partial = try await stack.client.sendAndDisconnect(
                "http://127.0.0.1:\(stack.gateways[0].port)/v1/chat/completions",
                body: #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"go"}],"stream":true,"max_tokens":300}"#,
                headers: [("authorization", "Bearer \(key.plaintext)")], afterParts: 3)
            #expect(partial.status == 200)
            let rows = try await stack.waitForRows(team: "walkers", count: 1)
            #expect(rows.count == 1)
            #expect(rows.spentNanos > 0, "the tokens the engine produced before the client left are billed")
            let disconnected = try await stack.scalar("SELECT count(*)::bigint FROM usage_events WHERE client_disconnected AND stream")
            #expect(disconnected == 1)
        }
    }
}

/// N gateway replicas, each with its own `Ledger` (its own leases, rate-limit share and spool),
/// over one fresh database and one simulated engine.
struct ReplicaStack {
    let ledgers: [Ledger]
    let gateways: [GatewayServer]
    let engine: EngineSimulator
    let url: DatabaseURL
    let proxy: TCPProxy?
    let client = TestClient()

    struct Rows {
        var count: Int
        var distinctIDs: Int
        var spentNanos: Int64
    }

    func chat(_ replica: Int, key: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await client.send(
            .POST, "http://127.0.0.1:\(gateways[replica].port)/v1/chat/completions", body: GatewayLedgerTests.body,
            headers: [("authorization", "Bearer \(key)")] + headers)
    }

    func cutDatabase() async { await proxy?.cut() }
    func restoreDatabase() async throws { try await proxy?.restore() }

    /// Stops taking requests; the ledger services are stopped (queue drained, spool replayed) by `with`.
    func stopGatewaysAndDrain() async throws {
        for gateway in gateways { try await gateway.shutdown() }
    }

    /// The team's ledger rows once there are `count` of them (the writer works off the request
    /// path, and replays its spool after an outage), or what is there after 20 s.
    func waitForRows(team: String, count: Int) async throws -> Rows {
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        var rows = try await ledgerRows(team: team)
        while rows.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            rows = try await ledgerRows(team: team)
        }
        // A little longer, so a duplicate written late would be seen too.
        try await Task.sleep(for: .milliseconds(500))
        return try await ledgerRows(team: team)
    }

    func ledgerRows(team: String) async throws -> Rows {
        let found = NIOLockedValueBox(Rows(count: 0, distinctIDs: 0, spentNanos: 0))
        try await AdminStack.withClient(url) { client in
            let result = try await client.query(
                """
                SELECT count(*)::bigint, count(DISTINCT u.request_id)::bigint, coalesce(sum(u.cost_nanos), 0)::bigint
                FROM usage_events u JOIN teams t ON t.id = u.team_id WHERE t.name = \(team)
                """, logger: AdminStack.logger)
            for try await (count, distinct, spent) in result.decode((Int64, Int64, Int64).self) {
                found.withLockedValue { $0 = Rows(count: Int(count), distinctIDs: Int(distinct), spentNanos: spent) }
            }
        }
        return found.withLockedValue { $0 }
    }

    /// A number from one SQL query (tests only; no user input in `sql`).
    func scalar(_ sql: String) async throws -> Int64 {
        let found = NIOLockedValueBox<Int64>(-1)
        try await AdminStack.withClient(url) { client in
            for try await value in try await client.query(PostgresQuery(unsafeSQL: sql), logger: AdminStack.logger).decode(Int64.self) {
                found.withLockedValue { $0 = value }
            }
        }
        return found.withLockedValue { $0 }
    }

    static func with(
        replicas: Int, tag: String, throughProxy: Bool = false, engineDecodeMs: Double? = nil,
        _ body: @Sendable (ReplicaStack) async throws -> Void
    ) async throws {
        guard let text = ProcessInfo.processInfo.environment["TOLLGATE_TEST_DATABASE_URL"], !text.isEmpty else {
            Issue.record(Comment(rawValue: AdminStack.MissingDatabase().description))
            throw AdminStack.MissingDatabase()
        }
        let base = try DatabaseURL(text)
        let name = "tg_gw_\(tag)_\(UInt32.random(in: 0...UInt32.max))"
        try await AdminStack.withClient(base) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: AdminStack.logger) }
        defer { Task { try? await AdminStack.drop(name, base: base) } }
        let url = base.with(database: name)
        try await AdminStack.withClient(url) { try await Migrator(client: $0, logger: AdminStack.logger).migrate() }

        // The outage test reaches PostgreSQL through a proxy it can cut.
        var proxy: TCPProxy?
        var ledgerURL = try #require(URLComponents(string: text))
        ledgerURL.path = "/\(name)"
        if throughProxy {
            let started = TCPProxy(targetHost: url.host, targetPort: url.port)
            ledgerURL.port = try await started.start()
            proxy = started
        }
        var ledgers: [Ledger] = []
        var spools: [String] = []
        for replica in 0..<replicas {
            let spool = NSTemporaryDirectory() + "tollgate-replica-spool-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            spools.append(spool)
            ledgers.append(
                try Ledger(
                    databaseURL: try #require(ledgerURL.string),
                    configuration: Ledger.Configuration(spoolDirectory: spool, replicaID: "\(tag)-\(replica)"), logger: AdminStack.logger))
        }
        defer { for spool in spools { try? FileManager.default.removeItem(atPath: spool) } }
        let groups = ledgers.map { ServiceGroup(configuration: .init(services: $0.services, logger: AdminStack.logger)) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for group in groups { tasks.addTask { try await group.run() } }
            var engineConfiguration = EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072, outputTokens: 8, instant: true)
            if let engineDecodeMs {
                // A modelled engine, so a stream lasts long enough to be abandoned part way.
                engineConfiguration.instant = false
                engineConfiguration.prefillBaseMs = 1
                engineConfiguration.decodeMsPerToken = engineDecodeMs
            }
            let engine = try await EngineSimulator.start(
                engineConfiguration, host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton)
            var gateways: [GatewayServer] = []
            do {
                for ledger in ledgers {
                    gateways.append(
                        try await GatewayServer.start(
                            configuration: try AdminStack.configuration(enginePort: engine.port), ledger: ledger, logger: AdminStack.logger))
                }
                try await body(ReplicaStack(ledgers: ledgers, gateways: gateways, engine: engine, url: url, proxy: proxy))
            } catch {
                for gateway in gateways { try? await gateway.shutdown() }
                try? await engine.shutdown()
                for group in groups { await group.triggerGracefulShutdown() }
                try? await tasks.waitForAll()
                await proxy?.cut()
                throw error
            }
            for gateway in gateways { try? await gateway.shutdown() }
            try await engine.shutdown()
            // Graceful shutdown drains each replica's usage queue into PostgreSQL.
            for group in groups { await group.triggerGracefulShutdown() }
            try await tasks.waitForAll()
        }
        await proxy?.cut()
    }
}
