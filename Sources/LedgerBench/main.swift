// Measures the usage writer's sustained insert rate into a real PostgreSQL, and a report's
// latency. Driven by bench/ledger/run.sh; prints one line per measurement.
//
//   LedgerBench writer DATABASE_URL [ROWS]      records ROWS events as fast as possible
//   LedgerBench report DATABASE_URL FROM TO     times a report grouped by team, and the
//                                               count-accuracy report
//   LedgerBench partitions DATABASE_URL FROM N  creates N daily partitions from FROM
import Foundation
import Logging
import PostgresNIO
import TollgateLedger
import TollgateMoney

let arguments = CommandLine.arguments
guard arguments.count >= 3, let mode = Optional(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: LedgerBench writer|report DATABASE_URL ...\n".utf8))
    exit(2)
}
var logger = Logger(label: "tollgate.ledger.bench")
logger.logLevel = .warning
let url = try DatabaseURL(arguments[2])
let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 4), backgroundLogger: logger)

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await client.run() }
    defer { group.cancelAll() }
    try await Migrator(client: client, logger: logger).migrate()
    switch mode {
    case "writer":
        let rows = arguments.count > 3 ? Int(arguments[3]) ?? 200_000 : 200_000
        let team = try await KeyStore(client: client, logger: logger).ensureTeam(name: "bench")
        let spool = NSTemporaryDirectory() + "tollgate-ledger-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        var configuration = UsageWriter.Configuration(spoolDirectory: spool)
        configuration.queueCapacity = rows + 1
        let writer = try UsageWriter(client: client, configuration: configuration, logger: logger)
        let runID = UUID().uuidString.prefix(8)
        let now = Date()
        func event(_ index: Int) -> UsageEvent {
            let started: Date = now.addingTimeInterval(Double(index) / 1_000)
            let model: String = index % 2 == 0 ? "deepseek-v4-flash" : "deepseek-v4-pro"
            let target: String = index % 3 == 0 ? "deepseek-api" : "local"
            let cost = Money(nanos: 123_456 + Int64(index % 1000), currency: "USD")
            return UsageEvent(
                requestID: "bench-\(runID)-\(index)", startedAt: started, finishedAt: started.addingTimeInterval(0.5),
                teamID: team.id, keyID: 1, requestedModel: model, target: target, endpoint: "http://127.0.0.1:9000",
                policyRule: "cheapest", promptTokensEstimated: 812, promptCountExact: true, promptTokens: 809, cacheHitTokens: 128,
                completionTokens: 240, reasoningTokens: 0, cost: cost, priceBookVersion: "bench",
                listCost: Money(nanos: 345_678, currency: "USD"), latencyMs: 900, ttftMs: 120, statusCode: 200,
                errorCode: nil, stream: true, clientDisconnected: false, usageEstimated: false)
        }
        let events = (0..<rows).map(event)
        let started = ContinuousClock.now
        for event in events { writer.record(event) }
        await writer.flush()
        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let stats = writer.stats
        print(
            "writer: \(stats.written) rows in \(String(format: "%.2f", seconds)) s = "
                + "\(Int(Double(stats.written) / seconds)) rows/s (spooled \(stats.spooled))")
        if stats.written != rows { exit(1) }
    case "report":
        guard arguments.count >= 5, let from = LedgerDay(arguments[3]), let to = LedgerDay(arguments[4]) else {
            FileHandle.standardError.write(Data("usage: LedgerBench report DATABASE_URL FROM TO\n".utf8))
            exit(2)
        }
        let reports = Reports(client: client, logger: logger)
        for _ in 0..<3 {
            let started = ContinuousClock.now
            let report = try await reports.report(ReportQuery(from: from, to: to, groupBy: [.team]))
            let elapsed = started.duration(to: .now)
            print(
                "report: \(report.rows.count) teams, \(report.total.requests) requests, cost "
                    + "\(Money(nanos: report.total.costNanos, currency: report.currency)) in \(elapsed)")
        }
        // The count-accuracy report, from its own daily rollup.
        for _ in 0..<3 {
            let started = ContinuousClock.now
            let rows = try await reports.countAccuracy(ReportQuery(from: from, to: to))
            let elapsed = started.duration(to: .now)
            print("count accuracy: \(rows.count) rows, \(rows.reduce(0) { $0 + $1.requests }) requests compared in \(elapsed)")
        }
    case "partitions":
        guard arguments.count >= 5, let from = LedgerDay(arguments[3]), let days = Int(arguments[4]) else {
            FileHandle.standardError.write(Data("usage: LedgerBench partitions DATABASE_URL FROM DAYS\n".utf8))
            exit(2)
        }
        let start = ISO8601DateFormatter().date(from: "\(from)T00:00:00Z")!
        try await UsagePartitions.ensure(client: client, from: start, days: days, logger: logger)
    default:
        FileHandle.standardError.write(Data("unknown mode \(mode)\n".utf8))
        exit(2)
    }
}
