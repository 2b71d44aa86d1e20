import Foundation
import CYAML

/// A YAML stream as libyaml reads it, with every scalar's byte range in the source: what an editor
/// needs to change one value of a file in place and leave every other byte (comments, ordering,
/// quoting, indentation) as it was. Aliases are kept as aliases (never expanded), so a bomb costs
/// nothing here.
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(YAMLScalar)
    case mapping([(key: YAMLScalar?, value: YAMLNode)])
    case sequence([YAMLNode])
    case alias

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)): return x == y
        case (.sequence(let x), .sequence(let y)): return x == y
        case (.alias, .alias): return true
        case (.mapping(let x), .mapping(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of `key` in a mapping (keys that are not scalars are skipped).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = self else { return nil }
        return pairs.last { $0.key?.value == key }?.value
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let s) = self { return s }
        return nil
    }

    public var items: [YAMLNode] {
        if case .sequence(let items) = self { return items }
        return []
    }

    public var pairs: [(key: YAMLScalar?, value: YAMLNode)] {
        if case .mapping(let pairs) = self { return pairs }
        return []
    }
}

public struct YAMLScalar: Sendable, Equatable {
    public enum Style: Sendable, Equatable { case plain, singleQuoted, doubleQuoted, literal, folded }
    public var value: String
    public var style: Style
    /// Byte offsets of the scalar's token in the source, quotes included.
    public var range: Range<Int>
}

public enum YAMLTree {
    /// Every document of `bytes` (a document without content is `nil`). Nesting deeper than
    /// `limits.maxDepth` and more than `limits.maxDocuments` documents are errors: a hostile file
    /// costs bounded time and memory, and no tree is too deep to free.
    public static func documents(_ bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> [YAMLNode?] {
        // libyaml counts marks in characters; map them to byte offsets (identity for ASCII).
        var byteOffset: [Int] = []
        let ascii = !bytes.contains { $0 >= 0x80 }
        if !ascii {
            byteOffset.reserveCapacity(bytes.count + 1)
            for (i, b) in bytes.enumerated() where b & 0xC0 != 0x80 { byteOffset.append(i) }
            byteOffset.append(bytes.count)
        }
        func offset(_ index: Int) -> Int { ascii ? index : byteOffset[min(index, byteOffset.count - 1)] }

        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError(message: "cannot initialise the YAML parser", line: 0, column: 0) }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) throws(YAMLError) -> [YAMLNode?] in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            // An open sequence or mapping, mutated in place on the stack (binding an enum's
            // payload and pushing it back copied the array on every item: quadratic).
            struct Frame {
                var isMapping: Bool
                var items: [YAMLNode] = []
                var pairs: [(key: YAMLScalar?, value: YAMLNode)] = []
                var pendingKey: YAMLNode?
                var hasPendingKey = false
            }
            var stack: [Frame] = []
            var documents: [YAMLNode?] = []
            var root: YAMLNode?
            func emit(_ node: YAMLNode) {
                guard !stack.isEmpty else {
                    root = node
                    return
                }
                let top = stack.count - 1
                if !stack[top].isMapping {
                    stack[top].items.append(node)
                } else if stack[top].hasPendingKey {
                    stack[top].pairs.append((key: stack[top].pendingKey?.scalar, value: node))
                    stack[top].pendingKey = nil
                    stack[top].hasPendingKey = false
                } else {
                    stack[top].pendingKey = node
                    stack[top].hasPendingKey = true
                }
            }
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    let mark = parser.problem_mark
                    throw YAMLError(message: problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
                }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return documents
                case YAML_DOCUMENT_START_EVENT:
                    root = nil
                case YAML_DOCUMENT_END_EVENT:
                    guard documents.count < limits.maxDocuments else {
                        throw YAMLError(message: "more than \(limits.maxDocuments) documents in one file", line: Int(event.start_mark.line) + 1, column: 1)
                    }
                    documents.append(root)
                    root = nil
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                    let style: YAMLScalar.Style
                    switch s.style {
                    case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                    case YAML_LITERAL_SCALAR_STYLE: style = .literal
                    case YAML_FOLDED_SCALAR_STYLE: style = .folded
                    default: style = .plain
                    }
                    let range = offset(Int(event.start_mark.index))..<offset(Int(event.end_mark.index))
                    emit(.scalar(YAMLScalar(value: value, style: style, range: range)))
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    guard stack.count < limits.maxDepth else {
                        throw YAMLError(message: "document nested deeper than \(limits.maxDepth) levels",
                                        line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                    }
                    stack.append(Frame(isMapping: event.type == YAML_MAPPING_START_EVENT))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let frame = stack.popLast() { emit(frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)) }
                case YAML_ALIAS_EVENT:
                    emit(.alias)
                default:
                    break
                }
            }
        }
    }

    /// `bytes` with the scalar at `range` replaced by `value`, written in the scalar's own style
    /// (plain stays plain, quotes stay the same quotes). Block scalars are refused.
    public static func replacing(_ scalar: YAMLScalar, with value: String, in bytes: [UInt8]) throws(YAMLError) -> [UInt8] {
        let token: String
        switch scalar.style {
        case .plain:
            guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:@+".contains($0) }) else {
                throw YAMLError(message: "cannot write \(value) as a plain scalar", line: 0, column: 0)
            }
            token = value
        case .singleQuoted:
            token = "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
        case .doubleQuoted:
            token = "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .literal, .folded:
            throw YAMLError(message: "the value is a block scalar; not editing it in place", line: 0, column: 0)
        }
        var out = Array(bytes[..<scalar.range.lowerBound])
        out.append(contentsOf: Array(token.utf8))
        out.append(contentsOf: bytes[scalar.range.upperBound...])
        return out
    }
}
