/// A target and one model it serves: the unit a price applies to.
public struct TargetModel: Hashable, Sendable, CustomStringConvertible {
    public var target: String
    public var model: String

    public init(target: String, model: String) {
        self.target = target
        self.model = model
    }

    public var description: String { "\(model) on \(target)" }
}

/// How a time window or a promotion changes a model's base rates.
enum PriceChange: Hashable, Sendable {
    /// Every meter costs `percentOff` percent less.
    case discount(percentOff: Int)
    /// The listed meters take these rates; the others keep theirs.
    case set([Meter: MeterRate])
}
