/// Block-style YAML for output meant for people (command output, diffs): keys sorted, scalars
/// written as JSON, which YAML reads as the same values; multi-line strings as literal blocks
/// (`|`), so that a one-line change in an embedded file is a one-line change in a diff.
public enum YAMLWriter {
    public static func write(_ value: JSONValue, indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .object(let o) where !o.isEmpty:
            return o.keys.sorted().map { k in
                let v = o[k]!
                let key = plain(k) ? k : JSONValue.string(k).jsonString()
                switch v {
                case .object(let inner) where !inner.isEmpty: return "\(pad)\(key):\n" + write(v, indent: indent + 2)
                case .array(let items) where !items.isEmpty: return "\(pad)\(key):\n" + write(v, indent: indent)
                case .string(let s): return "\(pad)\(key): " + (literalBlock(s, indent: indent + 2) ?? v.jsonString() + "\n")
                default: return "\(pad)\(key): \(v.jsonString())\n"
                }
            }.joined()
        case .array(let items) where !items.isEmpty:
            return items.map { item in
                let body = write(item, indent: indent + 2)
                if case .object(let o) = item, !o.isEmpty { return pad + "- " + body.dropFirst(indent + 2) }
                if case .array(let a) = item, !a.isEmpty { return pad + "-\n" + body }
                return pad + "- " + item.jsonString() + "\n"
            }.joined()
        default:
            return pad + value.jsonString() + "\n"
        }
    }

    /// `|`, `|-` or `|+` and the lines, indented; nil when the string is better as JSON (one
    /// line, carriage returns, a first line starting with a space, blank only).
    static func literalBlock(_ s: String, indent: Int) -> String? {
        guard s.contains("\n"), !s.contains("\r") else { return nil }
        var body = Substring(s)
        var trailing = 0
        while body.hasSuffix("\n") {
            body = body.dropLast()
            trailing += 1
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first(where: { !$0.isEmpty }), !first.hasPrefix(" "), !first.hasPrefix("\t"),
              lines.first?.isEmpty == false else { return nil }
        let chomp = trailing == 0 ? "-" : trailing == 1 ? "" : "+"
        let pad = String(repeating: " ", count: indent)
        let all = lines.map { $0.isEmpty ? "" : pad + $0 } + Array(repeating: "", count: max(0, trailing - 1))
        return "|\(chomp)\n" + all.joined(separator: "\n") + "\n"
    }

    /// YAML 1.1 reads these bare words as booleans or null.
    static let reserved: Set<String> = ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
                                        "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"]

    /// A key YAML reads as itself without quotes.
    static func plain(_ key: String) -> Bool {
        guard !reserved.contains(key), let first = key.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return key.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "._/-".unicodeScalars.contains($0) }
    }
}
