import Foundation
import PostgresNIO
import ServiceLifecycle
import Testing
import TollgateMoney

@testable import TollgateLedger

@Suite("Usage writer")
struct UsageWriterTests {
    @Test func writesBatchesWithEveryColumn() async throws {
        try await TestDatabase.with("writer") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "w")
            try await TestDatabase.withTemporaryDirectory { spool in
                var configuration = UsageWriter.Configuration(spoolDirectory: spool)
                configuration.batchSize = 100
                let writer = try UsageWriter(client: client, configuration: configuration, logger: TestDatabase.logger)
                let events = (0..<1_000).map { UsageFixtures.event($0, team: team.id, key: 7) }
                for event in events { writer.record(event) }
                #expect(writer.stats.queued == 1_000)
                await writer.flush()
                #expect(writer.stats.written == 1_000)
                #expect(writer.stats.spooled == 0)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 1_000)
                let costSum = events.reduce(Int64(0)) { $0 + $1.costNanos }
                #expect(try await TestDatabase.count(client, "SELECT sum(cost_nanos)::int8 FROM usage_events") == costSum)
                // Nullable columns round-trip as NULL, not as sentinels.
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE ttft_ms IS NULL") == 200)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE endpoint IS NULL") == 500)
                // Clients' ids are kept as sent, also when two clients chose the same.
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE client_request_id IS NULL") == 750)
                #expect(try await TestDatabase.count(client, "SELECT count(DISTINCT client_request_id) FROM usage_events") == 125)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE client_request_id = 'client-7'") == 2)
                // How the prompt was counted, as written: exactly, estimated, or not at all (NULL).
                let countings: [(String, Bool?)] = [("prompt_count_exact IS NULL", nil), ("prompt_count_exact", true), ("NOT prompt_count_exact", false)]
                for (sql, exact) in countings {
                    let written = Int64(events.filter { $0.promptCountExact == exact }.count)
                    #expect(written > 0)
                    #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE \(sql)") == written)
                }
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE error_code = 'upstream_error'") == Int64(events.filter { $0.statusCode == 502 }.count))
                // One event read back whole.
                let rows = try await client.query(
                    """
                    SELECT request_id, key_id, policy_rule, prompt_tokens_estimated, reasoning_tokens, stream,
                           client_disconnected, usage_estimated, started_at FROM usage_events WHERE request_id = 'req-57'
                    """, logger: TestDatabase.logger)
                for try await (id, key, rule, estimated, reasoning, stream, disconnected, usageEstimated, started) in rows.decode(
                    (String, Int64?, String?, Int, Int, Bool, Bool, Bool, Date).self)
                {
                    let expected = events[57]
                    #expect(id == expected.requestID)
                    #expect(key == 7)
                    #expect(rule == "cheap-first")
                    #expect(estimated == expected.promptTokensEstimated)
                    #expect(reasoning == expected.reasoningTokens)
                    #expect(stream == expected.stream)
                    #expect(disconnected == expected.clientDisconnected)
                    #expect(usageEstimated == expected.usageEstimated)
                    #expect(UsageEvent.microseconds(started) == UsageEvent.microseconds(expected.startedAt))
                }
                // Writing the same events again adds nothing, not even to the rollup.
                for event in events.prefix(300) { writer.record(event) }
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 1_000)
                #expect(try await TestDatabase.count(client, "SELECT sum(requests)::int8 FROM usage_daily") == 1_000)
                #expect(try await TestDatabase.count(client, "SELECT sum(cost_nanos)::int8 FROM usage_daily") == costSum)
            }
        }
    }

    @Test func eventsOutsideEveryPartitionLandInTheDefaultAndMoveLater() async throws {
        try await TestDatabase.with("partitions") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "p")
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                let farDay = Date(timeIntervalSince1970: 1_900_000_000)
                for index in 0..<10 { writer.record(UsageFixtures.event(index, team: team.id, day: farDay)) }
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events_default") == 10)
                try await UsagePartitions.ensure(client: client, from: farDay, days: 1, logger: TestDatabase.logger)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events_default") == 0)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 10)
                // Replays still deduplicate after the move.
                for index in 0..<10 { writer.record(UsageFixtures.event(index, team: team.id, day: farDay)) }
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 10)
            }
        }
    }

    /// PostgreSQL unreachable: everything goes to the spool; when it is back, the spool is
    /// replayed exactly once, and replaying the same file again changes nothing.
    @Test func spoolsWhileUnreachableAndReplaysIdempotently() async throws {
        try await TestDatabase.with("spool") { client, url in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "s")
            try await TestDatabase.withTemporaryDirectory { spool in
                let events = (0..<2_500).map { UsageFixtures.event($0, team: team.id, prefix: "outage") }
                // A closed port stands in for a stopped server.
                var dead = url
                dead.port = 1
                try await TestDatabase.withClient(dead) { deadClient in
                    var configuration = UsageWriter.Configuration(spoolDirectory: spool)
                    configuration.writeTimeout = .milliseconds(500)
                    configuration.queueCapacity = 1_000
                    let writer = try UsageWriter(client: deadClient, configuration: configuration, logger: TestDatabase.logger)
                    for event in events { writer.record(event) }
                    // 1,500 went straight to the spool because the queue was full.
                    #expect(writer.stats.spooled == 1_500)
                    await writer.drain()
                    #expect(writer.stats.spooled == 2_500)
                    #expect(writer.stats.written == 0)
                }
                let spooled = try FileManager.default.contentsOfDirectory(atPath: spool)
                #expect(!spooled.isEmpty)
                // Keep a copy to replay a second time.
                let copy = spool + "-copy"
                try FileManager.default.copyItem(atPath: spool, toPath: copy)
                defer { try? FileManager.default.removeItem(atPath: copy) }

                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                await writer.flush()
                #expect(writer.stats.replayed == 2_500)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 2_500)
                #expect(try FileManager.default.contentsOfDirectory(atPath: spool).allSatisfy { $0 == "usage-spool.jsonl" })

                let again = try UsageWriter(client: client, configuration: .init(spoolDirectory: copy), logger: TestDatabase.logger)
                await again.flush()
                #expect(again.stats.replayed == 2_500)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 2_500)
                #expect(try await TestDatabase.count(client, "SELECT sum(requests)::int8 FROM usage_daily") == 2_500)
                let expected = events.reduce(Int64(0)) { $0 + $1.costNanos }
                #expect(try await TestDatabase.count(client, "SELECT sum(cost_nanos)::int8 FROM usage_events") == expected)
            }
        }
    }

    /// Two requests that a client (or two) sent with one `x-request-id`, started in the same
    /// microsecond, are two rows: the ledger's key is the gateway's own id.
    @Test func requestsSentWithOneClientIDInTheSameMicrosecondAreTwoRows() async throws {
        try await TestDatabase.with("clientids") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "c")
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                var first = UsageFixtures.event(1, team: team.id)
                var second = UsageFixtures.event(2, team: team.id)
                second.startedAt = first.startedAt
                first.clientRequestID = "retry-me"
                second.clientRequestID = "retry-me"
                writer.record(first)
                writer.record(second)
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE client_request_id = 'retry-me'") == 2)
                #expect(try await TestDatabase.count(client, "SELECT sum(requests)::int8 FROM usage_daily") == 2)
            }
        }
    }

    /// A spool line cut short by a crash is skipped; the lines before it are replayed.
    @Test func aTruncatedSpoolLineIsSkipped() async throws {
        try await TestDatabase.with("truncated") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "t")
            try await TestDatabase.withTemporaryDirectory { spool in
                let file = UsageSpool.encoder()
                var data = Data()
                for index in 0..<3 {
                    data.append(try file.encode(UsageFixtures.event(index, team: team.id)))
                    data.append(0x0A)
                }
                data.append(Data("{\"requestID\":\"cut".utf8))
                try data.write(to: URL(fileURLWithPath: spool + "/usage-spool.jsonl"))
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 3)
            }
        }
    }

    /// A spool written by a build before `prompt_count_exact` replays, with that column NULL.
    @Test func aSpoolLineFromAnEarlierBuildReplays() async throws {
        try await TestDatabase.with("olderspool") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "t")
            try await TestDatabase.withTemporaryDirectory { spool in
                let current = UsageFixtures.event(1, team: team.id)
                var older = try #require(try JSONSerialization.jsonObject(with: UsageSpool.encoder().encode(UsageFixtures.event(2, team: team.id))) as? [String: Any])
                #expect(older.removeValue(forKey: "promptCountExact") as? Bool == true)
                // Nor did those builds know the client's id (event 2 has none, so the key is absent).
                #expect(older["clientRequestID"] == nil)
                var data = try UsageSpool.encoder().encode(current)
                data.append(0x0A)
                data.append(try JSONSerialization.data(withJSONObject: older))
                data.append(0x0A)
                try data.write(to: URL(fileURLWithPath: spool + "/usage-spool.jsonl"))
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE request_id = 'req-1' AND prompt_count_exact") == 1)
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events WHERE request_id = 'req-2' AND prompt_count_exact IS NULL") == 1)
            }
        }
    }

    /// The service: events recorded while it runs are written; graceful shutdown drains.
    @Test func serviceDrainsOnShutdown() async throws {
        try await TestDatabase.with("service") { client, _ in
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "svc")
            try await TestDatabase.withTemporaryDirectory { spool in
                let writer = try UsageWriter(client: client, configuration: .init(spoolDirectory: spool), logger: TestDatabase.logger)
                let group = ServiceGroup(configuration: .init(services: [writer], logger: TestDatabase.logger))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    for index in 0..<5_000 { writer.record(UsageFixtures.event(index, team: team.id, prefix: "svc")) }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                // Drained to the database, not spooled.
                #expect(writer.stats.written == 5_000)
                #expect(writer.stats.written + writer.stats.spooled == 5_000)
                await writer.flush()
                #expect(try await TestDatabase.count(client, "SELECT count(*) FROM usage_events") == 5_000)
            }
        }
    }
}
