/// An error Tollgate answers with: an HTTP status and an OpenAI error envelope with a stable `code`.
///
/// Messages never contain prompts, keys or upstream bodies of our own making; an upstream's own
/// error message is passed through only in ``upstream(status:message:type:code:param:)``.
public struct GatewayError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `rate_limit_error`, ...
    public var type: String
    /// Stable machine-readable code, e.g. `model_not_found`.
    public var code: String?
    public var message: String
    public var param: String?
    /// The methods a path takes, for the `Allow` header of a 405.
    public var allow: String?

    public init(status: Int, type: String, code: String?, message: String, param: String? = nil, allow: String? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.allow = allow
    }

    public var description: String { "\(status) \(code ?? type): \(message)" }

    // MARK: client errors

    public static func invalidJSON(_ syntax: JSONSyntaxError) -> GatewayError {
        GatewayError(
            status: 400, type: "invalid_request_error", code: "invalid_json",
            message: "The request body is not valid JSON (\(syntax)).")
    }

    public static func invalidRequest(_ message: String, param: String? = nil) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "invalid_request", message: message, param: param)
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(
            status: 404, type: "invalid_request_error", code: "model_not_found",
            message: "The model '\(model.prefix(200))' does not exist or you do not have access to it.", param: "model")
    }

    public static let invalidAPIKey = GatewayError(
        status: 401, type: "authentication_error", code: "invalid_api_key",
        message: "Incorrect API key provided. Pass a valid key as 'Authorization: Bearer <key>'.")

    public static func modelNotAllowed(_ model: String) -> GatewayError {
        GatewayError(
            status: 403, type: "permission_error", code: "model_not_allowed",
            message: "This API key may not use the model '\(model.prefix(200))'.", param: "model")
    }

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 413, type: "invalid_request_error", code: "request_too_large",
            message: "The request body exceeds the limit of \(limit) bytes.")
    }

    public static let notFound = GatewayError(
        status: 404, type: "invalid_request_error", code: "not_found", message: "Unknown path.")

    /// `allowed`: the path's methods, as the `Allow` header lists them (`GET, POST`).
    public static func methodNotAllowed(_ method: String, allowed: String) -> GatewayError {
        GatewayError(
            status: 405, type: "invalid_request_error", code: "method_not_allowed",
            message: "Method \(method.prefix(16)) is not allowed on this path (allowed: \(allowed)).", allow: allowed)
    }

    public static let contextLengthExceededCode = "context_length_exceeded"

    /// `param` names what is too long: `messages` for a chat, `prompt` for a completion
    /// (``InferenceEndpoint/promptParam``).
    public static func contextLengthExceeded(_ message: String, param: String) -> GatewayError {
        GatewayError(
            status: 400, type: "invalid_request_error", code: contextLengthExceededCode, message: message,
            param: param)
    }

    // MARK: upstream and capacity errors

    public static func noHealthyTarget(_ model: String) -> GatewayError {
        GatewayError(
            status: 503, type: "server_error", code: "no_healthy_target",
            message: "No healthy target can serve '\(model.prefix(200))' right now. Retry later.")
    }

    public static func serverBusy() -> GatewayError {
        GatewayError(
            status: 503, type: "server_error", code: "server_busy",
            message: "The gateway is receiving too many request bodies at once (limits.max_pending_body_bytes); retry shortly.")
    }

    public static func upstreamUnreachable() -> GatewayError {
        GatewayError(
            status: 502, type: "server_error", code: "upstream_unreachable",
            message: "Could not connect to any engine serving this model.")
    }

    public static func upstreamTimeout() -> GatewayError {
        GatewayError(
            status: 504, type: "server_error", code: "upstream_timeout",
            message: "The engine did not answer in time.")
    }

    public static func upstreamDisconnected() -> GatewayError {
        GatewayError(
            status: 502, type: "server_error", code: "upstream_disconnected",
            message: "The engine closed the connection before the response was complete.")
    }

    public static func upstreamAnswerTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 502, type: "server_error", code: "upstream_answer_too_large",
            message: "The engine's answer is larger than the gateway's limit of \(limit) bytes (limits.max_answer_bytes).")
    }

    /// A successful answer the gateway cannot read, e.g. an HTML page from a proxy in front of
    /// the engine.
    public static func upstreamUnreadableAnswer(_ reason: String) -> GatewayError {
        GatewayError(
            status: 502, type: "server_error", code: "upstream_unreadable_answer",
            message: "The engine's answer cannot be read: \(reason).")
    }

    /// An upstream's own error, normalised to the envelope; 4xx keep their status, 5xx become 502.
    public static func upstream(status: Int, message: String, type: String?, code: String?, param: String?) -> GatewayError {
        let clientError = (400..<500).contains(status)
        return GatewayError(
            status: clientError ? status : 502,
            type: type ?? (clientError ? "invalid_request_error" : "server_error"),
            code: code ?? (clientError ? "upstream_\(status)" : "upstream_error"),
            message: message.isEmpty ? "The engine answered HTTP \(status)." : message,
            param: param)
    }

    // MARK: envelope

    /// `{"error":{"message":...,"type":...,"param":...,"code":...}}`
    public var envelope: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count + 96)
        appendEnvelope(to: &out)
        return out
    }

    public func appendEnvelope(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"error":{"message":"#.utf8)
        JSONWriter.appendString(message, to: &out)
        out.append(contentsOf: #","type":"#.utf8)
        JSONWriter.appendString(type, to: &out)
        out.append(contentsOf: #","param":"#.utf8)
        JSONWriter.appendOptionalString(param, to: &out)
        out.append(contentsOf: #","code":"#.utf8)
        JSONWriter.appendOptionalString(code, to: &out)
        out.append(contentsOf: "}}".utf8)
    }
}
