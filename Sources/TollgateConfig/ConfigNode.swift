import Foundation
import Yams

/// One node of a YAML configuration file, read with typed accessors that fail with a
/// ``ConfigError`` naming the file, the line and the reason.
///
/// Every config file in Tollgate (targets, price book, policies) is read through this type rather
/// than `Decodable`, because `DecodingError` has no line numbers and operators need them.
// @unchecked: Yams.Node is an immutable value tree (enums and structs of strings) that only lacks
// a Sendable annotation.
public struct ConfigNode: @unchecked Sendable {
    public let file: String
    /// Dotted path from the document root, e.g. `pools[1].endpoints[0]`, for messages.
    public let path: String
    let node: Node

    init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    /// Parses YAML text. An empty document is an error: a config file must say something.
    public static func parse(_ text: String, file: String) throws -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: error.line, reason: "invalid YAML: \(error.problem)")
        }
        guard let root else { throw ConfigError(file: file, line: 0, reason: "the file is empty") }
        return ConfigNode(node: root, file: file, path: "")
    }

    /// Reads and parses a file.
    public static func load(path: String) throws -> ConfigNode {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: 0, reason: "cannot read the file: \(whyUnreadable(path))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: firstLineNotUTF8(data), reason: "the file is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// The 1-based line holding the first byte sequence that is not UTF-8, so an operator can find
    /// the stray Latin-1 character.
    static func firstLineNotUTF8(_ data: Data) -> Int {
        var line = 1
        var decoder = UTF8()
        var bytes = data.makeIterator()
        while case .scalarValue(let scalar) = decoder.decode(&bytes) {
            if scalar == "\n" { line += 1 }
        }
        return line
    }

    public var line: Int { node.mark?.line ?? 0 }

    /// An error at this node.
    public func error(_ reason: String) -> ConfigError {
        let at = path.isEmpty ? "" : "\(path): "
        return ConfigError(file: file, line: line, reason: at + reason)
    }

    public func string() throws -> String {
        guard case let .scalar(scalar) = node else { throw error("expected a string") }
        return scalar.string
    }

    public func nonEmptyString() throws -> String {
        let value = try string()
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return value
    }

    public func int() throws -> Int {
        guard case let .scalar(scalar) = node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
        else { throw error("expected a whole number") }
        return value
    }

    /// A whole number in `range`, e.g. a port or a positive count.
    public func int(in range: ClosedRange<Int>) throws -> Int {
        let value = try int()
        guard range.contains(value) else { throw error("\(value) is not in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    /// A number that may have a fraction, e.g. seconds. Not for money: money is read as a
    /// decimal string and parsed exactly.
    public func double() throws -> Double {
        guard case let .scalar(scalar) = node, let value = Double(scalar.string), value.isFinite
        else { throw error("expected a number") }
        return value
    }

    public func bool() throws -> Bool {
        guard case let .scalar(scalar) = node else { throw error("expected true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, found '\(scalar.string)'")
        }
    }

    /// One of a fixed set of words.
    public func oneOf(_ allowed: [String]) throws -> String {
        let value = try string()
        guard allowed.contains(value) else {
            throw error("'\(value)' is not one of \(allowed.joined(separator: ", "))")
        }
        return value
    }

    public func sequence() throws -> [ConfigNode] {
        guard case let .sequence(items) = node else { throw error("expected a list") }
        return items.enumerated().map { index, item in
            ConfigNode(node: item, file: file, path: "\(path)[\(index)]")
        }
    }

    public func mapping() throws -> ConfigMapping {
        guard case let .mapping(pairs) = node else { throw error("expected a mapping of keys to values") }
        var entries: [(key: String, line: Int, value: ConfigNode)] = []
        var seen = Set<String>()
        for (key, value) in pairs {
            guard case let .scalar(scalar) = key else { throw error("keys must be plain strings") }
            let name = scalar.string
            // Yams resolves no merge keys, and an error inside the merged alias would point at its
            // anchor, lines away: refuse the key itself.
            guard name != "<<" else {
                throw ConfigError(
                    file: file, line: key.mark?.line ?? line,
                    reason: "\(path.isEmpty ? "" : "\(path): ")YAML merge keys (<<) are not supported; write the keys out")
            }
            guard seen.insert(name).inserted else {
                throw ConfigError(file: file, line: key.mark?.line ?? line, reason: "duplicate key '\(name)'")
            }
            let childPath = path.isEmpty ? name : "\(path).\(name)"
            entries.append((name, key.mark?.line ?? line, ConfigNode(node: value, file: file, path: childPath)))
        }
        return ConfigMapping(owner: self, entries: entries)
    }
}

/// A YAML mapping whose keys are checked: unknown keys are errors (a typo must not silently
/// fall back to a default).
public struct ConfigMapping: @unchecked Sendable {  // holds ConfigNodes, see above
    public let owner: ConfigNode
    let entries: [(key: String, line: Int, value: ConfigNode)]

    public var keys: [String] { entries.map(\.key) }

    /// The entries in file order.
    public var pairs: [(key: String, value: ConfigNode)] { entries.map { ($0.key, $0.value) } }

    public func optional(_ key: String) -> ConfigNode? {
        entries.first { $0.key == key }?.value
    }

    public func required(_ key: String) throws -> ConfigNode {
        guard let value = optional(key) else { throw owner.error("missing required key '\(key)'") }
        return value
    }

    /// Fails on the first key not in `allowed`, naming its line and the keys that are allowed.
    public func allowOnly(_ allowed: Set<String>) throws {
        for entry in entries where !allowed.contains(entry.key) {
            let at = owner.path.isEmpty ? "" : "\(owner.path): "
            throw ConfigError(
                file: owner.file, line: entry.line,
                reason: "\(at)unknown key '\(entry.key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

extension YamlError {
    var line: Int {
        switch self {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return mark.line
        case let .duplicatedKeysInMapping(_, context):
            return context.mark.line
        case let .reader(_, offset?, _, yaml):
            // The offset of the byte libyaml could not read: its line is one past the newlines before it.
            return 1 + yaml.utf8.prefix(offset).lazy.filter { $0 == UInt8(ascii: "\n") }.count
        default:
            return 0
        }
    }

    var problem: String {
        switch self {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _):
            return problem
        case let .duplicatedKeysInMapping(duplicates, _):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return "the mapping that starts here has the key \(keys) more than once"
        case let .reader(problem, _, value, _):
            return "\(problem) (character \(value))"
        default:
            return String(describing: self)
        }
    }
}
