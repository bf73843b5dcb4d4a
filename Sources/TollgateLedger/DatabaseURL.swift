import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=...` URL.
///
/// `sslmode` may be `disable` (the default, as the gateway normally talks to PostgreSQL on a
/// private network or loopback), `prefer` or `require`. A `host` query item naming a folder
/// (`?host=/var/run/postgresql`) connects through that Unix socket.
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: String
    public var socketFolder: String?

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw LedgerError(.invalidDatabaseURL, "expected postgres://user@host:port/database")
        }
        let items = components.queryItems ?? []
        self.socketFolder = items.first(where: { $0.name == "host" })?.value
        self.host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        self.port = components.port ?? 5432
        self.username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else {
            throw LedgerError(.invalidDatabaseURL, "the URL names no database")
        }
        self.database = path.removingPercentEncoding ?? path
        self.sslMode = items.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw LedgerError(.invalidDatabaseURL, "sslmode must be disable, prefer or require")
        }
    }

    /// The same server with another database name (tests and `CREATE DATABASE` use it).
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The URL without its password, safe to log.
    public var description: String {
        var text = "postgres://\(username)@\(host):\(port)/\(database)"
        if sslMode != "disable" { text += "?sslmode=\(sslMode)" }
        return text
    }

    /// A PostgresNIO client configuration for this URL.
    public func clientConfiguration(maximumConnections: Int = 20) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketFolder {
            configuration = .init(
                unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: username, password: password,
                database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case "require": tls = .require(.makeClientConfiguration())
            case "prefer": tls = .prefer(.makeClientConfiguration())
            default: tls = .disable
            }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }
}
