import Atomics
import TollgateHTTP

/// How many health probes in a row must disagree with an endpoint's state before it changes
/// (`health.unhealthy_after`, `health.healthy_after`).
public struct ProbeThresholds: Sendable, Equatable {
    /// Failed probes in a row that take an up endpoint out of rotation. Above one, a single probe
    /// that a busy engine answers late does not turn its traffic away.
    public var unhealthyAfter: Int = 2
    /// Good probes in a row that bring a down endpoint back.
    public var healthyAfter: Int = 1

    public init(unhealthyAfter: Int = 2, healthyAfter: Int = 1) {
        self.unhealthyAfter = unhealthyAfter
        self.healthyAfter = healthyAfter
    }
}

/// One engine (or the API's base URL) inside a target: its address, live load and health.
///
/// Load and health are read on every request from every event loop, so they are atomics rather
/// than state behind a lock.
public final class Endpoint: Sendable, CustomStringConvertible {
    public let origin: UpstreamOrigin
    /// Requests sent and not finished: the least-outstanding-requests balancer reads this.
    private let outstandingCount = ManagedAtomic<Int>(0)
    private let healthyFlag = ManagedAtomic<Bool>(true)
    /// The probes' verdicts in a row: n > 0 is n good ones, n < 0 is -n failed ones, 0 none since
    /// the proxy marked the endpoint down. The prober adds to it, one probe at a time.
    private let probeStreak = ManagedAtomic<Int>(0)
    private let probedOnce = ManagedAtomic<Bool>(false)

    public init(origin: UpstreamOrigin) {
        self.origin = origin
    }

    public var outstanding: Int { outstandingCount.load(ordering: .relaxed) }
    public var isHealthy: Bool { healthyFlag.load(ordering: .relaxed) }

    public func begin() { outstandingCount.wrappingIncrement(ordering: .relaxed) }
    public func end() { outstandingCount.wrappingDecrement(ordering: .relaxed) }

    /// Takes one health probe's verdict. The first probe decides alone (at start nothing else is
    /// known); after it, the state changes once `thresholds` probes in a row disagree with it.
    /// Returns whether the state changed.
    @discardableResult
    public func recordProbe(healthy: Bool, thresholds: ProbeThresholds) -> Bool {
        let streak = probeStreak.load(ordering: .relaxed)
        let next = healthy ? min(max(streak, 0), 1_000) + 1 : max(min(streak, 0), -1_000) - 1
        probeStreak.store(next, ordering: .relaxed)
        if !probedOnce.exchange(true, ordering: .relaxed) { return setHealthy(healthy) }
        if healthy ? next >= thresholds.healthyAfter : -next >= thresholds.unhealthyAfter {
            return setHealthy(healthy)
        }
        return false
    }

    /// Marks the endpoint down at once (the proxy saw a refused connection). Probes count again
    /// from zero, so bringing it back takes `healthyAfter` good ones. Returns whether it changed.
    @discardableResult
    public func markDown() -> Bool {
        probeStreak.store(0, ordering: .relaxed)
        return setHealthy(false)
    }

    private func setHealthy(_ healthy: Bool) -> Bool {
        healthyFlag.exchange(healthy, ordering: .relaxed) != healthy
    }

    public var description: String { origin.description }
}
