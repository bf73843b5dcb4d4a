import Logging
import NIOCore
import TollgateRouting
import TollgateWire

/// What the pipeline hands to a ``ProxyExchange``: the request as read, its original bytes, the
/// targets that may serve it, and who sent it.
struct ExchangeContext {
    var request: InferenceRequest
    /// The client's body, forwarded with small splices only.
    var body: ByteBuffer
    var candidates: [Target]
    var ids: RequestIDs
    var caller: Caller
    var baseLogger: Logger

    /// The request's logger, with `tollgate.request_id` and `tollgate.team`. Built on use: most
    /// requests log nothing, and metadata costs allocations.
    var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "tollgate.request_id"] = "\(ids.own)"
        if let client = ids.client { logger[metadataKey: "tollgate.client_request_id"] = "\(client)" }
        logger[metadataKey: "tollgate.team"] = "\(caller.team)"
        return logger
    }
}
