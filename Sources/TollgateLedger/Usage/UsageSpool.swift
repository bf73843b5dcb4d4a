import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An append-only file of usage events that could not be written to PostgreSQL.
///
/// One JSON object per line. Appends go to `usage-spool.jsonl` with `O_APPEND`; ``sync()``
/// flushes them to disk (`fsync`). For replay the active file is renamed to
/// `usage-spool-<time>.replay.jsonl` and a new one started, so appends never race a replay. A
/// line cut short by a crash is skipped; replays are idempotent, so a file replayed twice (a
/// crash between insert and delete) is harmless.
final class UsageSpool: Sendable {
    /// The active file is rotated past this size so each replay file fits in memory.
    static let rotateBytes = 64 << 20

    private struct State {
        var fd: Int32 = -1
        var size = 0
        var dirty = false
    }

    let directory: String
    private let state: Mutex<State>
    private let logger: Logger

    private var activePath: String { directory + "/usage-spool.jsonl" }

    init(directory: String, logger: Logger) throws {
        self.directory = directory
        self.logger = logger
        self.state = Mutex(State())
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try state.withLock { try self.openActive(&$0) }
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 {
                _ = fsync(state.fd)
                _ = close(state.fd)
            }
        }
    }

    private func openActive(_ state: inout State) throws {
        let fd = open(activePath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LedgerError(.spoolFailed, "cannot open \(activePath): errno \(errno)") }
        state.fd = fd
        var info = stat()
        state.size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Appends events (one `write` per call, no fsync: call ``sync()`` for durability).
    func append(_ events: some Collection<UsageEvent>) throws {
        guard !events.isEmpty else { return }
        var data = Data()
        let encoder = Self.encoder()
        for event in events {
            data.append(try encoder.encode(event))
            data.append(0x0A)
        }
        try state.withLock { state in
            if state.fd < 0 { try openActive(&state) }
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(state.fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw LedgerError(.spoolFailed, "cannot append to \(activePath): errno \(errno)")
                    }
                    offset += written
                }
            }
            state.size += data.count
            state.dirty = true
            if state.size >= Self.rotateBytes { try rotate(&state) }
        }
    }

    /// Flushes appended events to disk.
    func sync() throws {
        try state.withLock { state in
            guard state.dirty, state.fd >= 0 else { return }
            guard fsync(state.fd) == 0 else { throw LedgerError(.spoolFailed, "fsync of \(activePath) failed: errno \(errno)") }
            state.dirty = false
        }
    }

    /// True when events wait in the spool (active or rotated).
    var hasPending: Bool {
        if state.withLock({ $0.size > 0 }) { return true }
        return !replayFiles().isEmpty
    }

    /// Rotates the active file (if it holds anything) and returns every file awaiting replay,
    /// oldest first.
    func filesForReplay() throws -> [String] {
        try state.withLock { state in
            if state.size > 0 { try rotate(&state) }
        }
        return replayFiles()
    }

    private func replayFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("usage-spool-") && $0.hasSuffix(".replay.jsonl") }.sorted()
            .map { directory + "/" + $0 }
    }

    private func rotate(_ state: inout State) throws {
        if state.fd >= 0 {
            _ = fsync(state.fd)
            _ = close(state.fd)
            state.fd = -1
        }
        let stamp = UsageEvent.microseconds(Date())
        let target = directory + "/usage-spool-\(String(format: "%020lld", stamp)).replay.jsonl"
        guard rename(activePath, target) == 0 else {
            throw LedgerError(.spoolFailed, "cannot rotate \(activePath): errno \(errno)")
        }
        // Make the rename itself durable.
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            _ = close(dirFD)
        }
        state.size = 0
        state.dirty = false
        try openActive(&state)
    }

    /// The events in one replay file. A trailing partial line, or a line that does not decode,
    /// is logged and skipped (it can only come from a crash mid-write).
    func read(_ path: String) throws -> [UsageEvent] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LedgerError(.spoolFailed, "cannot read \(path)")
        }
        let decoder = Self.decoder()
        var events: [UsageEvent] = []
        var skipped = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
            if let event = try? decoder.decode(UsageEvent.self, from: Data(line)) {
                events.append(event)
            } else {
                skipped += 1
            }
        }
        if skipped > 0 {
            logger.error("skipped unreadable spool lines", metadata: ["tollgate.spool": "\(path)", "tollgate.count": "\(skipped)"])
        }
        return events
    }

    func remove(_ path: String) {
        _ = unlink(path)
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(UsageEvent.microseconds(date))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let micros = try decoder.singleValueContainer().decode(Int64.self)
            return Date(timeIntervalSince1970: Double(micros) / 1_000_000)
        }
        return decoder
    }
}
