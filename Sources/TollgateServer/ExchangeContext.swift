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
    var requestID: String
    var caller: Caller
    /// Carries `tollgate.request_id` and `tollgate.team`.
    var logger: Logger
}
