/// Prometheus' text exposition format (version 0.0.4), written line by line: the gateway's
/// `/admin/metrics` and the engine simulator's vLLM-shaped `/metrics`.
public struct PrometheusText {
    public private(set) var text = ""

    public init() {}

    /// The `# HELP` and `# TYPE` lines that open a metric family.
    public mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// One sample; label values are escaped, `value` is written as given.
    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{"
            for (index, (label, labelValue)) in labels.enumerated() {
                if index > 0 { text += "," }
                text += "\(label)=\"\(Self.escape(labelValue))\""
            }
            text += "}"
        }
        text += " \(value)\n"
    }

    /// A histogram's samples. `counts` holds the observations per bucket, not cumulative: one per
    /// bound, then those above the last bound (the `+Inf` bucket's own).
    public mutating func histogram(
        _ name: String, _ labels: [(String, String)], bounds: [Double], counts: [Int], sumSeconds: Double
    ) {
        precondition(counts.count == bounds.count + 1, "one count per bound, and one above the last")
        var cumulative = 0
        for (index, count) in counts.enumerated() {
            cumulative += count
            sample(name + "_bucket", labels + [("le", index < bounds.count ? "\(bounds[index])" : "+Inf")], "\(cumulative)")
        }
        sample(name + "_sum", labels, "\(sumSeconds)")
        sample(name + "_count", labels, "\(cumulative)")
    }

    /// A label value escaped as the format asks: backslash, double quote and newline.
    public static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
