import Atomics
import Foundation
import Logging
import Synchronization
import TollgatePricing
import TollgateRouting

/// The pricer in force, and its reload from the price book file (SIGHUP,
/// `POST /admin/price-book/reload`, or a change to the watched file).
///
/// A reload reads and checks the whole file before anything changes: a bad file is refused with
/// its file, line and reason, and the running book stays. Requests read the current pricer with
/// one atomic load and no lock; a request keeps the pricer it started with, so it is estimated and
/// billed under one book even when a reload lands while it runs.
final class CurrentPricer: Sendable {
    /// What a reload loaded, or what is in force.
    struct Loaded: Sendable {
        let book: PriceBook
        let loadedAt: Date
        /// The last reload refused since this book was loaded: with SIGHUP or a watched file the
        /// log is otherwise the only place a refusal shows.
        var lastRefusal: Refusal? = nil
    }

    struct Refusal: Sendable {
        let at: Date
        /// `file:line: reason`.
        let reason: String
    }

    private let current: ManagedAtomic<Unmanaged<RequestPricer>>
    /// Every pricer that was ever current, oldest first, each with its load time, and the last
    /// refusal since the newest. A request reads the current pricer without taking a reference
    /// first, so a replaced one must never be freed under it: they are all kept (a book is a few
    /// KB; reloads are rare). The lock also orders concurrent reloads, so a refusal is never shown
    /// beside a book loaded after it.
    private struct Loads {
        var pricers: [(pricer: RequestPricer, loadedAt: Date)]
        var lastRefusal: Refusal?
    }
    private let loads: Mutex<Loads>
    /// The gateway's configuration, which names the book's file and the targets it must price.
    private let configuration: GatewayConfiguration
    private let logger: Logger

    init(_ pricer: RequestPricer, configuration: GatewayConfiguration, logger: Logger) {
        current = ManagedAtomic(.passUnretained(pricer))
        loads = Mutex(Loads(pricers: [(pricer, Date())], lastRefusal: nil))
        self.configuration = configuration
        self.logger = logger
    }

    var pricer: RequestPricer { current.load(ordering: .acquiring).takeUnretainedValue() }

    var inForce: Loaded {
        loads.withLock { loads in
            let newest = loads.pricers[loads.pricers.count - 1]
            return Loaded(book: newest.pricer.estimator.book, loadedAt: newest.loadedAt, lastRefusal: loads.lastRefusal)
        }
    }

    /// Reads the price book file again and, when it passes every check the gateway's start makes
    /// (and keeps the currency and every version that has been in force), makes it the one in
    /// force. Throws a `ConfigError` otherwise.
    func reload() throws -> Loaded {
        do {
            let loaded = try loads.withLock { loads in
                do {
                    let running = loads.pricers[loads.pricers.count - 1].pricer
                    guard let book = try configuration.loadPriceBook() else { preconditionFailure("a pricer without a price book") }
                    let now = Date()
                    try book.validate(replacing: running.estimator.book, at: now)
                    let next = running.replacingBook(with: book)
                    let loaded = Loaded(book: book, loadedAt: now)
                    loads.pricers.append((next, loaded.loadedAt))
                    loads.lastRefusal = nil
                    current.store(.passUnretained(next), ordering: .releasing)
                    return loaded
                } catch {
                    loads.lastRefusal = Refusal(at: Date(), reason: "\(error)")
                    throw error
                }
            }
            logger.notice(
                "price book reloaded",
                metadata: [
                    "tollgate.price_book": "\(loaded.book.file)", "tollgate.price_book.versions": "\(loaded.book.versions.count)",
                    "tollgate.price_book.in_force": "\(loaded.book.version(at: loaded.loadedAt).id)",
                ])
            return loaded
        } catch {
            logger.error("price book reload refused; the running book stays", metadata: ["tollgate.error": "\(error)"])
            throw error
        }
    }
}
