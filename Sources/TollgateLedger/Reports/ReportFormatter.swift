import Foundation
import TollgateMoney

/// Renders a ``Report`` as a text table, CSV or JSON (the CLI and the admin API share it).
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, csv, json

    /// A CSV field, quoted only when it must be (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `grid`'s lines in aligned columns, two spaces apart: the first `textColumns` left-aligned,
    /// the numbers after them right-aligned; and a rule of dashes as wide as each column.
    static func alignedColumns(_ grid: [[String]], textColumns: Int) -> (lines: [String], rule: String) {
        var widths = Array(repeating: 0, count: grid.first?.count ?? 0)
        for line in grid { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let lines = grid.map { line in
            line.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < textColumns ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        return (lines, widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
    }
}

extension Report {
    /// The report in `format`, ending with a newline.
    public func rendered(as format: ReportFormat) -> String {
        switch format {
        case .json: return jsonString() + "\n"
        case .csv: return csv()
        case .table: return table()
        }
    }

    private var dimensions: [ReportDimension] {
        var result: [ReportDimension] = []
        for dimension in query.groupBy where !result.contains(dimension) { result.append(dimension) }
        return result
    }

    private static let numericHeaders = [
        "requests", "errors", "prompt_tokens", "cache_hit_tokens", "completion_tokens", "reasoning_tokens",
        "cost", "list_cost", "savings", "currency",
    ]

    private func numericCells(_ totals: UsageTotals, _ currency: String) -> [String] {
        [
            String(totals.requests), String(totals.errors), String(totals.promptTokens),
            String(totals.cacheHitTokens), String(totals.completionTokens), String(totals.reasoningTokens),
            Money(nanos: totals.costNanos, currency: currency).decimalString,
            Money(nanos: totals.listCostNanos, currency: currency).decimalString,
            Money(nanos: totals.savingsNanos, currency: currency).decimalString, currency,
        ]
    }

    private func csv() -> String {
        var lines = [(dimensions.map(\.rawValue) + Self.numericHeaders).joined(separator: ",")]
        for row in rows {
            lines.append(
                (dimensions.map { row.value(of: $0) } + numericCells(row.totals, row.currency)).map(ReportFormat.csvField)
                    .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func table() -> String {
        var grid = [dimensions.map(\.rawValue) + Self.numericHeaders]
        for row in rows { grid.append(dimensions.map { row.value(of: $0) } + numericCells(row.totals, row.currency)) }
        let totalLabel = dimensions.isEmpty ? [] : ["TOTAL"] + Array(repeating: "", count: dimensions.count - 1)
        grid.append(totalLabel + numericCells(total, currency))
        let (lines, rule) = ReportFormat.alignedColumns(grid, textColumns: dimensions.count)
        var out = [lines[0], rule] + lines.dropFirst().dropLast() + [rule, lines[lines.count - 1]]
        if let percent = total.savingsPercent { out.append("savings vs API list price: \(percent)%") }
        return out.joined(separator: "\n") + "\n"
    }

    /// `{"from", "to", "team", "group_by", "rows": [...], "total": {"requests", "cost", "currency",
    /// "list_cost", "savings", "savings_percent", ...}}`. Money is a decimal string, never a float.
    public func jsonObject() -> [String: Any] {
        func object(_ totals: UsageTotals, _ currency: String) -> [String: Any] {
            [
                "requests": totals.requests, "errors": totals.errors, "prompt_tokens": totals.promptTokens,
                "cache_hit_tokens": totals.cacheHitTokens, "completion_tokens": totals.completionTokens,
                "reasoning_tokens": totals.reasoningTokens,
                "cost": Money(nanos: totals.costNanos, currency: currency).decimalString,
                "list_cost": Money(nanos: totals.listCostNanos, currency: currency).decimalString,
                "savings": Money(nanos: totals.savingsNanos, currency: currency).decimalString,
                "savings_percent": totals.savingsPercent as Any? ?? NSNull(),
                "currency": currency,
            ]
        }
        let rowObjects: [[String: Any]] = rows.map { row in
            var entry = object(row.totals, row.currency)
            for dimension in dimensions { entry[dimension.rawValue] = row.value(of: dimension) }
            return entry
        }
        return [
            "from": query.from.description, "to": query.to.description,
            "team": query.team as Any? ?? NSNull(), "group_by": dimensions.map(\.rawValue),
            "rows": rowObjects, "total": object(total, currency),
        ]
    }

    /// ``jsonObject()`` serialised with sorted keys.
    public func jsonString() -> String {
        let data = (try? JSONSerialization.data(withJSONObject: jsonObject(), options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
