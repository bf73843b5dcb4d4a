import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The demo's PostgreSQL when no `--database-url` is given: a throwaway cluster in a temporary
/// folder, started from the machine's PostgreSQL binaries by `scripts/pg-test-cluster.sh` (the
/// same script the tests use) and removed when the demo stops.
struct DemoDatabase {
    let url: String
    private let folder: String
    private let script: String

    static func start() async throws -> DemoDatabase {
        let script = try RepositoryFile.locate("scripts/pg-test-cluster.sh")
        let folder = NSTemporaryDirectory() + "tollgate-demo-pg-\(ProcessInfo.processInfo.processIdentifier)"
        let port = try freePort()
        let output = try await run(script, "start", folder: folder, port: port)
        guard let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            throw DemoFailure("the throwaway PostgreSQL did not start: \(output)")
        }
        return DemoDatabase(url: url, folder: folder, script: script)
    }

    func stop() async {
        _ = try? await DemoDatabase.run(script, "stop", folder: folder, port: 0)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private static func run(_ script: String, _ action: String, folder: String, port: Int) async throws -> String {
        // A file, not a pipe: the PostgreSQL server the script starts keeps inherited descriptors
        // open. And system(3), not Foundation's Process: on Linux its child is never reaped inside
        // an async main here, so waiting for it hangs.
        let output = NSTemporaryDirectory() + "tollgate-demo-pg-\(action)-\(ProcessInfo.processInfo.processIdentifier).log"
        defer { try? FileManager.default.removeItem(atPath: output) }
        var command = "TOLLGATE_PG_DIR=\(quoted(folder)) TOLLGATE_PG_DATABASE=tollgate "
        if port > 0 { command += "TOLLGATE_PG_PORT=\(port) " }
        command += "/bin/bash \(quoted(script)) \(action) >\(quoted(output)) 2>&1 </dev/null"
        let status = system(command)
        let data = FileManager.default.contents(atPath: output) ?? Data()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else { throw DemoFailure("\(script) \(action) failed: \(text)") }
        return text
    }

    private static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress?.port ?? 55499
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
