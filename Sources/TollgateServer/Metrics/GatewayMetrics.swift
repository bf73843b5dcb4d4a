import TollgateMoney
import TollgatePricing
import TollgateRouting
import TollgateWire

/// This process's request counters, served in Prometheus' text format at `GET /admin/metrics`.
///
/// Every label comes from the configuration or a short fixed list: the route, the target (`none`
/// for a request refused before one was chosen), the status class, the endpoint's URL. Never a
/// team, a key, a model name or anything else a client chose, so a scrape shows no team's traffic
/// and the number of series cannot grow with traffic.
final class GatewayMetrics: Sendable {
    static let routes: [InferenceEndpoint] = [.chat, .completions]
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    /// Upper bounds, in seconds, of the latency histograms' buckets (+Inf is implied).
    static let bucketBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
    static let tokenKinds = ["prompt", "cache_hit", "completion", "reasoning"]

    let targets: [Target]
    /// Label of each target slot: the targets in configuration order, then `none`.
    private let targetNames: [String]
    private let layout: Layout
    private let counters: ShardedCounters

    init(targets: [Target]) {
        self.targets = targets
        targetNames = targets.map(\.name) + ["none"]
        precondition(targets.enumerated().allSatisfy { $0.offset == $0.element.position }, "targets out of their configuration order")
        layout = Layout(targetSlots: targetNames.count)
        counters = ShardedCounters(count: layout.count)
    }

    private func slot(_ target: Target?) -> Int {
        target?.position ?? targetNames.count - 1
    }

    /// A request answered before it reached a target (a bad key, a bad body, a refused budget).
    func recordRefused(_ route: InferenceEndpoint, status: Int) {
        counters.add(layout.requests(route: route, slot: targetNames.count - 1, status: status))
    }

    /// A request that went to a target, at its end: latency from its arrival, time to the first
    /// byte of the answer (when one came), and its bill (tokens, cost; nil when nothing was billed).
    func recordFinished(
        _ route: InferenceEndpoint, target: Target?, status: Int, seconds: Double, firstByteSeconds: Double?,
        usage: MeteredUsage?, cost: Money?
    ) {
        let slot = slot(target)
        counters.add(layout.requests(route: route, slot: slot, status: status))
        record(seconds, histogram: layout.duration(route: route, slot: slot))
        if let firstByteSeconds { record(firstByteSeconds, histogram: layout.firstByte(route: route, slot: slot)) }
        if let usage {
            let tokens = layout.tokens(slot: slot)
            counters.add(tokens, usage.promptTokens)
            counters.add(tokens + 1, usage.cacheHitTokens)
            counters.add(tokens + 2, usage.completionTokens)
            counters.add(tokens + 3, usage.reasoningTokens)
            if usage.estimated { counters.add(layout.estimatedUsage(slot: slot)) }
        }
        if let cost { counters.add(layout.costNanos(slot: slot), Int(cost.nanos)) }
    }

    /// A target passed over because its `max_model_len` cannot hold the request: skipped on the
    /// gateway's count, or refused by its engine. Such requests go to a longer, often dearer target.
    func recordContextSkip(_ target: Target) {
        counters.add(layout.contextSkips(slot: slot(target)))
    }

    private func record(_ elapsed: Double, histogram base: Int) {
        // Wall-clock times: a clock set back mid-request must not take from the sum.
        let seconds = min(max(elapsed, 0), 1e9)
        var bucket = 0
        while bucket < Self.bucketBounds.count && seconds > Self.bucketBounds[bucket] { bucket += 1 }
        counters.add(base + bucket)
        counters.add(base + Self.bucketBounds.count + 1, Int((seconds * 1_000_000).rounded()))
    }

    // MARK: the scrape

    /// The text exposition (version 0.0.4). `currency` labels the cost counter (the price book's).
    func exposition(currency: String?) -> String {
        var out = PrometheusText()
        let none = targetNames.count - 1

        out.family(
            "tollgate_requests_total", type: "counter",
            help: "Inference requests answered, by route, target (none: answered before one was chosen) and status class.")
        for route in Self.routes {
            for slot in 0..<targetNames.count {
                for (index, status) in Self.statusClasses.enumerated() {
                    let value = counters.sum(layout.requests(route: route, slot: slot, status: (index + 1) * 100))
                    // Zeros only for the success class of real targets, so a dashboard finds every series.
                    guard value > 0 || (slot != none && index == 1) else { continue }
                    out.sample("tollgate_requests_total", [("route", route.path), ("target", targetNames[slot]), ("status", status)], "\(value)")
                }
            }
        }
        histogram(
            "tollgate_request_duration_seconds", "Time from a request's arrival to the last byte of its answer, for requests sent to a target.",
            base: layout.duration, into: &out)
        histogram(
            "tollgate_time_to_first_byte_seconds",
            "Time from a request's arrival to the first byte of the engine's answer (queueing and prefill included).",
            base: layout.firstByte, into: &out)

        out.family("tollgate_tokens_total", type: "counter", help: "Tokens billed, by target and kind (cache_hit is part of prompt; reasoning of completion).")
        for slot in 0..<none {
            for (index, kind) in Self.tokenKinds.enumerated() {
                out.sample("tollgate_tokens_total", [("target", targetNames[slot]), ("kind", kind)], "\(counters.sum(layout.tokens(slot: slot) + index))")
            }
        }
        out.family(
            "tollgate_usage_estimated_total", type: "counter",
            help: "Requests billed on Tollgate's own token count because the engine reported no usage it could believe.")
        for slot in 0..<none {
            out.sample("tollgate_usage_estimated_total", [("target", targetNames[slot])], "\(counters.sum(layout.estimatedUsage(slot: slot)))")
        }
        if let currency {
            out.family(
                "tollgate_cost_total", type: "counter",
                help: "What requests cost at the price book's rates, in the book's currency (exact to the nano-unit; the ledger holds the bill).")
            for slot in 0..<none {
                let cost = Money(nanos: Int64(counters.sum(layout.costNanos(slot: slot))), currency: currency)
                out.sample("tollgate_cost_total", [("target", targetNames[slot]), ("currency", currency)], cost.decimalString)
            }
        }

        out.family(
            "tollgate_context_skips_total", type: "counter",
            help: "Requests passed over by a target whose max_model_len could not hold the prompt and max_tokens.")
        for slot in 0..<none {
            out.sample("tollgate_context_skips_total", [("target", targetNames[slot])], "\(counters.sum(layout.contextSkips(slot: slot)))")
        }

        let endpoints = targets.flatMap { target in target.allEndpoints.map { (target.name, $0) } }
        out.family("tollgate_endpoint_up", type: "gauge", help: "1 while the endpoint is in rotation (health probes and refused connections decide).")
        for (target, endpoint) in endpoints {
            out.sample("tollgate_endpoint_up", [("target", target), ("endpoint", "\(endpoint)")], endpoint.isHealthy ? "1" : "0")
        }
        out.family("tollgate_endpoint_outstanding", type: "gauge", help: "Requests sent to the endpoint and not finished.")
        for (target, endpoint) in endpoints {
            out.sample("tollgate_endpoint_outstanding", [("target", target), ("endpoint", "\(endpoint)")], "\(endpoint.outstanding)")
        }
        return out.text
    }

    /// One histogram family: a series for each route and target that observed anything.
    private func histogram(_ name: String, _ help: String, base: (InferenceEndpoint, Int) -> Int, into out: inout PrometheusText) {
        out.family(name, type: "histogram", help: help)
        for route in Self.routes {
            for slot in 0..<targetNames.count {
                let first = base(route, slot)
                let counts = (0...Self.bucketBounds.count).map { counters.sum(first + $0) }
                guard counts.contains(where: { $0 > 0 }) else { continue }
                let micros = counters.sum(first + Self.bucketBounds.count + 1)
                out.histogram(
                    name, [("route", route.path), ("target", targetNames[slot])], bounds: Self.bucketBounds, counts: counts,
                    sumSeconds: Double(micros) / 1_000_000)
            }
        }
    }

    /// Where each counter sits: per route and target slot, the status classes and two histograms
    /// (a count per bucket, +Inf included, then the sum in microseconds); then per target slot the
    /// token kinds, the estimated-usage count, the cost in nano-units and the context skips.
    private struct Layout: Sendable {
        let targetSlots: Int
        static let histogramWidth = GatewayMetrics.bucketBounds.count + 2
        static let perRouteSlot = 5 + 2 * histogramWidth
        static let perSlot = 4 + 1 + 1 + 1

        var count: Int { GatewayMetrics.routes.count * targetSlots * Self.perRouteSlot + targetSlots * Self.perSlot }

        private func routeSlot(_ route: InferenceEndpoint, _ slot: Int) -> Int {
            ((route == .chat ? 0 : 1) * targetSlots + slot) * Self.perRouteSlot
        }
        func requests(route: InferenceEndpoint, slot: Int, status: Int) -> Int {
            routeSlot(route, slot) + min(max(status / 100, 1), 5) - 1
        }
        func duration(route: InferenceEndpoint, slot: Int) -> Int { routeSlot(route, slot) + 5 }
        func firstByte(route: InferenceEndpoint, slot: Int) -> Int { routeSlot(route, slot) + 5 + Self.histogramWidth }
        private var perSlotBase: Int { GatewayMetrics.routes.count * targetSlots * Self.perRouteSlot }
        func tokens(slot: Int) -> Int { perSlotBase + slot * Self.perSlot }
        func estimatedUsage(slot: Int) -> Int { perSlotBase + slot * Self.perSlot + 4 }
        func costNanos(slot: Int) -> Int { perSlotBase + slot * Self.perSlot + 5 }
        func contextSkips(slot: Int) -> Int { perSlotBase + slot * Self.perSlot + 6 }
    }
}

extension InferenceEndpoint {
    /// The route as clients write it, for labels.
    var path: String { "/v1" + rawValue }
}
