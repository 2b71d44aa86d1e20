/// A parsed label selector (`tier=web,env in (a,b),!legacy`), with the grammar and the error texts of
/// Kubernetes' `labels.Parse`.
public struct LabelSelector: Sendable, Hashable {
    public enum Operator: Sendable, Hashable {
        case equals, notEquals, `in`, notIn, exists, doesNotExist, greaterThan, lessThan
    }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String]) {
            self.key = key
            self.op = op
            self.values = values
        }

        public func matches(_ labels: [String: String]) -> Bool {
            switch op {
            case .equals, .in: return labels[key].map { values.contains($0) } ?? false
            case .notEquals, .notIn: return labels[key].map { !values.contains($0) } ?? true
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            case .greaterThan, .lessThan:
                guard let raw = labels[key], let have = Int64(raw), let wantRaw = values.first, let want = Int64(wantRaw) else { return false }
                return op == .greaterThan ? have > want : have < want
            }
        }
    }

    public var requirements: [Requirement]

    public init(requirements: [Requirement] = []) { self.requirements = requirements }

    public var isEmpty: Bool { requirements.isEmpty }

    /// A `metav1.LabelSelector` object (`matchLabels` and `matchExpressions`); nil when malformed.
    public init?(json selector: JSONValue) {
        var requirements: [Requirement] = []
        for (k, v) in selector["matchLabels"]?.objectValue ?? [:] {
            requirements.append(.init(key: k, op: .equals, values: [v.stringValue ?? ""]))
        }
        for e in selector["matchExpressions"]?.arrayValue ?? [] {
            guard let key = e["key"]?.stringValue else { return nil }
            let values = e["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            switch e["operator"]?.stringValue {
            case "In": requirements.append(.init(key: key, op: .in, values: values))
            case "NotIn": requirements.append(.init(key: key, op: .notIn, values: values))
            case "Exists": requirements.append(.init(key: key, op: .exists, values: []))
            case "DoesNotExist": requirements.append(.init(key: key, op: .doesNotExist, values: []))
            default: return nil
            }
        }
        self.init(requirements: requirements)
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// Parses the string form; throws with the same message kube-apiserver returns in a 400.
    public static func parse(_ text: String) throws(SelectorError) -> LabelSelector {
        var parser = SelectorParser(tokens: SelectorLexer.tokens(text))
        return LabelSelector(requirements: try parser.parse())
    }
}

public struct SelectorError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

enum SelectorToken: Equatable {
    case identifier(String), `in`, notIn, not, notEquals, equals, doubleEquals, greater, less
    case open, close, comma, end

    var literal: String {
        switch self {
        case .identifier(let s): return s
        case .in: return "in"
        case .notIn: return "notin"
        case .not: return "!"
        case .notEquals: return "!="
        case .equals: return "="
        case .doubleEquals: return "=="
        case .greater: return ">"
        case .less: return "<"
        case .open: return "("
        case .close: return ")"
        case .comma: return ","
        case .end: return ""
        }
    }
}

enum SelectorLexer {
    static func tokens(_ text: String) -> [SelectorToken] {
        var out: [SelectorToken] = []
        let chars = Array(text)
        var i = 0
        let special: Set<Character> = ["=", "!", "(", ")", ",", ">", "<"]
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if special.contains(c) {
                var s = String(c)
                i += 1
                while i < chars.count, special.contains(chars[i]) {
                    let candidate = s + String(chars[i])
                    if ["!=", "=="].contains(candidate) { s = candidate; i += 1 } else { break }
                }
                switch s {
                case "!=": out.append(.notEquals)
                case "==": out.append(.doubleEquals)
                case "=": out.append(.equals)
                case "!": out.append(.not)
                case "(": out.append(.open)
                case ")": out.append(.close)
                case ",": out.append(.comma)
                case ">": out.append(.greater)
                default: out.append(.less)
                }
                continue
            }
            var s = ""
            while i < chars.count, !chars[i].isWhitespace, !special.contains(chars[i]) {
                s.append(chars[i])
                i += 1
            }
            switch s {
            case "in": out.append(.in)
            case "notin": out.append(.notIn)
            default: out.append(.identifier(s))
            }
        }
        out.append(.end)
        return out
    }
}

struct SelectorParser {
    var tokens: [SelectorToken]
    var position = 0

    /// In value position the keywords `in`/`notin` are plain identifiers.
    func lookahead(values: Bool) -> SelectorToken {
        let t = tokens[position]
        if values, t == .in || t == .notIn { return .identifier(t.literal) }
        return t
    }

    mutating func consume(values: Bool) -> SelectorToken {
        let t = lookahead(values: values)
        if position < tokens.count - 1 { position += 1 }
        return t
    }

    mutating func parse() throws(SelectorError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        while true {
            let t = lookahead(values: true)
            switch t {
            case .identifier, .not:
                do {
                    requirements.append(try parseRequirement())
                } catch {
                    throw SelectorError(message: "unable to parse requirement: \(error.message)")
                }
                let next = consume(values: true)
                switch next {
                case .end: return requirements
                case .comma:
                    let after = lookahead(values: true)
                    if case .identifier = after { continue }
                    if after == .not { continue }
                    throw SelectorError(message: "found '\(after.literal)', expected: identifier after ','")
                default:
                    throw SelectorError(message: "found '\(next.literal)', expected: ',' or 'end of string'")
                }
            case .end:
                return requirements
            default:
                throw SelectorError(message: "found '\(t.literal)', expected: !, identifier, or 'end of string'")
            }
        }
    }

    mutating func parseRequirement() throws(SelectorError) -> LabelSelector.Requirement {
        var t = consume(values: true)
        var negated = false
        if t == .not {
            negated = true
            t = consume(values: true)
        }
        guard case .identifier(let key) = t else {
            throw SelectorError(message: "found '\(t.literal)', expected: identifier")
        }
        try validateKey(key)
        let next = lookahead(values: true)
        if next == .end || next == .comma {
            return .init(key: key, op: negated ? .doesNotExist : .exists, values: [])
        }
        if negated {
            // `!key` must be followed by ',' or the end.
            throw SelectorError(message: "found '\(next.literal)', expected: ',' or 'end of string'")
        }
        let opToken = consume(values: false)
        let op: LabelSelector.Operator
        switch opToken {
        case .in: op = .in
        case .notIn: op = .notIn
        case .equals, .doubleEquals: op = .equals
        case .notEquals: op = .notEquals
        case .greater: op = .greaterThan
        case .less: op = .lessThan
        default:
            throw SelectorError(message: "found '\(opToken.literal)', expected: in, notin, =, ==, !=, gt, lt")
        }
        let values: [String]
        switch op {
        case .in, .notIn: values = try parseValues()
        default: values = try parseExactValue()
        }
        for v in values { try validateValue(v) }
        return .init(key: key, op: op, values: values.sorted())
    }

    mutating func parseValues() throws(SelectorError) -> [String] {
        let open = consume(values: true)
        guard open == .open else { throw SelectorError(message: "found '\(open.literal)' expected: '('") }
        let t = lookahead(values: true)
        switch t {
        case .identifier, .comma:
            let list = try parseIdentifiersList()
            let close = consume(values: true)
            guard close == .close else { throw SelectorError(message: "found '\(t.literal)', expected: ')'") }
            return list
        case .close:
            _ = consume(values: true)
            return [""]
        default:
            throw SelectorError(message: "found '\(t.literal)', expected: ',', ')' or identifier")
        }
    }

    mutating func parseIdentifiersList() throws(SelectorError) -> [String] {
        var set: Set<String> = []
        while true {
            let t = consume(values: true)
            switch t {
            case .identifier(let s):
                set.insert(s)
                let next = lookahead(values: true)
                switch next {
                case .comma: _ = consume(values: true); continue
                case .close: return Array(set)
                default: throw SelectorError(message: "found '\(next.literal)', expected: ',' or ')'")
                }
            case .comma:
                set.insert("")
                let next = lookahead(values: true)
                if next == .close { return Array(set) }
            default:
                throw SelectorError(message: "found '\(t.literal)', expected: ',', or identifier")
            }
        }
    }

    mutating func parseExactValue() throws(SelectorError) -> [String] {
        let t = lookahead(values: true)
        if t == .end || t == .comma { return [""] }
        let v = consume(values: true)
        if case .identifier(let s) = v { return [s] }
        throw SelectorError(message: "found '\(v.literal)', expected: identifier")
    }

    func validateKey(_ key: String) throws(SelectorError) {
        if let problem = NameValidation.qualifiedNameProblem(key) {
            throw SelectorError(message: "key: Invalid value: \"\(key)\": \(problem)")
        }
    }

    func validateValue(_ value: String) throws(SelectorError) {
        if let problem = NameValidation.labelValueProblem(value) {
            throw SelectorError(message: "values[0]: Invalid value: \"\(value)\": \(problem)")
        }
    }
}
