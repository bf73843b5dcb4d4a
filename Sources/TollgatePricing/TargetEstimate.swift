import Foundation

/// One row of "what would this request cost on each target": the estimate for one model on one target.
public struct TargetEstimate: Hashable, Sendable {
    public let target: String
    public let kind: TargetKind
    public let model: String
    public let promptTokens: Int
    /// Prompt tokens assumed to be cache hits (at most `promptTokens`).
    public let cacheHitTokens: Int
    /// Output tokens assumed: `max_tokens`, else the book's default for the model and mode, for
    /// each of the request's choices (`n`).
    public let outputTokens: Int
    public let cost: PricedCost
}

extension CostEstimator {
    /// The estimate for every model on every target priced by the version in force at `date`,
    /// ordered by target then model. Models without an expected-output default are left out when
    /// `maxTokens` is nil.
    public func estimateAll(
        promptTokens: Int, maxTokens: Int?, thinking: Bool, choices: Int = 1, predictedCacheHitTokens: Int = 0,
        at date: Date
    ) -> [TargetEstimate] {
        let version = book.version(at: date)
        var rows: [TargetEstimate] = []
        for (target, prices) in version.targets.sorted(by: { $0.key < $1.key }) {
            for model in prices.models.keys.sorted() {
                guard
                    let output = expectedOutputTokens(model: model, maxTokens: maxTokens, thinking: thinking, choices: choices),
                    let cost = estimate(
                        target: target, model: model, promptTokens: promptTokens, maxTokens: maxTokens,
                        thinking: thinking, choices: choices, predictedCacheHitTokens: predictedCacheHitTokens, at: date)
                else { continue }
                rows.append(
                    TargetEstimate(
                        target: target, kind: prices.kind, model: model, promptTokens: max(promptTokens, 0),
                        cacheHitTokens: min(max(predictedCacheHitTokens, 0), max(promptTokens, 0)),
                        outputTokens: output, cost: cost))
            }
        }
        return rows
    }
}
