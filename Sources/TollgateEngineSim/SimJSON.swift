import TollgateWire

/// A small JSON tree, read with ``JSONScanner``: only for tool parameter schemas, which the
/// simulator walks to invent plausible arguments.
indirect enum SimJSON: Equatable {
    case object([(String, SimJSON)])
    case array([SimJSON])
    case string(String)
    /// The number as written.
    case number(String)
    case bool(Bool)
    case null

    static func == (lhs: SimJSON, rhs: SimJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    static func read(_ scanner: inout JSONScanner, depth: Int = 0) throws -> SimJSON {
        guard depth < 64 else {
            try scanner.skipValue()
            return .null
        }
        switch try scanner.peekKind() {
        case .object:
            var members: [(String, SimJSON)] = []
            try scanner.walkObject { key, _, value in
                let name = String(decoding: key, as: UTF8.self)
                members.append((name, try read(&value, depth: depth + 1)))
            }
            return .object(members)
        case .array:
            var items: [SimJSON] = []
            try scanner.walkArray { _, value in items.append(try read(&value, depth: depth + 1)) }
            return .array(items)
        case .string:
            return .string(try scanner.readString())
        case .number:
            let range = try scanner.skipValue().range
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self))
        case .bool:
            return .bool(try scanner.readBool())
        case .null:
            try scanner.skipValue()
            return .null
        }
    }

    subscript(key: String) -> SimJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Writes the value the way Python's `json.dumps` does by default (`", "` and `": "`), which is
    /// how vLLM's DeepSeek V4 tool parser renders arguments; non-ASCII is kept raw.
    func write(to out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(contentsOf: ", ".utf8) }
                JSONWriter.appendString(member.0, to: &out)
                out.append(contentsOf: ": ".utf8)
                member.1.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(contentsOf: ", ".utf8) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let value): JSONWriter.appendString(value, to: &out)
        case .number(let raw): out.append(contentsOf: raw.utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }
}

/// Invents arguments for a function from its JSON Schema `parameters`: one plausible value per
/// property, deterministic for a seed.
enum ToolArguments {
    static func generate(schema: SimJSON?, seed: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        let value = schema.map { self.value(for: $0, name: "value", seed: seed, depth: 0) } ?? .object([])
        if case .object = value {
            value.write(to: &out)
        } else {
            // Arguments are always an object, even when the schema says otherwise.
            SimJSON.object([]).write(to: &out)
        }
        return out
    }

    static func value(for schema: SimJSON, name: String, seed: UInt64, depth: Int) -> SimJSON {
        let seed = PromptHash.mix(seed, UInt64(truncatingIfNeeded: name.hashValueStable))
        if let constant = schema["const"] { return constant }
        if case .array(let options)? = schema["enum"], !options.isEmpty {
            return options[Int(seed % UInt64(options.count))]
        }
        if let defaultValue = schema["default"] { return defaultValue }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            if case .array(let options)? = schema[combinator], let first = options.first {
                return value(for: first, name: name, seed: seed, depth: depth)
            }
        }
        switch type(of: schema) {
        case "object":
            guard depth < 8 else { return .object([]) }
            var members: [(String, SimJSON)] = []
            if case .object(let properties)? = schema["properties"] {
                for (property, propertySchema) in properties {
                    members.append((property, value(for: propertySchema, name: property, seed: seed, depth: depth + 1)))
                }
            }
            return .object(members)
        case "array":
            guard depth < 8, let items = schema["items"] else { return .array([]) }
            return .array([value(for: items, name: name, seed: seed, depth: depth + 1)])
        case "integer":
            if case .number(let minimum)? = schema["minimum"], let low = Int(minimum) {
                return .number(String(low + Int(seed % 10)))
            }
            return .number(String(1 + Int(seed % 100)))
        case "number":
            return .number(String(Double(seed % 10_000) / 100))
        case "boolean":
            return .bool(seed & 1 == 0)
        case "null":
            return .null
        default:
            return .string(sampleString(name: name, format: schema["format"]?.stringValue, seed: seed))
        }
    }

    private static func type(of schema: SimJSON) -> String {
        switch schema["type"] {
        case .string(let type)?: return type
        case .array(let types)?:
            return types.compactMap(\.stringValue).first { $0 != "null" } ?? "null"
        default:
            return schema["properties"] != nil ? "object" : "string"
        }
    }

    private static let cities = ["Paris", "Tokyo", "Berlin", "Lagos", "Lima", "Hangzhou", "Toronto", "Sydney"]
    private static let words = ["alpha", "report", "summary", "ledger", "invoice", "forecast", "draft", "cluster"]

    private static func sampleString(name: String, format: String?, seed: UInt64) -> String {
        switch format {
        case "date": return "2026-0\(1 + seed % 9)-1\(seed % 10)"
        case "date-time": return "2026-0\(1 + seed % 9)-1\(seed % 10)T12:00:00Z"
        case "email": return "user\(seed % 100)@example.com"
        case "uri", "url": return "https://example.com/\(words[Int(seed % 8)])"
        case "uuid": return "00000000-0000-4000-8000-\(String(seed % 1_000_000_000_000, radix: 10).leftPadded(12))"
        default: break
        }
        let lower = name.lowercased()
        if lower.contains("city") || lower.contains("location") || lower.contains("place") {
            return cities[Int(seed % UInt64(cities.count))]
        }
        if lower.contains("unit") { return seed & 1 == 0 ? "celsius" : "fahrenheit" }
        if lower.contains("query") || lower.contains("text") || lower.contains("prompt") {
            return "\(words[Int(seed % 8)]) \(words[Int((seed >> 8) % 8)])"
        }
        return "\(name) \(words[Int(seed % 8)])"
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per process).
    fileprivate var hashValueStable: UInt64 {
        var hash = PromptHash.offsetBasis
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* PromptHash.prime }
        return hash
    }

    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
