import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TollgateConfig
import TollgateHTTP
import TollgateLedger
import TollgateMoney
import TollgateTokenizer
import TollgateWire

/// The admin API (`/admin/...`, guarded by `TOLLGATE_ADMIN_TOKEN`) and the team usage report
/// (`/v1/usage/report`, a team key reading its own team's spend). See docs/ADMIN_API.md and
/// Sources/TollgateServer/Admin/openapi-admin.json.
///
/// Neither is on the inference hot path: the gateway's handler reaches this type only for these
/// paths. Database work runs in a `Task`; answers go back on the connection's event loop.
struct AdminAPI: Sendable {
    /// Nil when `TOLLGATE_ADMIN_TOKEN` is not set: every `/admin` path answers 404 `admin_api_disabled`.
    let token: AdminToken?
    /// Nil when the gateway runs without a database.
    let ledger: LedgerAdmission?
    /// The price book in force and its reload; nil without a price book.
    let pricing: CurrentPricer?
    /// This process's request counters (`/admin/metrics`).
    let metrics: GatewayMetrics
    let logger: Logger

    /// The price book's currency, in which budgets are kept (a reload cannot change it).
    var currency: String { pricing?.pricer.currency ?? "USD" }
    /// The pricer's table of repeated texts, whose counters `/admin/stats` reports; nil without one.
    var repeatedTexts: RepeatedTextCounts? { pricing?.pricer.repeatedTexts }

    /// Every route this type serves (method, OpenAPI path template); the OpenAPI test checks the
    /// published document lists each one.
    static let routes: [(method: HTTPMethod, path: String)] = [
        (.POST, "/admin/keys"), (.GET, "/admin/keys"), (.GET, "/admin/keys/{key}"), (.DELETE, "/admin/keys/{key}"),
        (.POST, "/admin/keys/{key}/revoke"), (.GET, "/admin/teams/{team}"), (.PUT, "/admin/teams/{team}"),
        (.GET, "/admin/reports"), (.GET, "/admin/count-accuracy"), (.GET, "/admin/stats"), (.GET, "/admin/metrics"), (.GET, "/admin/price-book"), (.POST, "/admin/price-book/reload"),
        (.GET, "/admin/openapi.json"), (.GET, "/v1/usage/report"),
    ]

    /// A successful answer: status and JSON body.
    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var body: [UInt8]
        var noStore = false
    }

    // MARK: /admin

    /// Serves every path under `/admin`.
    func handleAdmin(_ request: HTTPInboundRequest, path: String, requestID: String, responder: HTTPResponder) {
        guard let token else { return fail(.adminAPIDisabled, requestID, responder) }
        // Only the admin token opens these routes; a team key is never looked up here.
        guard let presented = Self.bearer(request.head), token.matches(presented) else {
            return fail(.invalidAdminToken, requestID, responder)
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).map { QueryParameters.decode($0) }
        let method = request.head.method
        if segments == ["openapi.json"] {
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            return send(Reply(status: .ok, body: AdminOpenAPI.document), requestID, responder)
        }
        if segments == ["stats"] {
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            return send(Reply(status: .ok, body: AdminJSON.bytes(stats), noStore: true), requestID, responder)
        }
        if segments == ["metrics"] {
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            let text = metrics.exposition(currency: pricing?.pricer.currency)
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "x-request-id", value: requestID)
            headers.add(name: "cache-control", value: "no-store")
            return responder.send(status: .ok, headers: headers, body: ByteBuffer(string: text))
        }
        if segments.first == "price-book" {
            return handlePriceBook(segments, method: method, requestID: requestID, responder: responder)
        }
        guard let ledger else { return fail(.adminNeedsDatabase, requestID, responder) }
        let query = QueryParameters(uri: request.head.uri)
        let body = request.body
        let store = ledger.ledger.keyStore
        let currency = self.currency

        switch (segments.first, segments.count) {
        case ("keys", 1):
            switch method {
            case .POST:
                run(requestID, responder) { try await Self.createKey(body, store: store, currency: currency) }
            case .GET:
                run(requestID, responder) { try await Self.listKeys(query, store: store) }
            default: fail(.methodNotAllowed(method.rawValue, allowed: "GET, POST"), requestID, responder)
            }
        case ("keys", 2):
            let identifier = segments[1]
            switch method {
            case .GET:
                run(requestID, responder) {
                    let record = try await Self.findKey(identifier, store: store)
                    return Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.key(record)))
                }
            case .DELETE:
                run(requestID, responder) { try await Self.revoke(identifier, store: store) }
            default: fail(.methodNotAllowed(method.rawValue, allowed: "GET, DELETE"), requestID, responder)
            }
        case ("keys", 3) where segments[2] == "revoke":
            guard method == .POST else { return fail(.methodNotAllowed(method.rawValue, allowed: "POST"), requestID, responder) }
            let identifier = segments[1]
            run(requestID, responder) { try await Self.revoke(identifier, store: store) }
        case ("teams", 2) where !segments[1].isEmpty:
            let team = segments[1]
            switch method {
            case .GET:
                run(requestID, responder) {
                    guard let record = try await store.team(named: team) else { throw GatewayError.adminNotFound("No team named '\(team.prefix(200))'.") }
                    return Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.team(record)))
                }
            case .PUT:
                run(requestID, responder) { try await Self.setTeam(team, body, store: store, currency: currency) }
            default: fail(.methodNotAllowed(method.rawValue, allowed: "GET, PUT"), requestID, responder)
            }
        case ("reports", 1):
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            do throws(GatewayError) {
                let reportQuery = try Self.reportQuery(query, allowed: ["from", "to", "team", "group_by"], team: try query.single("team"))
                let reports = ledger.ledger.reports
                run(requestID, responder) { try await Self.report(reportQuery, reports: reports, currency: currency) }
            } catch {
                fail(error, requestID, responder)
            }
        case ("count-accuracy", 1):
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            do throws(GatewayError) {
                let accuracyQuery = try Self.reportQuery(query, allowed: ["from", "to", "team"], team: try query.single("team"))
                let reports = ledger.ledger.reports
                run(requestID, responder) {
                    Reply(status: .ok, body: Array(try await reports.countAccuracy(accuracyQuery).rendered(as: .json).utf8))
                }
            } catch {
                fail(error, requestID, responder)
            }
        default:
            fail(.notFound, requestID, responder)
        }
    }

    /// `GET /admin/price-book` (the book in force) and `POST /admin/price-book/reload`. Each
    /// replica answers for itself; a reload reads the file off the event loop.
    private func handlePriceBook(_ segments: [String], method: HTTPMethod, requestID: String, responder: HTTPResponder) {
        switch segments {
        case ["price-book"]:
            guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
            guard let pricing else { return fail(.noPriceBook, requestID, responder) }
            send(Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.priceBook(pricing.inForce)), noStore: true), requestID, responder)
        case ["price-book", "reload"]:
            guard method == .POST else { return fail(.methodNotAllowed(method.rawValue, allowed: "POST"), requestID, responder) }
            guard let pricing else { return fail(.noPriceBook, requestID, responder) }
            run(requestID, responder) {
                do {
                    return Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.priceBook(try pricing.reload())), noStore: true)
                } catch let error as ConfigError {
                    throw GatewayError.invalidPriceBook(error)
                }
            }
        default:
            fail(.notFound, requestID, responder)
        }
    }

    /// This process's counters (`GET /admin/stats`).
    private var stats: [String: Any] {
        let table: Any = repeatedTexts.map { table in
            let (hits, misses) = table.lookups
            let renderings = table.renderingLookups
            return [
                "slots": table.slots, "minimum_bytes": table.minimumBytes, "hits": hits, "misses": misses,
                "renderings": [
                    "kept": table.renderingsKept, "capacity": table.renderingCapacity,
                    "hits": renderings.hits, "misses": renderings.misses,
                ],
            ]
        } ?? NSNull()
        return ["object": "stats", "repeated_texts": table]
    }

    // MARK: /v1/usage/report

    /// A team key's own spend. The team filter always comes from the key; a `team` parameter
    /// naming any other team is refused with 403 before the database is asked anything.
    func handleUsageReport(_ request: HTTPInboundRequest, requestID: String, responder: HTTPResponder) {
        let method = request.head.method
        guard method == .GET else { return fail(.methodNotAllowed(method.rawValue, allowed: "GET"), requestID, responder) }
        guard let ledger else { return fail(.usageReportsNeedDatabase, requestID, responder) }
        guard let key = Self.bearer(request.head) else { return fail(.invalidAPIKey, requestID, responder) }
        let query = QueryParameters(uri: request.head.uri)
        let reports = ledger.ledger.reports
        let currency = self.currency
        ledger.resolve(bearer: key, on: responder.eventLoop) { [self] resolved in
            let caller: Caller
            switch resolved {
            case .success(let found): caller = found
            case .failure(let error): return fail(error, requestID, responder)
            }
            do throws(GatewayError) {
                // Every `team` value (repeats included) must name the caller's own team.
                guard query.all("team").allSatisfy({ $0 == caller.team }) else { throw .otherTeamsReport }
                let reportQuery = try Self.reportQuery(query, allowed: ["from", "to", "team", "group_by"], team: caller.team)
                run(requestID, responder) { try await Self.report(reportQuery, reports: reports, currency: currency) }
            } catch {
                fail(error, requestID, responder)
            }
        }
    }

    // MARK: operations (off the event loop)

    static let createFields: Set<String> = ["team", "name", "budget", "budget_period", "currency", "rpm", "tpm", "models", "expires_at"]

    static func createKey(_ body: ByteBuffer, store: KeyStore, currency: String) async throws -> Reply {
        let fields = AdminFields(object: try AdminJSON.object(body))
        try fields.allowOnly(createFields)
        guard let team = try fields.string("team"), !team.isEmpty else { throw GatewayError.invalidRequest("'team' is required.", param: "team") }
        try checkCurrency(fields, currency)
        let spec = NewKey(
            team: team, name: try fields.string("name"), budget: try fields.money("budget", currency: currency),
            budgetPeriod: try fields.period("budget_period") ?? .total, requestsPerMinute: try fields.positiveInt("rpm"),
            tokensPerMinute: try fields.positiveInt("tpm"), models: try fields.strings("models") ?? [],
            expiresAt: try fields.date("expires_at"))
        let created = try await store.create(spec)
        var object = AdminJSON.key(created.record)
        // The only time the secret leaves the gateway; it is stored as a hash.
        object["key"] = created.plaintext
        return Reply(status: .created, body: AdminJSON.bytes(object), noStore: true)
    }

    static func listKeys(_ query: QueryParameters, store: KeyStore) async throws -> Reply {
        if let unknown = query.names.subtracting(["team", "active"]).sorted().first {
            throw GatewayError.invalidRequest("Unknown query parameter '\(unknown.prefix(64))'.", param: String(unknown.prefix(64)))
        }
        let team = try query.single("team")
        let activeOnly: Bool
        switch try query.single("active") {
        case nil, "false": activeOnly = false
        case "true": activeOnly = true
        default: throw GatewayError.invalidRequest("'active' is true or false.", param: "active")
        }
        let keys = try await store.list(team: team, includeRevoked: !activeOnly)
        let now = Date()
        return Reply(status: .ok, body: AdminJSON.bytes(["object": "list", "data": keys.map { AdminJSON.key($0, now: now) }]))
    }

    /// A key by its numeric id or by its prefix (`tg-` and 8 characters; a longer string is cut to its prefix).
    static func findKey(_ identifier: String, store: KeyStore) async throws -> KeyRecord {
        if let id = Int64(identifier) {
            if let record = try await store.list().first(where: { $0.id == id }) { return record }
        } else if identifier.hasPrefix(APIKeyGenerator.scheme), identifier.count >= APIKeyGenerator.prefixLength {
            if let record = try await store.key(prefix: APIKeyGenerator.prefix(of: identifier)) { return record }
        }
        throw GatewayError.adminNotFound("No key with id or prefix '\(identifier.prefix(APIKeyGenerator.prefixLength))'.")
    }

    static func revoke(_ identifier: String, store: KeyStore) async throws -> Reply {
        let record = try await findKey(identifier, store: store)
        let revoked = try await store.revoke(prefix: record.prefix)
        return Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.key(revoked)))
    }

    static func setTeam(_ team: String, _ body: ByteBuffer, store: KeyStore, currency: String) async throws -> Reply {
        let fields = AdminFields(object: try AdminJSON.object(body))
        try fields.allowOnly(["budget", "budget_period", "currency", "rpm", "tpm"])
        try checkCurrency(fields, currency)
        var change = LimitsUpdate(currency: currency)
        // Absent keeps a limit, null removes it, a value sets it.
        if fields.has("budget") { change.budgetNanos = .some(try fields.money("budget", currency: currency)?.nanos) }
        change.budgetPeriod = try fields.period("budget_period")
        if fields.has("rpm") { change.requestsPerMinute = .some(try fields.positiveInt("rpm")) }
        if fields.has("tpm") { change.tokensPerMinute = .some(try fields.positiveInt("tpm")) }
        let record = try await store.setTeamLimits(team: team, change)
        return Reply(status: .ok, body: AdminJSON.bytes(AdminJSON.team(record)))
    }

    /// Budgets are kept in the price book's currency; another one is refused rather than converted.
    static func checkCurrency(_ fields: AdminFields, _ currency: String) throws(GatewayError) {
        if let given = try fields.string("currency"), given != currency {
            throw .invalidRequest("Budgets are kept in the price book's currency, \(currency).", param: "currency")
        }
    }

    /// The report in exactly the JSON of `tollgate report --format json` (the same formatter).
    static func report(_ query: ReportQuery, reports: Reports, currency: String) async throws -> Reply {
        var reports = reports
        reports.defaultCurrency = currency
        let report = try await reports.report(query)
        return Reply(status: .ok, body: Array(report.rendered(as: .json).utf8))
    }

    /// `from` and `to` (UTC days, inclusive; default: this month so far) and `group_by`.
    static func reportQuery(_ query: QueryParameters, allowed: Set<String>, team: String?) throws(GatewayError) -> ReportQuery {
        if let unknown = query.names.subtracting(allowed).sorted().first {
            throw .invalidRequest("Unknown query parameter '\(unknown.prefix(64))'.", param: String(unknown.prefix(64)))
        }
        let today = LedgerDay(Date())
        func day(_ name: String, _ fallback: LedgerDay) throws(GatewayError) -> LedgerDay {
            guard let text = try query.single(name) else { return fallback }
            guard let day = LedgerDay(text), text.count == 10 else { throw .invalidRequest("'\(name)' must be a day, YYYY-MM-DD.", param: name) }
            return day
        }
        let to = try day("to", today)
        let from = try day("from", LedgerDay(String(to.description.prefix(8)) + "01")!)
        guard from <= to else { throw .invalidRequest("'from' is after 'to'.", param: "from") }
        var dimensions: [ReportDimension] = []
        for part in (try query.single("group_by") ?? "team").split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let dimension = ReportDimension(rawValue: name) else {
                throw .invalidRequest("'group_by' takes team, model, target and day, comma-separated.", param: "group_by")
            }
            if !dimensions.contains(dimension) { dimensions.append(dimension) }
        }
        return ReportQuery(from: from, to: to, team: team, groupBy: dimensions)
    }

    // MARK: plumbing

    static func bearer(_ head: HTTPRequestHead) -> Substring? {
        guard let header = head.headers.first(name: "authorization") else { return nil }
        let value = Substring(header)
        guard value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).drop(while: { $0 == " " })
        return token.isEmpty ? nil : token
    }

    /// Runs `work` off the event loop and answers on it.
    private func run(_ requestID: String, _ responder: HTTPResponder, _ work: @escaping @Sendable () async throws -> Reply) {
        let loop = responder.eventLoop
        let bound = NIOLoopBound(responder, eventLoop: loop)
        let logger = self.logger
        Task {
            let outcome: Result<Reply, GatewayError>
            do {
                outcome = .success(try await work())
            } catch {
                let mapped = GatewayError.admin(error)
                if mapped.status >= 500 {
                    logger.error("admin request failed", metadata: ["tollgate.request_id": "\(requestID)", "tollgate.error": "\(error)"])
                }
                outcome = .failure(mapped)
            }
            loop.execute {
                switch outcome {
                case .success(let reply): send(reply, requestID, bound.value)
                case .failure(let error): fail(error, requestID, bound.value)
                }
            }
        }
    }

    private func send(_ reply: Reply, _ requestID: String, _ responder: HTTPResponder) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "x-request-id", value: requestID)
        if reply.noStore { headers.add(name: "cache-control", value: "no-store") }
        var buffer = responder.allocator.buffer(capacity: reply.body.count)
        buffer.writeBytes(reply.body)
        responder.send(status: reply.status, headers: headers, body: buffer)
    }

    private func fail(_ error: GatewayError, _ requestID: String, _ responder: HTTPResponder) {
        GatewayHandler.sendError(error, requestID: requestID, target: nil, responder: responder)
    }
}
