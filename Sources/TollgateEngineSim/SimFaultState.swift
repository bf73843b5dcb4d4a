import Atomics

/// The current ``EngineSimFaults``, readable on every request without a lock.
final class SimFaultState: Sendable {
    private let errorRateBits = ManagedAtomic<UInt64>(0)
    private let refuse = ManagedAtomic<Bool>(false)
    private let stall = ManagedAtomic<Int>(0)
    /// -1: never drop.
    private let dropAfter = ManagedAtomic<Int>(-1)
    private let unhealthyFlag = ManagedAtomic<Bool>(false)
    private let omitUsageFlag = ManagedAtomic<Bool>(false)
    /// Inference requests seen by the error-rate rule.
    private let sequence = ManagedAtomic<UInt64>(0)

    init(_ faults: EngineSimFaults) {
        store(faults)
    }

    func store(_ faults: EngineSimFaults) {
        errorRateBits.store(faults.errorRate.bitPattern, ordering: .relaxed)
        refuse.store(faults.refuseConnections, ordering: .relaxed)
        stall.store(faults.stallMs, ordering: .relaxed)
        dropAfter.store(faults.dropAfterChunks ?? -1, ordering: .relaxed)
        unhealthyFlag.store(faults.unhealthy, ordering: .relaxed)
        omitUsageFlag.store(faults.omitUsage, ordering: .relaxed)
    }

    var current: EngineSimFaults {
        let drop = dropAfter.load(ordering: .relaxed)
        return EngineSimFaults(
            errorRate: errorRate, refuseConnections: refusing, stallMs: stallMs,
            dropAfterChunks: drop < 0 ? nil : drop, unhealthy: unhealthy, omitUsage: omitUsage)
    }

    var errorRate: Double { Double(bitPattern: errorRateBits.load(ordering: .relaxed)) }
    var refusing: Bool { refuse.load(ordering: .relaxed) }
    var stallMs: Int { stall.load(ordering: .relaxed) }
    var unhealthy: Bool { unhealthyFlag.load(ordering: .relaxed) }
    var omitUsage: Bool { omitUsageFlag.load(ordering: .relaxed) }
    var dropAfterChunks: Int? {
        let value = dropAfter.load(ordering: .relaxed)
        return value < 0 ? nil : value
    }

    /// Whether this request fails. Deterministic and evenly spread: request k fails when
    /// floor(k·p) moved past floor((k-1)·p), so exactly a fraction p fails over any run.
    func shouldFail() -> Bool {
        let rate = errorRate
        guard rate > 0 else { return false }
        if rate >= 1 { return true }
        let k = Double(sequence.wrappingIncrementThenLoad(ordering: .relaxed))
        return (k * rate).rounded(.down) > ((k - 1) * rate).rounded(.down)
    }
}
