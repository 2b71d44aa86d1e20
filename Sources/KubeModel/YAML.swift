import CYAML

/// A YAML error with the 1-based line (and column) where libyaml stopped.
public struct YAMLError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let line: Int
    public let column: Int
    public var description: String { "line \(line): \(message)" }
}

/// Limits that keep hostile documents (alias bombs, deep nesting) bounded in time and memory.
public struct YAMLLimits: Sendable {
    public var maxDepth: Int = 512
    /// The number of nodes aliases may expand to, across one stream.
    public var maxAliasExpansion: Int = 100_000
    /// Documents in one stream (empty ones count: a file of a million `---` is refused, not parsed).
    public var maxDocuments: Int = 100_000
    public init() {}
}

/// Decodes YAML into JSON-compatible values, the way Kubernetes reads YAML (sigs.k8s.io/yaml over a
/// YAML 1.1 resolver): `yes`/`on` are booleans, `0777` is octal, timestamps stay strings.
/// Built directly on libyaml's event parser for speed.
public enum YAML {
    /// All documents of a stream; empty documents are returned as `.null`.
    public static func decodeAll(_ text: String, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> [JSONValue] {
        var text = text
        return try text.withUTF8 { bytes in
            Result { () throws(YAMLError) in try decodeAll(bytes: bytes, limits: limits) }
        }.get()
    }

    public static func decodeAll(bytes: UnsafeBufferPointer<UInt8>, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> [JSONValue] {
        var builder = YAMLBuilder(limits: limits)
        return try builder.run(bytes)
    }

    /// All documents of a stream with the 1-based line each starts on (empty ones are `.null`).
    public static func documents(bytes: UnsafeBufferPointer<UInt8>, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> [YAMLDocument] {
        var builder = YAMLBuilder(limits: limits)
        let values = try builder.run(bytes)
        return zip(values, builder.documentLines).map { YAMLDocument(value: $0, line: $1) }
    }

    /// Exactly one document (an empty stream is `.null`).
    /// A plain (unquoted) scalar as the decoder types it: null, bool, int, float or string.
    public static func resolvePlainScalar(_ value: String) -> JSONValue { YAMLBuilder.resolvePlain(value) }

    public static func decode(_ text: String) throws(YAMLError) -> JSONValue {
        let docs = try decodeAll(text)
        if docs.count > 1 { throw YAMLError(message: "expected a single document, found \(docs.count)", line: 1, column: 1) }
        return docs.first ?? .null
    }
}

/// One document of a YAML stream and the line it starts on.
public struct YAMLDocument: Sendable, Hashable {
    public var value: JSONValue
    public var line: Int

    public init(value: JSONValue, line: Int) {
        self.value = value
        self.line = line
    }
}

struct YAMLBuilder {
    /// An open sequence or mapping. Mutated in place on the stack (never copied out and back: a
    /// copy of a half-built dictionary per key made parsing quadratic in a mapping's size).
    struct Frame {
        var isMapping: Bool
        var anchor: String?
        var items: [JSONValue] = []
        var map: [String: JSONValue] = [:]
        var pendingKey: String? = nil
        var merges: [[String: JSONValue]] = []
    }

    let limits: YAMLLimits
    var stack: [Frame] = []
    var anchors: [String: JSONValue] = [:]
    var documents: [JSONValue] = []
    /// Where each document's content starts (its first node; the marker line when empty).
    var documentLines: [Int] = []
    var documentLine: Int? = nil
    var documentHasNode = false
    var current: JSONValue? = nil
    var aliasBudget: Int

    init(limits: YAMLLimits) {
        self.limits = limits
        self.aliasBudget = limits.maxAliasExpansion
    }

    mutating func run(_ bytes: UnsafeBufferPointer<UInt8>) throws(YAMLError) -> [JSONValue] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(message: "cannot initialise the YAML parser", line: 0, column: 0)
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                let context = parser.context.map { String(cString: $0) + " " } ?? ""
                let mark = parser.problem_mark
                throw YAMLError(message: context + problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
            }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            if !documentHasNode, stack.isEmpty, event.type == YAML_SCALAR_EVENT || event.type == YAML_SEQUENCE_START_EVENT
                || event.type == YAML_MAPPING_START_EVENT || event.type == YAML_ALIAS_EVENT {
                documentHasNode = true
                documentLine = line
            }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                current = nil
                documentLine = line
            case YAML_DOCUMENT_END_EVENT:
                guard documents.count < limits.maxDocuments else {
                    throw YAMLError(message: "more than \(limits.maxDocuments) documents in one file", line: line, column: column)
                }
                documents.append(current ?? .null)
                documentLines.append(documentLine ?? line)
                documentLine = nil
                documentHasNode = false
                current = nil
                anchors.removeAll()
            case YAML_SCALAR_EVENT:
                let s = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                let tag = s.tag.map { String(cString: $0) }
                let plain = s.style == YAML_PLAIN_SCALAR_STYLE
                let resolved = try resolveScalar(value, tag: tag, plain: plain, line: line, column: column)
                if let a = s.anchor { anchors[String(cString: a)] = resolved }
                try emit(resolved, line: line, column: column)
            case YAML_SEQUENCE_START_EVENT:
                try push(Frame(isMapping: false, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }), line: line, column: column)
            case YAML_SEQUENCE_END_EVENT:
                guard let frame = stack.popLast(), !frame.isMapping else { break }
                let value = JSONValue.array(frame.items)
                if let anchor = frame.anchor { anchors[anchor] = value }
                try emit(value, line: line, column: column)
            case YAML_MAPPING_START_EVENT:
                try push(Frame(isMapping: true, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }), line: line, column: column)
            case YAML_MAPPING_END_EVENT:
                guard var frame = stack.popLast(), frame.isMapping else { break }
                // Merge keys (`<<`): explicit keys win over merged ones.
                for merged in frame.merges {
                    for (k, v) in merged where frame.map[k] == nil { frame.map[k] = v }
                }
                let value = JSONValue.object(frame.map)
                if let anchor = frame.anchor { anchors[anchor] = value }
                try emit(value, line: line, column: column)
            case YAML_ALIAS_EVENT:
                let name = String(cString: event.data.alias.anchor)
                guard let value = anchors[name] else {
                    throw YAMLError(message: "unknown anchor '\(name)' referenced", line: line, column: column)
                }
                aliasBudget -= Self.size(of: value, limit: aliasBudget + 1)
                if aliasBudget < 0 {
                    throw YAMLError(message: "document expands aliases beyond \(limits.maxAliasExpansion) nodes (YAML bomb?)", line: line, column: column)
                }
                try emit(value, line: line, column: column)
            default:
                break
            }
        }
    }

    static func size(of value: JSONValue, limit: Int) -> Int {
        var count = 1
        switch value {
        case .array(let a):
            for v in a where count <= limit { count += size(of: v, limit: limit - count) }
        case .object(let o):
            for v in o.values where count <= limit { count += size(of: v, limit: limit - count) }
        default: break
        }
        return count
    }

    mutating func push(_ frame: Frame, line: Int, column: Int) throws(YAMLError) {
        guard stack.count < limits.maxDepth else {
            throw YAMLError(message: "document nested deeper than \(limits.maxDepth) levels", line: line, column: column)
        }
        stack.append(frame)
    }

    mutating func emit(_ value: JSONValue, line: Int, column: Int) throws(YAMLError) {
        guard !stack.isEmpty else {
            current = value
            return
        }
        let top = stack.count - 1
        guard stack[top].isMapping else {
            stack[top].items.append(value)
            return
        }
        if let key = stack[top].pendingKey {
            stack[top].pendingKey = nil
            if key == "<<" {
                switch value {
                case .object(let o): stack[top].merges.append(o)
                case .array(let list): stack[top].merges.append(contentsOf: list.compactMap(\.objectValue))
                default: throw YAMLError(message: "merge key '<<' needs a mapping", line: line, column: column)
                }
            } else {
                stack[top].map[key] = value
            }
            return
        }
        switch value {
        case .string(let s): stack[top].pendingKey = s
        case .int(let i): stack[top].pendingKey = String(i)
        case .bool(let b): stack[top].pendingKey = b ? "true" : "false"
        case .double(let d): stack[top].pendingKey = String(d)
        case .null: stack[top].pendingKey = "null"
        default: throw YAMLError(message: "mapping keys must be scalars", line: line, column: column)
        }
    }

    func resolveScalar(_ value: String, tag: String?, plain: Bool, line: Int, column: Int) throws(YAMLError) -> JSONValue {
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str": return .string(value)
            case "tag:yaml.org,2002:int":
                if let i = Self.parseInt(value) { return .int(i) }
                throw YAMLError(message: "cannot decode !!int \"\(value)\"", line: line, column: column)
            case "tag:yaml.org,2002:float":
                if let d = Self.parseFloat(value) { return .double(d) }
                throw YAMLError(message: "cannot decode !!float \"\(value)\"", line: line, column: column)
            case "tag:yaml.org,2002:bool":
                if let b = Self.parseBool(value) { return .bool(b) }
                throw YAMLError(message: "cannot decode !!bool \"\(value)\"", line: line, column: column)
            case "tag:yaml.org,2002:null": return .null
            case "!": return .string(value)
            default: break
            }
        }
        guard plain else { return .string(value) }
        return Self.resolvePlain(value)
    }

    static func resolvePlain(_ value: String) -> JSONValue {
        guard let first = value.utf8.first else { return .null }
        switch value {
        case "~", "null", "Null", "NULL": return .null
        default: break
        }
        // Most scalars are plain words: only a few first characters can start a bool or a number.
        switch first {
        case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "y"), UInt8(ascii: "Y"),
             UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            if value.utf8.count <= 5, let b = parseBool(value) { return .bool(b) }
            return .string(value)
        default:
            break
        }
        // Only strings that start like a number can be one.
        let c = first
        let numeric = (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
        guard numeric else { return .string(value) }
        if let i = parseInt(value) { return .int(i) }
        if let d = parseFloat(value) { return .double(d) }
        return .string(value)
    }

    static func parseBool(_ v: String) -> Bool? {
        switch v {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y": return v == "y" || v == "Y" ? nil : true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    static func parseInt(_ raw: String) -> Int64? {
        var v = String(raw.filter { $0 != "_" })
        var negative = false
        if v.hasPrefix("-") { negative = true; v.removeFirst() } else if v.hasPrefix("+") { v.removeFirst() }
        guard !v.isEmpty else { return nil }
        var result: Int64?
        if v.hasPrefix("0x") || v.hasPrefix("0X") {
            result = Int64(v.dropFirst(2), radix: 16)
        } else if v.hasPrefix("0b") {
            result = Int64(v.dropFirst(2), radix: 2)
        } else if v.hasPrefix("0o") {
            result = Int64(v.dropFirst(2), radix: 8)
        } else if v.count > 1 && v.hasPrefix("0") {
            result = Int64(v.dropFirst(1), radix: 8)
        } else if v.allSatisfy({ $0.isASCII && $0.isNumber }) {
            result = Int64(v)
        }
        guard let r = result else { return nil }
        return negative ? -r : r
    }

    static func parseFloat(_ v: String) -> Double? {
        switch v {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let cleaned = String(v.filter { $0 != "_" })
        // YAML floats need a digit; reject things like "1.2.3" that Double would reject anyway.
        guard cleaned.contains(where: { $0.isNumber }), cleaned.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
        return Double(cleaned)
    }
}
