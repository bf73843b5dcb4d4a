import TollgateConfig
import TollgatePricing
import TollgateRouting

extension GatewayConfiguration {
    /// The price book `pricing.price_book` names, loaded and checked against this configuration's
    /// targets (every model each target serves must be priced), or nil when none is named. The one
    /// check behind the gateway's start, a reload and `tollgate serve --check`; a failure is a
    /// `ConfigError` naming the book's file, line and reason. `withDatabase`: the gateway keeps a
    /// ledger, whose budgets are money, so a configuration without a book is refused too.
    public func loadPriceBook(withDatabase: Bool = false) throws -> PriceBook? {
        guard let priceBookPath else {
            guard !withDatabase else {
                throw ConfigError(
                    file: file, line: 0,
                    reason: "a database needs a price book (pricing.price_book): budgets and the ledger are kept in money")
            }
            return nil
        }
        let book = try PriceBook.load(path: priceBookPath)
        try book.validate(targets: targets.map { (target: $0.name, models: $0.modelOrder) })
        return book
    }
}
