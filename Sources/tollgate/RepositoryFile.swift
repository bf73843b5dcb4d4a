import Foundation

/// Files the commands use from the repository checkout (scripts, the price book), found in the
/// current directory or in `$TOLLGATE_HOME`.
enum RepositoryFile {
    struct Missing: Error, CustomStringConvertible {
        var relativePath: String
        var searched: [String]
        var description: String {
            "\(relativePath) not found in \(searched.joined(separator: " or ")); run from the repository root or set TOLLGATE_HOME to it"
        }
    }

    static func locate(_ relativePath: String) throws -> String {
        var roots = [FileManager.default.currentDirectoryPath]
        if let home = ProcessInfo.processInfo.environment["TOLLGATE_HOME"], !home.isEmpty { roots.append(home) }
        for root in roots {
            let candidate = URL(fileURLWithPath: root).appendingPathComponent(relativePath).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        throw Missing(relativePath: relativePath, searched: roots)
    }
}
