/// The three meter rates of one model on one target at one moment.
public struct ModelRates: Hashable, Sendable {
    public var inputCacheHit: MeterRate
    public var inputCacheMiss: MeterRate
    public var output: MeterRate

    public init(inputCacheHit: MeterRate, inputCacheMiss: MeterRate, output: MeterRate) {
        self.inputCacheHit = inputCacheHit
        self.inputCacheMiss = inputCacheMiss
        self.output = output
    }

    public subscript(meter: Meter) -> MeterRate {
        get {
            switch meter {
            case .inputCacheHit: return inputCacheHit
            case .inputCacheMiss: return inputCacheMiss
            case .output: return output
            }
        }
        set {
            switch meter {
            case .inputCacheHit: inputCacheHit = newValue
            case .inputCacheMiss: inputCacheMiss = newValue
            case .output: output = newValue
            }
        }
    }

    /// These rates with `change` applied; nil if a discounted fraction would overflow.
    func applying(_ change: PriceChange) -> ModelRates? {
        var result = self
        switch change {
        case let .discount(percentOff):
            for meter in Meter.allCases {
                guard let rate = self[meter].discounted(percentOff: percentOff) else { return nil }
                result[meter] = rate
            }
        case let .set(rates):
            for (meter, rate) in rates { result[meter] = rate }
        }
        return result
    }
}
