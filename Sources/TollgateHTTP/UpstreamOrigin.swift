/// Where an upstream lives: scheme, host and port, plus the base path requests are put under.
///
/// Parsed from an OpenAI base URL such as `http://127.0.0.1:8000/v1` or `https://api.deepseek.com`.
public struct UpstreamOrigin: Hashable, Sendable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// Path prefix without a trailing slash, e.g. `/v1` or `""`.
    public var basePath: String

    public init(tls: Bool, host: String, port: Int, basePath: String) {
        self.tls = tls
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    /// Parses `http[s]://host[:port][/path]`. Returns nil for anything else (no user info, no query).
    public init?(url: String) {
        let scheme: String
        var rest: Substring
        if url.hasPrefix("http://") {
            scheme = "http"
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            scheme = "https"
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#") else { return nil }
        var host = String(authority)
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {  // IPv6 literal
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(tls: scheme == "https", host: host, port: port, basePath: path)
    }

    /// The value for the Host header.
    public var hostHeader: String {
        let defaultPort = tls ? 443 : 80
        let name = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? name : "\(name):\(port)"
    }

    public var description: String {
        "\(tls ? "https" : "http")://\(hostHeader)\(basePath)"
    }

    var connectionKey: ConnectionKey { ConnectionKey(tls: tls, host: host, port: port) }

    struct ConnectionKey: Hashable {
        var tls: Bool
        var host: String
        var port: Int
    }
}
