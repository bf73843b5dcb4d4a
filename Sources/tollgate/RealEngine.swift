import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real engine behind `tollgate demo --real`: the llama.cpp server (llama-cpp-python) serving
/// SmolLM2-135M, run by `scripts/real-engine.sh`, which installs it on first use.
enum RealEngine {
    /// Why the real engine could not be started or did not become ready.
    struct Failure: Error, CustomStringConvertible {
        /// Stable code: `script_missing`, `start_failed`, `exited`, `timeout`.
        var code: String
        var message: String
        var description: String { "real engine (\(code)): \(message)" }
    }

    /// The readiness path under the engine's OpenAI base URL. llama-cpp-python's server has no
    /// `/health`; `/v1/models` answers 200 once the model is loaded.
    static let readinessPath = "/models"
    /// The first run builds llama.cpp from source (several minutes on 2 cores).
    static let readyTimeout: Duration = .seconds(15 * 60)
    /// Where the engine's output goes; its tail is shown when it fails.
    static func logPath(port: Int) -> String { NSTemporaryDirectory() + "tollgate-real-engine-\(port).log" }

    /// Starts `scripts/real-engine.sh PORT`, found in the current directory or in `$TOLLGATE_HOME`.
    ///
    /// The script runs in its own process group (Foundation's `Process` does that on Linux) and
    /// `exec`s the server, so the returned process's `terminate()` stops the server, and during
    /// the first install also pip and the compilers it started.
    static func start(port: Int) throws -> Process {
        let script = try locateScript()
        let log = logPath(port: port)
        guard FileManager.default.createFile(atPath: log, contents: nil),
            let logHandle = FileHandle(forWritingAtPath: log)
        else {
            throw Failure(code: "start_failed", message: "cannot write the engine log \(log)")
        }
        let process = ProcessGroupLeader()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        print("real engine: starting \(script) \(port) (first run installs llama.cpp, several minutes; log: \(log))")
        fflush(stdout)
        do {
            try process.run()
        } catch {
            throw Failure(code: "start_failed", message: "cannot run \(script): \(error)")
        }
        try? logHandle.close()
        return process
    }

    /// Polls `GET {baseURL}/models` until it answers 200. Fails with the engine's log tail when
    /// the process exits first, and stops the engine when the time runs out.
    static func waitUntilReady(baseURL: String, process: Process) async throws {
        guard let url = URL(string: baseURL), let host = url.host, let port = url.port else {
            throw Failure(code: "start_failed", message: "not an http://host:port URL: \(baseURL)")
        }
        let path = url.path + readinessPath
        let port16 = UInt16(port)
        let clock = ContinuousClock()
        let deadline = clock.now + readyTimeout
        let logFile = logPath(port: port)
        while true {
            if !process.isRunning {
                throw Failure(
                    code: "exited",
                    message: "the engine exited with status \(process.terminationStatus) before it was ready; last lines of \(logFile):\n"
                        + logTail(logFile))
            }
            if await statusCode(host: host, port: port16, path: path) == 200 { return }
            if clock.now >= deadline {
                process.terminate()
                throw Failure(
                    code: "timeout",
                    message: "the engine was not ready within \(readyTimeout); last lines of \(logFile):\n" + logTail(logFile))
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    // MARK: helpers

    private static func locateScript() throws -> String {
        do {
            return try RepositoryFile.locate("scripts/real-engine.sh")
        } catch {
            throw Failure(code: "script_missing", message: "\(error)")
        }
    }

    /// The last lines of the engine's log.
    static func logTail(_ path: String, lines: Int = 30) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "(no log)" }
        let text = String(decoding: data.suffix(16_384), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// One `GET` over a plain loopback socket; the status code, or nil when nothing answered.
    /// A blocking call on a global queue: this runs a few times a second while the demo starts,
    /// and keeps FoundationNetworking (and libcurl) out of the gateway binary.
    static func statusCode(host: String, port: UInt16, path: String) async -> Int? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: blockingStatusCode(host: host, port: port, path: path))
            }
        }
    }

    private static func blockingStatusCode(host: String, port: UInt16, path: String) -> Int? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else { return nil }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nAccept: application/json\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return nil }
        // Only the status line is needed: "HTTP/1.1 200 OK".
        var buffer = [UInt8](repeating: 0, count: 64)
        var filled = 0
        while filled < 12 {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, 0) }
            guard count > 0 else { return nil }
            filled += count
        }
        let statusLine = String(decoding: buffer[..<filled], as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }
}

/// A `Process` whose `terminate()` stops its whole process group, then waits for it.
///
/// On Linux, Foundation starts a child as the leader of a new process group; the script `exec`s
/// the engine (same PID), but while it installs, pip and the compilers run as its children in
/// that group. `DemoCommand` calls `terminate()` on the way out, so this is where they all go.
/// `@unchecked Sendable` like its superclass: its only state is the superclass's.
final class ProcessGroupLeader: Process, @unchecked Sendable {
    override func terminate() {
        let pid = processIdentifier
        guard pid > 0, isRunning else { return }
        let group = getpgid(pid) == pid ? -pid : pid
        kill(group, SIGTERM)
        // Give the server a few seconds to shut down, then make sure nothing of it is left.
        for _ in 0..<100 where isRunning { usleep(50_000) }
        kill(group, SIGKILL)
    }
}
