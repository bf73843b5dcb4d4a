/// Why an upstream call failed. Carries no bodies, prompts or keys, so it is safe to log.
public struct UpstreamError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The TCP (or TLS) connection could not be made: refused, unreachable, connect timeout.
        case connectFailed
        /// No response head arrived within the first-byte timeout.
        case firstByteTimeout
        /// The response stalled longer than the idle timeout after it started.
        case idleTimeout
        /// The upstream closed the connection before the response ended.
        case connectionClosed
        /// The gateway cancelled the call (the client went away).
        case cancelled
    }

    public var kind: Kind
    /// True when nothing of the response had arrived, so the call may be retried elsewhere
    /// without the client ever noticing.
    public var beforeResponse: Bool
    public var detail: String

    public init(_ kind: Kind, beforeResponse: Bool, detail: String = "") {
        self.kind = kind
        self.beforeResponse = beforeResponse
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? kind.rawValue : "\(kind.rawValue): \(detail)"
    }
}
