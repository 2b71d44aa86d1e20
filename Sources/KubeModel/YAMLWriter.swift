/// Block-style YAML for output meant for people (command output, diffs): keys sorted, scalars
/// written as JSON, which YAML reads as the same values.
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

    /// A key YAML reads as itself without quotes.
    static func plain(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return key.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "._/-".unicodeScalars.contains($0) }
    }
}
