/// Rates in force for one model on one target at one moment, with what made them so.
public struct AppliedRates: Hashable, Sendable {
    public let rates: ModelRates
    public let bookVersion: String
    /// The time window whose prices applied, if any.
    public let window: String?
    /// The promotion that applied, if any.
    public let promotion: String?
}
