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
    /// The gateway's own id: the ledger's key and what engines see.
    var requestID: String
    /// The client's `x-request-id`, if it sent an acceptable one: echoed back and kept in the ledger.
    var clientRequestID: String?
    var caller: Caller
    var baseLogger: Logger

    /// The request's logger, with `tollgate.request_id` and `tollgate.team`. Built on use: most
    /// requests log nothing, and metadata costs allocations.
    var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "tollgate.request_id"] = "\(requestID)"
        if let clientRequestID { logger[metadataKey: "tollgate.client_request_id"] = "\(clientRequestID)" }
        logger[metadataKey: "tollgate.team"] = "\(caller.team)"
        return logger
    }

    /// The id the client's response carries: its own when it sent one.
    var echoedRequestID: String { clientRequestID ?? requestID }
}
