/// Runs `operation`, giving up with ``LedgerError/Code/databaseUnavailable`` after `timeout`.
///
/// PostgresNIO's pool queues a connection request for as long as its circuit breaker allows
/// (up to a minute) while the server is down; the hot path and the writer must not wait that long,
/// so every database call that someone waits on goes through here. The pool honours
/// cancellation, so the abandoned request is withdrawn.
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        while let next = try await group.next() {
            if let value = next { return value }
            throw LedgerError.unavailable("\(what): no answer from PostgreSQL within \(timeout)")
        }
        throw CancellationError()
    }
}
