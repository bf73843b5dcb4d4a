import TollgateWire

/// The JSON of `GET/POST /sim/faults`. A POST names only what changes:
/// `{"error_rate":0.5,"refuse_connections":true,"refuse_for_ms":2000,"stall_ms":100,
/// "drop_after_chunks":3,"unhealthy":false,"omit_usage":true}` (`drop_after_chunks: null` turns
/// dropping off).
enum SimFaultsJSON {
    struct Update {
        var errorRate: Double?
        var refuseConnections: Bool?
        /// With `refuse_connections: true`: listen again after this long.
        var refuseForMs: Int?
        var stallMs: Int?
        /// `.some(nil)`: stop dropping.
        var dropAfterChunks: Int??
        var unhealthy: Bool?
        var omitUsage: Bool?

        func apply(to faults: inout EngineSimFaults) {
            if let errorRate { faults.errorRate = errorRate }
            if let refuseConnections { faults.refuseConnections = refuseConnections }
            if let stallMs { faults.stallMs = stallMs }
            if let dropAfterChunks { faults.dropAfterChunks = dropAfterChunks }
            if let unhealthy { faults.unhealthy = unhealthy }
            if let omitUsage { faults.omitUsage = omitUsage }
        }
    }

    struct FieldError: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ bytes: UnsafeRawBufferPointer) throws -> Update {
        var update = Update()
        var scanner = JSONScanner(bytes)
        func integer(_ value: inout JSONScanner, _ name: String) throws -> Int {
            guard try value.peekKind() == .number, let number = try value.readInt() else {
                throw FieldError(description: "'\(name)' must be an integer.")
            }
            return number
        }
        func boolean(_ value: inout JSONScanner, _ name: String) throws -> Bool {
            guard try value.peekKind() == .bool else { throw FieldError(description: "'\(name)' must be a boolean.") }
            return try value.readBool()
        }
        do {
            guard bytes.count > 0, try scanner.peekKind() == .object else {
                throw FieldError(description: "The body must be a JSON object.")
            }
            try scanner.walkObject { key, _, value in
                if JSONScanner.key(key, is: "error_rate") {
                    guard try value.peekKind() == .number else { throw FieldError(description: "'error_rate' must be a number.") }
                    let range = try value.skipValue().range
                    update.errorRate = Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
                } else if JSONScanner.key(key, is: "refuse_connections") {
                    update.refuseConnections = try boolean(&value, "refuse_connections")
                } else if JSONScanner.key(key, is: "refuse_for_ms") {
                    update.refuseForMs = try integer(&value, "refuse_for_ms")
                } else if JSONScanner.key(key, is: "stall_ms") {
                    update.stallMs = try integer(&value, "stall_ms")
                } else if JSONScanner.key(key, is: "drop_after_chunks") {
                    if try value.peekKind() == .null {
                        try value.skipValue()
                        update.dropAfterChunks = .some(nil)
                    } else {
                        update.dropAfterChunks = .some(try integer(&value, "drop_after_chunks"))
                    }
                } else if JSONScanner.key(key, is: "unhealthy") {
                    update.unhealthy = try boolean(&value, "unhealthy")
                } else if JSONScanner.key(key, is: "omit_usage") {
                    update.omitUsage = try boolean(&value, "omit_usage")
                } else {
                    throw FieldError(description: "Unknown fault '\(String(decoding: key, as: UTF8.self))'.")
                }
            }
            try scanner.expectEnd()
        } catch let error as FieldError {
            throw error
        } catch {
            throw FieldError(description: "The body is not valid JSON (\(error)).")
        }
        return update
    }

    static func write(_ faults: EngineSimFaults) -> [UInt8] {
        var out = Array(#"{"error_rate":"#.utf8)
        out.append(contentsOf: String(faults.errorRate).utf8)
        out.append(contentsOf: #","refuse_connections":"#.utf8)
        out.append(contentsOf: (faults.refuseConnections ? "true" : "false").utf8)
        out.append(contentsOf: #","stall_ms":"#.utf8)
        Decimal.append(faults.stallMs, to: &out)
        out.append(contentsOf: #","drop_after_chunks":"#.utf8)
        if let drop = faults.dropAfterChunks { Decimal.append(drop, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","unhealthy":"#.utf8)
        out.append(contentsOf: (faults.unhealthy ? "true" : "false").utf8)
        out.append(contentsOf: #","omit_usage":"#.utf8)
        out.append(contentsOf: (faults.omitUsage ? "true" : "false").utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
