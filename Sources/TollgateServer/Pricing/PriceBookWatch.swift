import Foundation
import Logging
import TollgateRouting

/// Reloads the price book when its file's bytes change (`pricing.watch_ms`), so a book pushed to
/// every replica's disk (a mounted ConfigMap, configuration management) takes effect on each one
/// without a signal or an admin call.
///
/// The file is compared with the bytes last seen, not its time stamps, which a copy can keep. A
/// refused file is logged once (by the reload), not on every look, and the running book stays; the
/// next change to the file is tried again. A file that cannot be read is treated the same way.
struct PriceBookWatch: Sendable {
    let path: String
    let interval: Duration
    let logger: Logger

    /// The file as it is now; nil when it cannot be read (being replaced, or gone).
    func fingerprint() -> Data? { FileManager.default.contents(atPath: path) }

    /// Looks every `interval` until cancelled. `seen` is the fingerprint taken before the running
    /// book was loaded, so an edit landing during the start is reloaded rather than missed.
    func run(from seen: Data?, reload: @Sendable () throws -> Void) async {
        var seen = seen
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let now = fingerprint()
            guard now != seen else { continue }
            seen = now
            guard now != nil else {
                logger.warning("price book file unreadable; the running book stays", metadata: ["tollgate.price_book": "\(path)"])
                continue
            }
            // A refusal is logged by the reload itself, with file, line and reason.
            try? reload()
        }
    }
}

extension GatewayConfiguration {
    /// The watch `pricing.watch_ms` asks for; nil when it is not set.
    func priceBookWatch(logger: Logger) -> PriceBookWatch? {
        guard let path = priceBookPath, let ms = priceBookWatchMs else { return nil }
        return PriceBookWatch(path: path, interval: .milliseconds(ms), logger: logger)
    }
}
