import Foundation
import Logging
import NIOHTTP1
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Testing
import TollgateTestSupport
import TollgateEngineSim
import TollgateLedger
import TollgateMoney
import TollgateRouting
import TollgateTokenizer

@testable import TollgateServer

/// The admin API and the team usage report, end to end: a real PostgreSQL (a fresh database per
/// test on `TOLLGATE_TEST_DATABASE_URL`), the ledger's services, a simulated engine and a gateway.
@Suite(.serialized) struct AdminAPITests {
    static let adminToken = "tollgate-admin-\(UUID().uuidString)"
    static let admin = [("authorization", "Bearer \(adminToken)")]
    static let chatBody = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"How much is this?"}],"max_tokens":8}"#

    static func bearer(_ key: String) -> [(String, String)] { [("authorization", "Bearer \(key)")] }

    @Test func adminRoutesTakeTheAdminTokenOnly() async throws {
        try await AdminStack.with("auth") { stack in
            let teamKey = try await stack.ledger.keyStore.create(NewKey(team: "alpha")).plaintext
            // The team key is a working key on the data path...
            #expect(try await stack.chat(key: teamKey).status == 200)
            for path in ["/admin/keys", "/admin/reports", "/admin/teams/alpha", "/admin/stats", "/admin/metrics", "/admin/openapi.json"] {
                let missing = try await stack.get(path, headers: [])
                #expect(missing.status == 401, "\(path) without a token")
                #expect(errorCode(missing.body) == "invalid_admin_token")
                let wrong = try await stack.get(path, headers: Self.bearer(Self.adminToken + "x"))
                #expect(wrong.status == 401, "\(path) with a wrong token")
                // ...but never an admin token.
                let team = try await stack.get(path, headers: Self.bearer(teamKey))
                #expect(team.status == 401, "\(path) with a team key")
                #expect(errorCode(team.body) == "invalid_admin_token")
                #expect(try await stack.get(path, headers: Self.admin).status == 200, "\(path) with the admin token")
            }
            // The admin token is not a team key either.
            let report = try await stack.get("/v1/usage/report", headers: Self.admin)
            #expect(report.status == 401)
            #expect(try await stack.chat(key: Self.adminToken).status == 401)

            // A gateway started without a token answers every /admin path with a clear 404.
            let disabled = try await stack.startGateway(adminToken: nil)
            for token in [Self.adminToken, teamKey, ""] {
                let answer = try await stack.client.send(
                    .GET, "http://127.0.0.1:\(disabled.port)/admin/keys", headers: token.isEmpty ? [] : Self.bearer(token))
                #expect(answer.status == 404)
                #expect(errorCode(answer.body) == "admin_api_disabled")
            }
            try await disabled.shutdown()
        }
    }

    @Test func aCreatedKeyWorksAtOnceAndStopsWithinSecondsOfRevocation() async throws {
        try await AdminStack.with("keys") { stack in
            let created = try await stack.send(
                .POST, "/admin/keys",
                body: #"{"team":"beta","name":"ci","budget":"5","budget_period":"monthly","rpm":600,"tpm":100000,"models":["deepseek-v4-flash"],"expires_at":"2099-01-01"}"#)
            #expect(created.status == 201)
            #expect(created.headers.first(name: "cache-control") == "no-store")
            let record = try json(created.body)
            let key = try #require(record["key"] as? String)
            let prefix = try #require(record["prefix"] as? String)
            #expect(key.hasPrefix(prefix) && key.count > prefix.count)
            #expect(record["team"] as? String == "beta")
            #expect(record["budget"] as? String == "5")
            #expect(record["budget_period"] as? String == "monthly")
            #expect(record["rpm"] as? Int == 600)
            #expect(record["models"] as? [String] == ["deepseek-v4-flash"])
            #expect(record["expires_at"] as? String == "2099-01-01T00:00:00Z")
            #expect(record["status"] as? String == "active")

            // Its first request works (the gateway looks an unseen key up).
            #expect(try await stack.chat(key: key).status == 200)

            // Listings never show the secret or its hash.
            let listing = try await stack.get("/admin/keys?team=beta")
            #expect(listing.status == 200)
            #expect(!listing.body.contains(key))
            #expect(!listing.body.contains("hash"))
            let keys = try #require(try json(listing.body)["data"] as? [[String: Any]])
            #expect(keys.map { $0["prefix"] as? String } == [prefix])
            #expect(keys.allSatisfy { $0["key"] == nil })
            #expect(try await stack.get("/admin/keys?team=nobody").body.contains(#""data":[]"#))

            // Revoke by prefix; the gateway refuses the key within a few seconds.
            let revoked = try await stack.send(.DELETE, "/admin/keys/\(prefix)")
            #expect(revoked.status == 200)
            #expect(try json(revoked.body)["status"] as? String == "revoked")
            #expect(try await stack.waitForStatus(401, key: key, within: .seconds(6)))

            // Revoke by id through the POST form.
            let second = try json(try await stack.send(.POST, "/admin/keys", body: #"{"team":"beta"}"#).body)
            let secondKey = try #require(second["key"] as? String)
            let id = try #require(second["id"] as? Int)
            #expect(try await stack.chat(key: secondKey).status == 200)
            let byID = try await stack.send(.POST, "/admin/keys/\(id)/revoke")
            #expect(byID.status == 200)
            #expect(try json(byID.body)["prefix"] as? String == second["prefix"] as? String)
            #expect(try await stack.waitForStatus(401, key: secondKey, within: .seconds(6)))
            let one = try json(try await stack.get("/admin/keys/\(id)").body)
            #expect(one["status"] as? String == "revoked")
            let active = try #require(try json(try await stack.get("/admin/keys?team=beta&active=true").body)["data"] as? [Any])
            #expect(active.isEmpty)

            #expect(try await stack.send(.DELETE, "/admin/keys/tg-00000000").status == 404)
            #expect(try await stack.send(.DELETE, "/admin/keys/987654").status == 404)
        }
    }

    @Test func teamLimitsSetOverHTTPApplyToTheTeamsKeys() async throws {
        try await AdminStack.with("teams") { stack in
            let set = try await stack.send(.PUT, "/admin/teams/gamma%20team", body: #"{"budget":"0.000001","budget_period":"daily","rpm":50}"#)
            #expect(set.status == 200)
            let team = try json(set.body)
            #expect(team["name"] as? String == "gamma team")
            #expect(team["budget"] as? String == "0.000001")
            #expect(team["budget_period"] as? String == "daily")
            #expect(team["rpm"] as? Int == 50)
            #expect(team["currency"] as? String == "USD")

            let key = try json(try await stack.send(.POST, "/admin/keys", body: #"{"team":"gamma team"}"#).body)
            let plaintext = try #require(key["key"] as? String)
            let refused = try await stack.chat(key: plaintext)
            #expect(refused.status == 402)
            #expect(errorCode(refused.body) == "budget_exceeded")

            // Absent fields keep their value, null removes a limit.
            let cleared = try json(try await stack.send(.PUT, "/admin/teams/gamma%20team", body: #"{"budget":null}"#).body)
            #expect(cleared["budget"] is NSNull)
            #expect(cleared["rpm"] as? Int == 50)
            let read = try json(try await stack.get("/admin/teams/gamma%20team").body)
            #expect(read["budget"] is NSNull && read["budget_period"] as? String == "daily")
            #expect(try await stack.get("/admin/teams/nobody").status == 404)
        }
    }

    @Test func reportTotalsEqualTheRequestsMade() async throws {
        try await AdminStack.with("report") { stack in
            let key = try #require(try json(try await stack.send(.POST, "/admin/keys", body: #"{"team":"delta"}"#).body)["key"] as? String)
            var spent = Money.zero("USD")
            var completion = 0
            for _ in 0..<5 {
                let answer = try await stack.chat(key: key)
                #expect(answer.status == 200)
                let usage = try #require(try json(answer.body)["usage"] as? [String: Any])
                let cost = try #require(usage["cost"] as? String)
                let money = try #require(Money(decimal: cost, currency: "USD"))
                spent = Money(nanos: spent.nanos + money.nanos, currency: "USD")
                completion += try #require(usage["completion_tokens"] as? Int)
            }
            let today = LedgerDay(Date()).description
            let path = "/admin/reports?from=\(today)&to=\(today)&group_by=team,model,target,day"
            let report = try await stack.waitForReport(path, headers: Self.admin, requests: 5)
            let total = try #require(report["total"] as? [String: Any])
            #expect(total["requests"] as? Int == 5)
            #expect(total["cost"] as? String == spent.decimalString)
            #expect(total["completion_tokens"] as? Int == completion)
            #expect(total["currency"] as? String == "USD")
            let rows = try #require(report["rows"] as? [[String: Any]])
            #expect(rows.count == 1)
            #expect(rows.first?["team"] as? String == "delta" && rows.first?["model"] as? String == "deepseek-v4-flash")
            #expect(rows.first?["target"] as? String == "flash-pool" && rows.first?["day"] as? String == today)

            // Byte for byte what `tollgate report --format json` prints for the same query.
            let body = try await stack.get(path).body
            let cli = try await stack.ledger.reports.report(
                ReportQuery(from: LedgerDay(today)!, to: LedgerDay(today)!, groupBy: [.team, .model, .target, .day]))
            #expect(body == cli.rendered(as: .json))
            // The ledger's raw rows agree with the rollup the report reads.
            let ledger = try await stack.ledger.reports.ledgerTotals(ReportQuery(from: LedgerDay(today)!, to: LedgerDay(today)!))
            #expect(ledger.requests == 5 && ledger.costNanos == spent.nanos)

            // The count-accuracy report holds Tollgate's count of each of the five prompts, and
            // is byte for byte what `tollgate report --count-accuracy --format json` prints.
            let accuracyPath = "/admin/count-accuracy?from=\(today)&to=\(today)&team=delta"
            let accuracy = try await stack.get(accuracyPath, headers: Self.admin)
            #expect(accuracy.status == 200)
            let accuracyRows = try #require(try json(accuracy.body)["rows"] as? [[String: Any]])
            let prompt = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(Self.chatBody.utf8)).tokens
            #expect(accuracyRows.count == 1)
            #expect(accuracyRows.first?["requests"] as? Int == 5 && accuracyRows.first?["tollgate_tokens"] as? Int == 5 * prompt)
            #expect(accuracyRows.first?["counted"] as? String == "exactly")
            let accuracyCLI = try await stack.ledger.reports.countAccuracy(ReportQuery(from: LedgerDay(today)!, to: LedgerDay(today)!, team: "delta"))
            #expect(accuracy.body == accuracyCLI.rendered(as: .json))

            // A prompt with an image is counted without it, so the ledger marks the count as an
            // estimate and the report keeps it apart from the exact ones.
            let imageChat = #"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],"max_tokens":8}"#
            let imageCount = try ChatPromptCounter(tokenizer: .shared).countChat(requestJSON: Array(imageChat.utf8))
            #expect(!imageCount.exact)
            #expect(try await stack.chat(key: key, body: imageChat).status == 200)
            _ = try await stack.waitForReport(path, headers: Self.admin, requests: 6)
            let split = try #require(try json(try await stack.get(accuracyPath, headers: Self.admin).body)["rows"] as? [[String: Any]])
            #expect(split.map { $0["counted"] as? String } == ["exactly", "estimated"])
            #expect(split.first?["requests"] as? Int == 5 && split.first?["tollgate_tokens"] as? Int == 5 * prompt)
            #expect(split.last?["requests"] as? Int == 1 && split.last?["tollgate_tokens"] as? Int == imageCount.tokens)
            let grouped = try await stack.get(accuracyPath + "&group_by=team", headers: Self.admin)
            #expect(grouped.status == 400 && errorCode(grouped.body) == "invalid_request")
        }
    }

    @Test func aTeamKeyReadsItsOwnTeamAndNothingOfAnother() async throws {
        try await AdminStack.with("isolation") { stack in
            let keyA = try #require(try json(try await stack.send(.POST, "/admin/keys", body: #"{"team":"team-a"}"#).body)["key"] as? String)
            let keyB = try #require(try json(try await stack.send(.POST, "/admin/keys", body: #"{"team":"team-b"}"#).body)["key"] as? String)
            for _ in 0..<2 { #expect(try await stack.chat(key: keyA).status == 200) }
            for _ in 0..<3 { #expect(try await stack.chat(key: keyB).status == 200) }
            let today = LedgerDay(Date()).description
            // Wait until both teams' rows are in, so "nothing of B" is not an accident of timing.
            _ = try await stack.waitForReport("/admin/reports?from=\(today)&to=\(today)", headers: Self.admin, requests: 5)

            let own = try await stack.waitForReport(
                "/v1/usage/report?from=\(today)&to=\(today)&group_by=team,model", headers: Self.bearer(keyA), requests: 2)
            #expect(own["team"] as? String == "team-a")
            let rows = try #require(own["rows"] as? [[String: Any]])
            #expect(!rows.isEmpty && rows.allSatisfy { $0["team"] as? String == "team-a" })
            #expect((own["total"] as? [String: Any])?["requests"] as? Int == 2)

            // Naming team B, in any spelling the query string allows, is refused and shows nothing of B.
            for query in ["team=team-b", "team=team%2Db", "team=team-a&team=team-b", "team=team-b&team=team-a", "team=", "team=TEAM-A"] {
                let answer = try await stack.get("/v1/usage/report?from=\(today)&to=\(today)&group_by=team&\(query)", headers: Self.bearer(keyA))
                #expect(answer.status == 403, "\(query)")
                #expect(errorCode(answer.body) == "team_not_allowed")
                #expect(!answer.body.contains("team-b") && !answer.body.contains("\"requests\""))
            }
            // Naming its own team is fine; B's key sees B only.
            let named = try json(try await stack.get("/v1/usage/report?from=\(today)&to=\(today)&team=team-a", headers: Self.bearer(keyA)).body)
            #expect((named["total"] as? [String: Any])?["requests"] as? Int == 2)
            let other = try await stack.waitForReport("/v1/usage/report?from=\(today)&to=\(today)", headers: Self.bearer(keyB), requests: 3)
            #expect((other["rows"] as? [[String: Any]])?.allSatisfy { $0["team"] as? String == "team-b" } == true)

            // Unknown and revoked keys get nothing.
            #expect(try await stack.get("/v1/usage/report", headers: Self.bearer("tg-unknownunknownunknown")).status == 401)
            #expect(try await stack.get("/v1/usage/report", headers: []).status == 401)
            let prefix = APIKeyGenerator.prefix(of: keyB)
            #expect(try await stack.send(.DELETE, "/admin/keys/\(prefix)").status == 200)
            #expect(try await stack.waitForStatus(401, key: keyB, within: .seconds(6)))
            #expect(try await stack.get("/v1/usage/report", headers: Self.bearer(keyB)).status == 401)
        }
    }

    @Test func malformedAdminRequestsAreRefusedWithTheirField() async throws {
        try await AdminStack.with("invalid") { stack in
            let cases: [(String, String, String?)] = [
                ("POST /admin/keys", "{not json", nil),
                ("POST /admin/keys", #"{"name":"no team"}"#, "team"),
                ("POST /admin/keys", #"{"team":"t","budjet":"5"}"#, "budjet"),
                ("POST /admin/keys", #"{"team":"t","budget":1.5}"#, "budget"),
                ("POST /admin/keys", #"{"team":"t","budget":"-1"}"#, "budget"),
                ("POST /admin/keys", #"{"team":"t","budget_period":"hourly"}"#, "budget_period"),
                ("POST /admin/keys", #"{"team":"t","rpm":true}"#, "rpm"),
                ("POST /admin/keys", #"{"team":"t","rpm":0}"#, "rpm"),
                ("POST /admin/keys", #"{"team":"t","models":"deepseek-v4-flash"}"#, "models"),
                ("POST /admin/keys", #"{"team":"t","expires_at":"soon"}"#, "expires_at"),
                ("POST /admin/keys", #"{"team":"t","currency":"EUR"}"#, "currency"),
                ("PUT /admin/teams/t", #"{"rpm":"fast"}"#, "rpm"),
                ("GET /admin/reports?from=2026-13-01", "", "from"),
                ("GET /admin/reports?from=2026-02-02&to=2026-02-01", "", "from"),
                ("GET /admin/reports?group_by=team,region", "", "group_by"),
                ("GET /admin/reports?teem=a", "", "teem"),
                ("GET /admin/keys?active=maybe", "", "active"),
            ]
            for (request, body, param) in cases {
                let parts = request.split(separator: " ")
                let answer = try await stack.send(HTTPMethod(rawValue: String(parts[0])), String(parts[1]), body: body.isEmpty ? nil : body)
                #expect(answer.status == 400, "\(request) \(body)")
                let error = try json(answer.body)["error"] as? [String: Any]
                #expect(error?["param"] as? String == param, "\(request) \(body)")
            }
            let patched = try await stack.send(.PATCH, "/admin/keys")
            #expect(patched.status == 405)
            #expect(patched.headers.first(name: "allow") == "GET, POST")
            #expect(try await stack.get("/admin/nothing").status == 404)
            // Nothing was created by the refused requests.
            #expect(try await stack.ledger.keyStore.list().isEmpty)
        }
    }

    @Test func theOpenAPIDocumentIsServedAndListsEveryRoute() async throws {
        let file = repositoryRoot.appendingPathComponent("Sources/TollgateServer/Admin/openapi-admin.json")
        let text = try String(contentsOf: file, encoding: .utf8)
        let document = try json(text)
        #expect((document["openapi"] as? String)?.hasPrefix("3.1.") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        for route in AdminAPI.routes {
            let item = paths[route.path] as? [String: Any]
            #expect(item?[route.method.rawValue.lowercased()] != nil, "\(route.method) \(route.path) is documented")
        }
        // Every documented operation is served, and every $ref resolves.
        let documented = paths.flatMap { path, item in
            ((item as? [String: Any]) ?? [:]).keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) \(path)" }
        }
        #expect(Set(documented) == Set(AdminAPI.routes.map { "\($0.method.rawValue) \($0.path)" }))
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        var refs: [String] = []
        var search = text[...]
        while let range = search.range(of: "\"#/components/schemas/") {
            let rest = search[range.upperBound...]
            refs.append(String(rest.prefix(while: { $0 != "\"" })))
            search = rest
        }
        #expect(!refs.isEmpty)
        for name in refs { #expect(schemas[name] != nil, "$ref \(name) resolves") }

        // Served byte for byte (by a gateway without a database: the document needs none).
        let engine = try await EngineSimulator.start(
            EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072, instant: true), host: "127.0.0.1", port: 0,
            group: MultiThreadedEventLoopGroup.singleton)
        let gateway = try await GatewayServer.start(
            configuration: try AdminStack.configuration(enginePort: engine.port, priceBook: false), adminToken: Self.adminToken,
            logger: AdminStack.logger)
        let client = TestClient()
        let served = try await client.send(.GET, "http://127.0.0.1:\(gateway.port)/admin/openapi.json", headers: Self.admin)
        #expect(served.status == 200)
        #expect(served.body == text)
        let noDatabase = try await client.send(.GET, "http://127.0.0.1:\(gateway.port)/admin/keys", headers: Self.admin)
        #expect(noDatabase.status == 404)
        #expect(errorCode(noDatabase.body) == "admin_api_needs_database")
        let noReports = try await client.send(.GET, "http://127.0.0.1:\(gateway.port)/v1/usage/report", headers: Self.admin)
        #expect(errorCode(noReports.body) == "usage_reports_unavailable")
        try await gateway.shutdown()
        try await engine.shutdown()
    }
}

/// A fresh migrated database, a ledger running its services, one simulated engine and a
/// ledger-backed gateway with the admin token, for one test.
struct AdminStack {
    static let logger: Logger = {
        var logger = Logger(label: "tollgate.admin.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TOLLGATE_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }()

    struct MissingDatabase: Error, CustomStringConvertible {
        var description: String {
            "TOLLGATE_TEST_DATABASE_URL is not set: start a server with "
                + "`export TOLLGATE_TEST_DATABASE_URL=$(scripts/pg-test-cluster.sh start)` and run the tests again"
        }
    }

    let ledger: Ledger
    let engine: EngineSimulator
    let gateway: GatewayServer
    let client = TestClient()

    var base: String { "http://127.0.0.1:\(gateway.port)" }

    /// The gateway configuration: one pool target on the engine, optionally the tiny test price book.
    static func configuration(enginePort: Int, priceBook: Bool = true) throws -> GatewayConfiguration {
        var yaml = """
            listen: {host: 127.0.0.1, port: 0}
            health: {interval_ms: 100}
            timeouts: {connect_ms: 500}
            targets:
              - name: flash-pool
                kind: pool
                engine: vllm
                models: [{deepseek-v4-flash: DeepSeek-V4-Flash}]
                max_model_len: 131072
                endpoints: [http://127.0.0.1:\(enginePort)/v1]

            """
        if priceBook {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-admin-prices-\(UUID().uuidString).yaml").path
            try PricingTests.book.write(toFile: path, atomically: true, encoding: .utf8)
            yaml += "pricing: {price_book: \(path)}\n"
        }
        return try GatewayConfiguration.parse(yaml, file: "<admin-test>")
    }

    /// Creates `tg_admin_<tag>_<random>`, migrates it, runs the ledger and a gateway, runs `body`,
    /// then stops everything and drops the database.
    static func with(_ tag: String, _ body: @Sendable (AdminStack) async throws -> Void) async throws {
        guard let text = ProcessInfo.processInfo.environment["TOLLGATE_TEST_DATABASE_URL"], !text.isEmpty else {
            Issue.record(Comment(rawValue: MissingDatabase().description))
            throw MissingDatabase()
        }
        let base = try DatabaseURL(text)
        let name = "tg_admin_\(tag)_\(UInt32.random(in: 0...UInt32.max))"
        try await withClient(base) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        do {
            try await run(base.with(database: name), databaseURL: text, tag: tag, body)
        } catch {
            try? await drop(name, base: base)
            throw error
        }
        try await drop(name, base: base)
    }

    /// WITH (FORCE) ends connections a failed test may have left behind.
    static func drop(_ name: String, base: DatabaseURL) async throws {
        try await withClient(base) { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger) }
    }

    private static func run(_ url: DatabaseURL, databaseURL text: String, tag: String, _ body: @Sendable (AdminStack) async throws -> Void) async throws {
        try await withClient(url) { client in
            try await Migrator(client: client, logger: logger).migrate()
        }
        var components = try #require(URLComponents(string: text))
        components.path = "/\(url.database)"
        let spool = NSTemporaryDirectory() + "tollgate-admin-spool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let ledger = try Ledger(
            databaseURL: try #require(components.string), configuration: Ledger.Configuration(spoolDirectory: spool, replicaID: "admin-\(tag)"),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: ledger.services, logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let engine = try await EngineSimulator.start(
                EngineSimConfiguration(model: "DeepSeek-V4-Flash", maxModelLen: 131_072, instant: true), host: "127.0.0.1", port: 0,
                group: MultiThreadedEventLoopGroup.singleton)
            var stack: AdminStack?
            do {
                let gateway = try await GatewayServer.start(
                    configuration: try configuration(enginePort: engine.port), ledger: ledger, adminToken: AdminAPITests.adminToken,
                    logger: logger)
                stack = AdminStack(ledger: ledger, engine: engine, gateway: gateway)
                try await body(stack!)
            } catch {
                try? await stack?.gateway.shutdown()
                try? await engine.shutdown()
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            try await stack?.gateway.shutdown()
            try await engine.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func withClient(_ url: DatabaseURL, _ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }

    /// Another gateway on the same ledger and engine (for a different admin token setting).
    func startGateway(adminToken: String?) async throws -> GatewayServer {
        try await GatewayServer.start(
            configuration: try Self.configuration(enginePort: engine.port), ledger: ledger, adminToken: adminToken, logger: Self.logger)
    }

    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = AdminAPITests.admin) async throws -> TestResponse {
        try await client.send(method, base + path, body: body, headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = AdminAPITests.admin) async throws -> TestResponse {
        try await send(.GET, path, headers: headers)
    }

    func chat(key: String, body: String = AdminAPITests.chatBody) async throws -> TestResponse {
        try await client.send(.POST, base + "/v1/chat/completions", body: body, headers: AdminAPITests.bearer(key))
    }

    /// Whether a chat request with `key` answers `status` before `limit` runs out.
    func waitForStatus(_ status: Int, key: String, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < deadline {
            if try await chat(key: key).status == status { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// The report at `path` once it counts `requests` (the usage writer works off the request path).
    func waitForReport(_ path: String, headers: [(String, String)], requests: Int) async throws -> [String: Any] {
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            let answer = try await get(path, headers: headers)
            #expect(answer.status == 200, "\(path): \(answer.body)")
            last = try json(answer.body)
            if (last["total"] as? [String: Any])?["requests"] as? Int == requests { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(path) never counted \(requests) requests: \(last)")
        return last
    }
}
