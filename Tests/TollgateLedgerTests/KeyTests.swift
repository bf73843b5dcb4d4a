import Foundation
import PostgresNIO
import Testing
import TollgateMoney

@testable import TollgateLedger

@Suite("Keys")
struct KeyTests {
    @Test func generatedKeysHaveTheSchemeAndFixedLength() {
        let keys = (0..<50).map { _ in APIKeyGenerator.generate() }
        #expect(Set(keys).count == 50)
        for key in keys {
            #expect(key.hasPrefix("tg-"))
            #expect(key.count == 46)
            #expect(key.dropFirst(3).allSatisfy { $0.isLetter || $0.isNumber })
        }
        #expect(APIKeyGenerator.base62([UInt8](repeating: 0, count: 32)) == String(repeating: "0", count: 43))
        let digest = KeyDigest(plaintext: keys[0])
        #expect(KeyDigest(rawBytes: digest.bytes) == digest)
        #expect(KeyDigest(plaintext: keys[1]) != digest)
    }

    @Test func createStoresOnlyTheHashAndLooksUp() async throws {
        try await TestDatabase.with("keys") { client, _ in
            let store = KeyStore(client: client, logger: TestDatabase.logger)
            let created = try await store.create(
                NewKey(
                    team: "search", budget: Money(decimal: "50", currency: "USD"), budgetPeriod: .monthly,
                    requestsPerMinute: 60, tokensPerMinute: 100_000, models: ["deepseek-v4-flash"]))
            #expect(created.record.prefix == String(created.plaintext.prefix(11)))
            #expect(created.record.budgetNanos == 50_000_000_000)
            // The plaintext is nowhere in the database.
            let leaks = try await client.query(
                "SELECT count(*)::int8 FROM api_keys WHERE key_hash = convert_to(\(created.plaintext), 'UTF8') OR prefix = \(created.plaintext)",
                logger: TestDatabase.logger)
            for try await count in leaks.decode(Int64.self) { #expect(count == 0) }

            let directory = KeyDirectory(client: client, logger: TestDatabase.logger)
            // Created after nothing was loaded: found on the first request through a miss.
            guard case .valid(let key) = await directory.authenticate(bearer: created.plaintext) else {
                Issue.record("a fresh key was not accepted")
                return
            }
            #expect(key.teamName == "search")
            #expect(key.keyLimits.requestsPerMinute == 60)
            #expect(key.keyLimits.budget == Money(decimal: "50", currency: "USD"))
            #expect(key.allows(model: "deepseek-v4-flash"))
            #expect(!key.allows(model: "deepseek-v4-pro"))
            // Now answered from memory.
            #expect(directory.cached(KeyDigest(plaintext: created.plaintext)) == .valid(key))

            let listed = try await store.list(team: "search")
            #expect(listed.map(\.prefix) == [created.record.prefix])
            #expect(await directory.authenticate(bearer: "tg-not-a-real-key") == .invalid(.unknown))
            #expect(await directory.authenticate(bearer: "sk-other-scheme") == .invalid(.unknown))
        }
    }

    @Test func revocationReachesTheCacheOnRefresh() async throws {
        try await TestDatabase.with("revoke") { client, _ in
            let store = KeyStore(client: client, logger: TestDatabase.logger)
            let keep = try await store.create(NewKey(team: "a"))
            let drop = try await store.create(NewKey(team: "a"))
            let directory = KeyDirectory(client: client, logger: TestDatabase.logger)
            try await directory.refresh()
            #expect(directory.count == 2)
            #expect(directory.cached(KeyDigest(plaintext: drop.plaintext)).map(isValid) == true)

            try await store.revoke(prefix: drop.record.prefix)
            // Still cached until the refresh: the window is the refresh interval.
            #expect(directory.cached(KeyDigest(plaintext: drop.plaintext)).map(isValid) == true)
            try await directory.refresh()
            #expect(directory.cached(KeyDigest(plaintext: drop.plaintext)) == .invalid(.revoked))
            #expect(directory.cached(KeyDigest(plaintext: keep.plaintext)).map(isValid) == true)
            #expect(directory.count == 1)

            // Limits changes arrive the same way.
            try await store.update(prefix: keep.record.prefix, LimitsUpdate(requestsPerMinute: .some(7)))
            try await directory.refresh()
            guard case .valid(let key)? = directory.cached(KeyDigest(plaintext: keep.plaintext)) else {
                Issue.record("kept key missing")
                return
            }
            #expect(key.keyLimits.requestsPerMinute == 7)
            try await store.setTeamLimits(team: "a", LimitsUpdate(budgetNanos: .some(5_000_000_000), budgetPeriod: .daily))
            try await directory.refresh()
            guard case .valid(let updated)? = directory.cached(KeyDigest(plaintext: keep.plaintext)) else {
                Issue.record("kept key missing")
                return
            }
            #expect(updated.teamLimits.budget?.nanos == 5_000_000_000)
            #expect(updated.teamLimits.budgetPeriod == .daily)
        }
    }

    @Test func expiredKeysAreRefused() async throws {
        try await TestDatabase.with("expiry") { client, _ in
            let store = KeyStore(client: client, logger: TestDatabase.logger)
            let old = try await store.create(NewKey(team: "b", expiresAt: Date().addingTimeInterval(-60)))
            let directory = KeyDirectory(client: client, logger: TestDatabase.logger)
            #expect(await directory.authenticate(bearer: old.plaintext) == .invalid(.expired))
        }
    }

    @Test func unknownKeysAreCachedBrieflyAndThenSeen() async throws {
        try await TestDatabase.with("negative") { client, _ in
            var configuration = KeyDirectory.Configuration()
            configuration.negativeTTL = .seconds(2)
            let directory = KeyDirectory(client: client, configuration: configuration, logger: TestDatabase.logger)
            let plaintext = APIKeyGenerator.generate()
            let digest = KeyDigest(plaintext: plaintext)
            #expect(directory.cached(digest) == nil)
            #expect(await directory.authenticate(digest: digest) == .invalid(.unknown))
            // Answered from memory now, without a query.
            #expect(directory.cached(digest) == .invalid(.unknown))
            // Insert that exact key behind the directory's back; the negative entry hides it until it expires.
            let team = try await KeyStore(client: client, logger: TestDatabase.logger).ensureTeam(name: "late")
            let hash = ByteBuffer(bytes: digest.bytes)
            try await client.query(
                "INSERT INTO api_keys (key_hash, prefix, team_id) VALUES (\(hash), \(APIKeyGenerator.prefix(of: plaintext)), \(team.id))",
                logger: TestDatabase.logger)
            #expect(await directory.authenticate(digest: digest) == .invalid(.unknown))
            try await Task.sleep(for: .milliseconds(2_100))
            #expect(directory.cached(digest) == nil)
            #expect(await directory.authenticate(digest: digest).map(isValid) == true)
        }
    }

    @Test func knownKeysKeepWorkingWhenTheDatabaseIsGone() async throws {
        let base = try TestDatabase.baseURL()
        let name = "tg_outage_\(UInt32.random(in: 0...UInt32.max))"
        try await TestDatabase.admin(base) {
            try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestDatabase.logger)
        }
        let url = base.with(database: name)
        try await TestDatabase.withClient(url) { client in
            try await Migrator(client: client, logger: TestDatabase.logger).migrate()
            let created = try await KeyStore(client: client, logger: TestDatabase.logger).create(NewKey(team: "c"))
            var configuration = KeyDirectory.Configuration()
            configuration.lookupTimeout = .seconds(1)
            let directory = KeyDirectory(client: client, configuration: configuration, logger: TestDatabase.logger)
            try await directory.refresh()
            // The database disappears (connections are killed; reconnects fail).
            try await TestDatabase.drop(name, base: base)
            await #expect(throws: (any Error).self) { try await directory.refresh() }
            #expect(await directory.authenticate(bearer: created.plaintext).map(isValid) == true)
            let started = ContinuousClock.now
            #expect(await directory.authenticate(bearer: APIKeyGenerator.generate()) == .unavailable)
            #expect(started.duration(to: .now) < .seconds(3))
        }
    }
}

func isValid(_ answer: KeyAuthentication) -> Bool {
    if case .valid = answer { return true }
    return false
}

extension KeyAuthentication {
    func map<T>(_ transform: (KeyAuthentication) -> T) -> T { transform(self) }
}
