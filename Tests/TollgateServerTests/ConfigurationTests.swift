import Foundation
import Testing
import TollgateTestSupport
import TollgateConfig
import TollgateRouting
import TollgateServer

@Suite struct ConfigurationTests {
    let valid = """
        listen: {host: 127.0.0.1, port: 9000}
        teams:
          - name: a
            key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        targets:
          - name: flash
            kind: pool
            engine: vllm
            models: [deepseek-v4-flash, {deepseek-v4-pro: DeepSeek-V4-Pro}]
            endpoints: [http://127.0.0.1:8000/v1, "http://[::1]:8001/v1"]
          - name: api
            kind: upstream
            base_url: https://api.deepseek.com
            api_key_env: TEST_KEY
            models: [deepseek-v4-flash]
        """

    @Test func readsAValidFile() throws {
        let config = try GatewayConfiguration.parse(valid, file: "t.yaml", environment: ["TEST_KEY": "sk-x"])
        #expect(config.port == 9000)
        #expect(config.targets.map(\.name) == ["flash", "api"])
        #expect(config.targets[0].models == ["deepseek-v4-flash": "deepseek-v4-flash", "deepseek-v4-pro": "DeepSeek-V4-Pro"])
        #expect(config.targets[0].endpoints.map(\.origin.port) == [8000, 8001])
        #expect(config.targets[0].endpoints[1].origin.host == "::1")
        #expect(config.targets[1].endpoints[0].origin.tls)
        #expect(config.targets[1].upstreamAPIKey == "sk-x")
        // Whatever prints the configuration (a library logging its services at debug level) never
        // prints the upstream key.
        for printed in [String(describing: config), String(reflecting: config), "\(config.targets)", "\(config.targets[1])"] {
            #expect(!printed.contains("sk-x"), "\(printed)")
        }
        let dumped = Mirror(reflecting: config.targets[1]).children.first { $0.label == "upstreamAPIKey" }?.value
        #expect(dumped as? String == "<redacted>")
        #expect(config.teams.first?.team == "a")
        #expect(config.repeatedTextSlots == 16_384)
        let sized = try GatewayConfiguration.parse(
            valid + "\npricing: {price_book: p.yaml, repeated_text_slots: 0}", file: "t.yaml", environment: ["TEST_KEY": "sk-x"])
        #expect(sized.repeatedTextSlots == 0)
        #expect(sized.priceBookWatchMs == nil)
        let watched = try GatewayConfiguration.parse(
            valid + "\npricing: {price_book: p.yaml, watch_ms: 5000}", file: "t.yaml", environment: ["TEST_KEY": "sk-x"])
        #expect(watched.priceBookWatchMs == 5000)
    }

    @Test func theShippedExampleLoads() throws {
        let root = repositoryRoot
        let config = try GatewayConfiguration.load(
            path: root.appendingPathComponent("tollgate.example.yaml").path, environment: ["DEEPSEEK_API_KEY": "sk-test"])
        #expect(config.targets.count == 3)
        // Its price book prices every model each of its targets serves.
        let book = try #require(try config.loadPriceBook())
        #expect(book.file == root.appendingPathComponent("policies/prices.yaml").path)
    }

    @Test func anUnreadableFileSaysWhyAndWhereItWasLookedFor() throws {
        func reason(_ path: String) -> String? {
            do {
                _ = try GatewayConfiguration.load(path: path, environment: [:])
                return nil
            } catch let error as ConfigError {
                #expect(error.file == path)
                return error.reason
            } catch {
                return nil
            }
        }
        let missing = reason("no-such-tollgate-config.yaml")
        #expect(missing?.contains("No such file or directory") == true)
        #expect(missing?.contains("looked up from \(FileManager.default.currentDirectoryPath)") == true)
        let folder = FileManager.default.temporaryDirectory.path
        #expect(reason(folder) == "cannot read the file: it is a folder")
    }

    @Test func aFileThatIsNotUTF8NamesTheLineOfItsFirstBadByte() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-latin1-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // "café" in Latin-1 on line 3, after a line of valid multibyte UTF-8.
        var bytes = Array("targets:\n  # prix: 2 €\n  # caf".utf8)
        bytes += [0xE9] + Array("\n  - name: x\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        #expect(throws: ConfigError(file: path, line: 3, reason: "the file is not UTF-8 text")) {
            _ = try GatewayConfiguration.load(path: path, environment: [:])
        }
    }

    @Test func errorsNameFileLineAndReason() {
        func error(_ yaml: String, env: [String: String] = ["TEST_KEY": "k"]) -> ConfigError? {
            do {
                _ = try GatewayConfiguration.parse(yaml, file: "bad.yaml", environment: env)
                return nil
            } catch let error as ConfigError {
                return error
            } catch {
                return nil
            }
        }
        let typo = error(valid.replacingOccurrences(of: "    engine: vllm", with: "    engin: vllm"))
        #expect(typo?.file == "bad.yaml")
        #expect(typo?.line == 8)
        #expect(typo?.reason.contains("unknown key 'engin'") == true)

        let badURL = error(valid.replacingOccurrences(of: "http://127.0.0.1:8000/v1", with: "127.0.0.1:8000"))
        #expect(badURL?.line == 10)
        #expect(badURL?.reason.contains("is not an http:// or https:// URL") == true)

        let missingEnv = error(valid, env: [:])
        #expect(missingEnv?.line == 14)
        #expect(missingEnv?.reason.contains("TEST_KEY is not set") == true)

        let badHash = error(valid.replacingOccurrences(of: "9f86d081", with: "zz"))
        #expect(badHash?.line == 4)

        let yamlSyntax = error("targets: [\n  - name: x\n")
        #expect(yamlSyntax?.reason.hasPrefix("invalid YAML") == true)
        #expect((yamlSyntax?.line ?? 0) > 0)

        let duplicate = error(valid.replacingOccurrences(of: "name: api", with: "name: flash"))
        #expect(duplicate?.reason.contains("duplicate target name 'flash'") == true)

        let slots = error(valid + "\npricing:\n  repeated_text_slots: -1")
        #expect(slots?.line == 17)
        #expect(slots?.reason == "pricing.repeated_text_slots: -1 is not in 0...16777216")
        let watchWithoutBook = error(valid + "\npricing:\n  watch_ms: 1000")
        #expect(watchWithoutBook?.line == 17)
        #expect(watchWithoutBook?.reason == "pricing.watch_ms: there is no price book to watch (pricing.price_book is not set)")
        #expect(error(valid + "\npricing: {price_book: p.yaml, watch_ms: 10}")?.reason == "pricing.watch_ms: 10 is not in 100...3600000")

        #expect(error("targets: []")?.reason.contains("at least one target") == true)
        #expect(error("")?.reason == "the file is empty")
        #expect(ConfigError(file: "f.yaml", line: 3, reason: "r").description == "f.yaml:3: r")
    }

    /// An error inside a merged alias would name the anchor's line, far from the mistake.
    @Test func aMergeKeyIsRefusedOnItsOwnLine() throws {
        let root = try ConfigNode.parse("a: &d {x: 1}\n\nb: {<<: *d, y: 2}\n", file: "m.yaml")
        let merged = try root.mapping().required("b")
        #expect(throws: ConfigError(file: "m.yaml", line: 3, reason: "b: YAML merge keys (<<) are not supported; write the keys out")) {
            _ = try merged.mapping()
        }
    }

    @Test func keysAreCheckedByHashInConstantTime() {
        let table = KeyTable([TeamKey(team: "a", keyHash: TeamKey.hash("sk-right"))])
        #expect(table.authenticate(bearer: "sk-right")?.team == "a")
        #expect(table.authenticate(bearer: "sk-wrong") == nil)
        #expect(table.authenticate(bearer: "") == nil)
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2], [1, 2, 3]))
    }
}
