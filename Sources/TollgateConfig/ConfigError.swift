/// A configuration file that cannot be used, with the file, the line and the reason.
///
/// The description reads `file:line: reason` so editors and CI logs can jump to the spot.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    /// 1-based line number; 0 when the problem is the file as a whole (missing, unreadable).
    public var line: Int
    public var reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)"
    }
}
