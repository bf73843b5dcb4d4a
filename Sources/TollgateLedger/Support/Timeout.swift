import NIOConcurrencyHelpers

/// Runs `operation`, giving up with ``LedgerError/Code/databaseUnavailable`` after `timeout`.
///
/// PostgresNIO's pool queues a connection request for as long as its circuit breaker allows
/// (up to a minute) while the server is down, and a query on a half-open connection waits until
/// TCP gives up; the hot path and the writer must not wait that long, so every database call
/// that someone waits on goes through here.
///
/// The answer comes at the deadline even if the operation ignores cancellation: it runs in a
/// task of its own (cancelled at the deadline, left to finish in the background), not in a child
/// task that a task group would have to wait for. That task is the one unstructured task in the
/// ledger, and it exists only for this reason.
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.arm(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                race.finish(with: result)
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled {
                    race.finish(with: .failure(LedgerError.unavailable("\(what): no answer from PostgreSQL within \(timeout)")))
                }
            }
            race.attach(work: work, timer: timer)
        }
    } onCancel: {
        race.finish(with: .failure(CancellationError()))
    }
}

/// Who answers first: the operation, the timer or the caller's cancellation. The loser's task is
/// cancelled.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var done = false
    }

    private let state = NIOLockedValueBox(State())

    func arm(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLockedValue { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        // Cancelled before the continuation existed.
        if let early { continuation.resume(with: early) }
    }

    func attach(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let finished = state.withLockedValue { state -> Bool in
            state.work = work
            state.timer = timer
            return state.done
        }
        if finished {
            work.cancel()
            timer.cancel()
        }
    }

    func finish(with result: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLockedValue {
            state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?, Task<Void, Never>?) in
            guard !state.done else { return (nil, nil, nil) }
            state.done = true
            if state.continuation == nil { state.result = result }
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        work?.cancel()
        timer?.cancel()
        continuation?.resume(with: result)
    }
}
