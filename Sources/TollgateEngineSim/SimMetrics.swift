import Atomics
import TollgateWire

/// vLLM's `finished_reason` label values.
enum MetricReason: Int, CaseIterable {
    case stop, length, abort

    var label: String {
        switch self {
        case .stop: return "stop"
        case .length: return "length"
        case .abort: return "abort"
        }
    }
}

/// A Prometheus histogram of seconds with fixed buckets, lock-free (one relaxed add per bucket hit).
final class SimHistogram: Sendable {
    let name: String
    let help: String
    let bounds: [Double]
    private let counts: [ManagedAtomic<Int>]
    private let sumMicros = ManagedAtomic<Int>(0)
    private let total = ManagedAtomic<Int>(0)

    init(name: String, help: String, bounds: [Double]) {
        self.name = name
        self.help = help
        self.bounds = bounds
        self.counts = bounds.map { _ in ManagedAtomic<Int>(0) }
    }

    func observe(seconds: Double) {
        total.wrappingIncrement(ordering: .relaxed)
        sumMicros.wrappingIncrement(by: Int(seconds * 1_000_000), ordering: .relaxed)
        // Buckets are not cumulative in memory; the exposition sums them.
        if let index = bounds.firstIndex(where: { seconds <= $0 }) {
            counts[index].wrappingIncrement(ordering: .relaxed)
        }
    }

    func render(model: String, to out: inout PrometheusText) {
        out.family(name, type: "histogram", help: help)
        let inBuckets = counts.map { $0.load(ordering: .relaxed) }
        let count = total.load(ordering: .relaxed)
        out.histogram(
            name, [("model_name", model)], bounds: bounds, counts: inBuckets + [count - inBuckets.reduce(0, +)],
            sumSeconds: Double(sumMicros.load(ordering: .relaxed)) / 1_000_000)
    }
}

/// Counters and histograms behind `/metrics` and `/sim/stats`. All lock-free.
final class SimMetrics: Sendable {
    let requests = ManagedAtomic<Int>(0)
    let promptTokens = ManagedAtomic<Int>(0)
    let generationTokens = ManagedAtomic<Int>(0)
    let injectedErrors = ManagedAtomic<Int>(0)
    let rejected = ManagedAtomic<Int>(0)
    let badRequests = ManagedAtomic<Int>(0)
    let prefixQueries = ManagedAtomic<Int>(0)
    let prefixHits = ManagedAtomic<Int>(0)
    private let finished = MetricReason.allCases.map { _ in ManagedAtomic<Int>(0) }

    let timeToFirstToken = SimHistogram(
        name: "vllm:time_to_first_token_seconds", help: "Histogram of time to first token in seconds.",
        bounds: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80])
    let interTokenLatency = SimHistogram(
        name: "vllm:inter_token_latency_seconds", help: "Histogram of inter-token latency in seconds.",
        bounds: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5])
    let endToEnd = SimHistogram(
        name: "vllm:e2e_request_latency_seconds", help: "Histogram of e2e request latency in seconds.",
        bounds: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960])
    let queueTime = SimHistogram(
        name: "vllm:request_queue_time_seconds", help: "Histogram of time spent in WAITING phase for request.",
        bounds: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960])

    func finished(_ reason: MetricReason) {
        finished[reason.rawValue].wrappingIncrement(ordering: .relaxed)
    }

    func finishedCount(_ reason: MetricReason) -> Int {
        finished[reason.rawValue].load(ordering: .relaxed)
    }

    /// Prometheus text exposition, vLLM's metric names with a `model_name` label.
    func render(model: String, running: Int, waiting: Int, kvUsage: Double) -> String {
        let label = [("model_name", model)]
        var out = PrometheusText()
        func gauge(_ name: String, _ help: String, _ value: String) {
            out.family(name, type: "gauge", help: help)
            out.sample(name, label, value)
        }
        func counter(_ name: String, _ help: String, _ value: Int) {
            out.family(name, type: "counter", help: help)
            out.sample(name, label, "\(value).0")
        }
        gauge("vllm:num_requests_running", "Number of requests in model execution batches.", "\(Double(running))")
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", "\(Double(waiting))")
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", "\(kvUsage)")
        counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", promptTokens.load(ordering: .relaxed))
        counter(
            "vllm:generation_tokens_total", "Number of generation tokens processed.",
            generationTokens.load(ordering: .relaxed))
        counter(
            "vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
            prefixQueries.load(ordering: .relaxed))
        counter(
            "vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
            prefixHits.load(ordering: .relaxed))
        out.family("vllm:request_success_total", type: "counter", help: "Count of successfully processed requests.")
        for reason in MetricReason.allCases {
            out.sample("vllm:request_success_total", [("finished_reason", reason.label)] + label, "\(finishedCount(reason)).0")
        }
        timeToFirstToken.render(model: model, to: &out)
        interTokenLatency.render(model: model, to: &out)
        endToEnd.render(model: model, to: &out)
        queueTime.render(model: model, to: &out)
        return out.text
    }
}
