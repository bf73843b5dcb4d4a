import TollgateConfig
import TollgatePricing
import TollgateRouting

extension GatewayConfiguration {
    /// The price book `pricing.price_book` names, loaded and checked against this configuration's
    /// targets (every model each target serves must be priced), or nil when none is named. The one
    /// check behind the gateway's start, a reload and `tollgate serve --check`; a failure is a
    /// `ConfigError` naming the book's file, line and reason.
    public func loadPriceBook() throws -> PriceBook? {
        guard let priceBookPath else { return nil }
        let book = try PriceBook.load(path: priceBookPath)
        try book.validate(targets: targets.map { (target: $0.name, models: $0.modelOrder) })
        return book
    }
}
