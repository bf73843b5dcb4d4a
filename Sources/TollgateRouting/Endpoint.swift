import Atomics
import TollgateHTTP

/// One engine (or the API's base URL) inside a target: its address, live load and health.
///
/// Load and health are read on every request from every event loop, so they are atomics rather
/// than state behind a lock.
public final class Endpoint: Sendable, CustomStringConvertible {
    public let origin: UpstreamOrigin
    /// Requests sent and not finished: the least-outstanding-requests balancer reads this.
    private let outstandingCount = ManagedAtomic<Int>(0)
    private let healthyFlag = ManagedAtomic<Bool>(true)

    public init(origin: UpstreamOrigin) {
        self.origin = origin
    }

    public var outstanding: Int { outstandingCount.load(ordering: .relaxed) }
    public var isHealthy: Bool { healthyFlag.load(ordering: .relaxed) }

    public func begin() { outstandingCount.wrappingIncrement(ordering: .relaxed) }
    public func end() { outstandingCount.wrappingDecrement(ordering: .relaxed) }

    /// Marks the endpoint down (a refused connection) or up (a good probe). Returns whether it changed.
    @discardableResult
    public func setHealthy(_ healthy: Bool) -> Bool {
        healthyFlag.exchange(healthy, ordering: .relaxed) != healthy
    }

    public var description: String { origin.description }
}
