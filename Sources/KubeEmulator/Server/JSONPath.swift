import Foundation
import KubeModel

/// The subset of Kubernetes JSONPath used by printer columns: `.a.b`, `['a']`, `[0]`, `[*]` and
/// filters `[?(@.type=="Ready")]` (`==`, `!=`).
struct JSONPath: Sendable {
    enum Step: Sendable {
        case field(String)
        case index(Int)
        case wildcard
        case filter(path: [String], op: String, value: JSONValue)
    }

    var steps: [Step]

    init?(_ expression: String) {
        var text = Substring(expression.trimmingSpaces)
        if text.hasPrefix("{") && text.hasSuffix("}") { text = text.dropFirst().dropLast() }
        if text.hasPrefix("$") { text = text.dropFirst() }
        var steps: [Step] = []
        while !text.isEmpty {
            if text.hasPrefix(".") {
                text = text.dropFirst()
                let name = text.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { return nil }
                steps.append(name == "*" ? .wildcard : .field(String(name)))
                text = text.dropFirst(name.count)
            } else if text.hasPrefix("[") {
                guard let close = JSONPath.matchingBracket(text) else { return nil }
                let inner = text[text.index(after: text.startIndex)..<close].trimmingCharacters
                text = text[text.index(after: close)...]
                if inner == "*" {
                    steps.append(.wildcard)
                } else if let i = Int(inner) {
                    steps.append(.index(i))
                } else if inner.hasPrefix("'") || inner.hasPrefix("\"") {
                    steps.append(.field(String(inner.dropFirst().dropLast())))
                } else if inner.hasPrefix("?(") && inner.hasSuffix(")") {
                    guard let f = JSONPath.filter(String(inner.dropFirst(2).dropLast())) else { return nil }
                    steps.append(f)
                } else {
                    return nil
                }
            } else {
                return nil
            }
        }
        self.steps = steps
    }

    static func matchingBracket(_ s: Substring) -> Substring.Index? {
        var depth = 0
        var quote: Character? = nil
        for i in s.indices {
            let c = s[i]
            if let q = quote { if c == q { quote = nil }; continue }
            if c == "\"" || c == "'" { quote = c; continue }
            if c == "[" { depth += 1 }
            if c == "]" { depth -= 1; if depth == 0 { return i } }
        }
        return nil
    }

    static func filter(_ expr: String) -> Step? {
        for op in ["==", "!="] {
            guard let r = expr.range(of: op) else { continue }
            let lhs = expr[..<r.lowerBound].trimmingCharacters
            let rhs = expr[r.upperBound...].trimmingCharacters
            guard lhs.hasPrefix("@") else { return nil }
            let path = lhs.dropFirst().split(separator: ".").map(String.init)
            let value: JSONValue
            if rhs.hasPrefix("\"") || rhs.hasPrefix("'") {
                value = .string(String(rhs.dropFirst().dropLast()))
            } else if let i = Int64(rhs) {
                value = .int(i)
            } else if rhs == "true" || rhs == "false" {
                value = .bool(rhs == "true")
            } else {
                value = .string(String(rhs))
            }
            return .filter(path: path, op: op, value: value)
        }
        return nil
    }

    func evaluate(_ root: JSONValue) -> [JSONValue] {
        var current = [root]
        for step in steps {
            var next: [JSONValue] = []
            for v in current {
                switch step {
                case .field(let name):
                    if let c = v[name] { next.append(c) }
                case .index(let i):
                    if let a = v.arrayValue {
                        let j = i < 0 ? a.count + i : i
                        if a.indices.contains(j) { next.append(a[j]) }
                    }
                case .wildcard:
                    if let a = v.arrayValue { next += a } else if let o = v.objectValue { next += o.keys.sorted().map { o[$0]! } }
                case .filter(let path, let op, let value):
                    for item in v.arrayValue ?? [] {
                        let actual = item[path: path]
                        let equal = actual.map { $0.semanticallyEquals(value) } ?? false
                        if (op == "==") == equal && (actual != nil || op == "!=") { next.append(item) }
                    }
                }
            }
            current = next
        }
        return current
    }
}

extension Substring {
    var trimmingCharacters: String { String(self).trimmingSpaces }
}
