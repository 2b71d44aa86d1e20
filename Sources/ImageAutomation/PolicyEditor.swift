import Foundation
import KubeModel

/// A change of a workload's Flux v1 policy (what `fluxctl automate`, `lock`, `policy` did).
public struct PolicyUpdate: Sendable, Equatable {
    /// true: automate; false: deautomate; nil: unchanged.
    public var automate: Bool?
    /// true: lock (with message and user, when given); false: unlock; nil: unchanged.
    public var lock: Bool?
    public var lockMessage: String?
    public var lockUser: String?
    /// Container → tag filter (`semver:~1`, `glob:v*`, `regex:…`); `*`, `glob:*` or "" removes it.
    public var tags: [String: String] = [:]

    public init(automate: Bool? = nil, lock: Bool? = nil, lockMessage: String? = nil, lockUser: String? = nil, tags: [String: String] = [:]) {
        (self.automate, self.lock, self.lockMessage, self.lockUser, self.tags) = (automate, lock, lockMessage, lockUser, tags)
    }

    public var isEmpty: Bool { automate == nil && lock == nil && tags.isEmpty }

    /// The annotations to set (a value) or remove (nil). New values are written under
    /// `fluxcd.io/`; the legacy `flux.weave.works/` key and `filter.` aliases of what changes are
    /// removed, so that the file says one thing once.
    public var annotationChanges: [String: String?] {
        var out: [String: String?] = [:]
        func set(_ name: String, _ value: String?) {
            out["fluxcd.io/" + name] = .some(value)
            out["flux.weave.works/" + name] = .some(nil)
        }
        if let automate { set("automated", automate ? "true" : nil) }
        if let lock {
            set("locked", lock ? "true" : nil)
            set("locked_msg", lock ? lockMessage : nil)
            set("locked_user", lock ? lockUser : nil)
            // A new lock without a message or user drops the old ones (they described another lock).
        }
        for (container, filter) in tags {
            let cleared = filter.isEmpty || filter == "*" || filter == "glob:*"
            set("tag." + container, cleared ? nil : filter)
            for prefix in WorkloadPolicy.prefixes { out["filter." + prefix + container] = .some(nil) }
        }
        return out
    }
}

extension WorkloadScanner {
    /// `bytes` with annotations of one workload set (a value) or removed (nil), every other byte
    /// unchanged: values are replaced in place, new keys are added as lines after the last
    /// annotation (an `annotations:` block is added to `metadata` when there is none), removed keys
    /// lose their line. Flow mappings (`annotations: {…}`) are rewritten as flow mappings.
    public static func settingAnnotations(_ changes: [String: String?], of workload: WorkloadID, bytes: [UInt8],
                                          file: String, defaultNamespace: String) throws(Failure) -> [UInt8] {
        var bytes = bytes
        for key in changes.keys.sorted() {
            bytes = try settingAnnotation(key, to: changes[key]!, of: workload, bytes: bytes, file: file, defaultNamespace: defaultNamespace)
        }
        return bytes
    }

    static func settingAnnotation(_ key: String, to value: String?, of workload: WorkloadID, bytes: [UInt8],
                                  file: String, defaultNamespace: String) throws(Failure) -> [UInt8] {
        let object = try objectNode(of: workload, in: bytes, file: file, defaultNamespace: defaultNamespace)
        guard case .mapping(let metadata)? = object["metadata"], let metadataKey = object.pairs.last(where: { $0.key?.value == "metadata" })?.key else {
            throw Failure(description: "\(file): \(workload) has no metadata mapping")
        }
        let text = YAMLText(bytes: bytes)
        // metadata written as a flow mapping: add `annotations` inside its braces.
        if let brace = text.flowStart(after: metadataKey.range.upperBound) {
            if metadata.contains(where: { $0.key?.value == "annotations" }) {
                return try editFlowAnnotations(key, value, metadata: metadata, text: text, file: file, workload: workload)
            }
            guard let value else { return bytes }
            guard let close = text.flowEnd(from: brace) else { throw Failure(description: "\(file): unbalanced braces in the metadata of \(workload)") }
            let insert = (metadata.isEmpty ? "" : ", ") + "annotations: {\(YAMLText.key(key)): \(YAMLText.quoted(value))}"
            return text.replacing(close..<close, with: insert)
        }
        guard let annotationsPair = metadata.last(where: { $0.key?.value == "annotations" }), let annotationsKey = annotationsPair.key else {
            // No annotations: add a block after metadata's last entry, indented like its keys.
            guard let value else { return bytes }
            guard let first = metadata.first?.key, let last = metadata.last else { throw Failure(description: "\(file): \(workload) has an empty metadata") }
            let column = text.column(of: first.range.lowerBound)
            let indent = String(repeating: " ", count: column)
            // The file's own indentation step (metadata's keys under `metadata:`).
            let step = String(repeating: " ", count: max(2, column - text.column(of: metadataKey.range.lowerBound)))
            let at = text.lineEnd(after: max(last.key?.range.upperBound ?? 0, YAMLText.end(of: last.value)))
            let lead = at == bytes.count && bytes.last != UInt8(ascii: "\n") ? "\n" : ""
            return text.replacing(at..<at, with: "\(lead)\(indent)annotations:\n\(indent)\(step)\(YAMLText.key(key)): \(YAMLText.quoted(value))\n")
        }
        if text.flowStart(after: annotationsKey.range.upperBound) != nil {
            return try editFlowAnnotations(key, value, metadata: metadata, text: text, file: file, workload: workload)
        }
        guard case .mapping(let entries) = annotationsPair.value, !entries.isEmpty else {
            // `annotations:` with no value (null): give it a block with the one entry.
            guard let value else { return bytes }
            let indent = String(repeating: " ", count: text.column(of: annotationsKey.range.lowerBound) + 2)
            let lineEnd = text.lineEnd(after: annotationsKey.range.upperBound)
            let end = lineEnd > 0 && bytes[lineEnd - 1] == UInt8(ascii: "\n") ? lineEnd - 1 : lineEnd
            return text.replacing(annotationsKey.range.upperBound..<end, with: ":\n\(indent)\(YAMLText.key(key)): \(YAMLText.quoted(value))")
        }
        if let existing = entries.last(where: { $0.key?.value == key }), let existingKey = existing.key {
            guard let value else {
                // Remove the entry's lines; the last entry takes the `annotations:` line with it.
                let from = text.lineStart(of: entries.count == 1 ? annotationsKey.range.lowerBound : existingKey.range.lowerBound)
                let to = text.lineEnd(after: max(existingKey.range.upperBound, YAMLText.end(of: existing.value)))
                return text.replacing(from..<to, with: "")
            }
            guard case .scalar(let scalar) = existing.value else {
                throw Failure(description: "\(file): annotation \(key) of \(workload) is not a string")
            }
            if scalar.value == value { return bytes }
            return text.replacing(scalar.range, with: YAMLText.token(value, like: scalar))
        }
        guard let value, let firstKey = entries.first?.key, let last = entries.last else { return bytes }
        let indent = String(repeating: " ", count: text.column(of: firstKey.range.lowerBound))
        let at = text.lineEnd(after: max(last.key?.range.upperBound ?? 0, YAMLText.end(of: last.value)))
        let lead = at == bytes.count && bytes.last != UInt8(ascii: "\n") ? "\n" : ""
        return text.replacing(at..<at, with: "\(lead)\(indent)\(YAMLText.key(key)): \(YAMLText.quoted(value))\n")
    }

    /// Rewrites `annotations: {…}` (flow style) with one key changed.
    static func editFlowAnnotations(_ key: String, _ value: String?, metadata: [(key: YAMLScalar?, value: YAMLNode)], text: YAMLText,
                                    file: String, workload: WorkloadID) throws(Failure) -> [UInt8] {
        guard let pair = metadata.last(where: { $0.key?.value == "annotations" }), let annotationsKey = pair.key,
              let open = text.flowStart(after: annotationsKey.range.upperBound), let close = text.flowEnd(from: open) else {
            throw Failure(description: "\(file): cannot read the annotations of \(workload)")
        }
        var entries: [(String, String)] = []
        for e in pair.value.pairs {
            guard let k = e.key?.value, let v = e.value.scalar?.value else { throw Failure(description: "\(file): annotation of \(workload) is not a string") }
            entries.append((k, v))
        }
        if let i = entries.firstIndex(where: { $0.0 == key }) {
            if let value { entries[i].1 = value } else { entries.remove(at: i) }
        } else if let value {
            entries.append((key, value))
        } else {
            return text.bytes
        }
        let body = entries.map { "\(YAMLText.key($0.0)): \(YAMLText.quoted($0.1))" }.joined(separator: ", ")
        return text.replacing(open..<(close + 1), with: "{" + body + "}")
    }

    /// The YAML node of one workload in a file.
    static func objectNode(of workload: WorkloadID, in bytes: [UInt8], file: String, defaultNamespace: String) throws(Failure) -> YAMLNode {
        let documents: [YAMLNode?]
        do { documents = try YAMLTree.documents(bytes) } catch {
            throw Failure(description: "\(file):\(error.line): \(error.message)")
        }
        for case let document? in documents {
            let objects = document["kind"]?.scalar?.value == "List" ? document["items"]?.items ?? [] : [document]
            for object in objects where self.workload(object, file: file, defaultNamespace: defaultNamespace)?.id == workload {
                return object
            }
        }
        throw Failure(description: "\(file): \(workload) is not declared in this file")
    }
}

/// Byte-level helpers for editing YAML text in place.
struct YAMLText {
    let bytes: [UInt8]

    func replacing(_ range: Range<Int>, with text: String) -> [UInt8] {
        var out = Array(bytes[..<range.lowerBound])
        out.append(contentsOf: Array(text.utf8))
        out.append(contentsOf: bytes[range.upperBound...])
        return out
    }

    /// Bytes from the start of `offset`'s line to `offset`.
    func column(of offset: Int) -> Int { offset - lineStart(of: offset) }

    func lineStart(of offset: Int) -> Int {
        var i = offset
        while i > 0 && bytes[i - 1] != UInt8(ascii: "\n") { i -= 1 }
        return i
    }

    /// The start of the line after the one `offset` is on (`offset` itself when it starts a line).
    func lineEnd(after offset: Int) -> Int {
        if offset > 0 && offset <= bytes.count && bytes[offset - 1] == UInt8(ascii: "\n") { return offset }
        var i = offset
        while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
        return min(i + 1, bytes.count)
    }

    /// The `{` of a flow mapping that is the value of the key ending at `keyEnd`, if it is one.
    func flowStart(after keyEnd: Int) -> Int? {
        var i = keyEnd
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: ":") || bytes[i] == UInt8(ascii: "\t") { i += 1 }
        return i < bytes.count && bytes[i] == UInt8(ascii: "{") ? i : nil
    }

    /// The `}` that closes the flow mapping opened at `open` (quotes respected).
    func flowEnd(from open: Int) -> Int? {
        var depth = 0
        var quote: UInt8?
        var i = open
        while i < bytes.count {
            let b = bytes[i]
            if let q = quote {
                if b == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") { i += 1 } else if b == q { quote = nil }
            } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                quote = b
            } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    /// The end offset of the last scalar of a node (0 for a node without one).
    static func end(of node: YAMLNode) -> Int {
        switch node {
        case .scalar(let s): return s.range.upperBound
        case .mapping(let pairs): return pairs.map { max($0.key?.range.upperBound ?? 0, end(of: $0.value)) }.max() ?? 0
        case .sequence(let items): return items.map(end(of:)).max() ?? 0
        case .alias: return 0
        }
    }

    /// A key as written: plain when it is unambiguous, else double-quoted.
    static func key(_ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy { $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || "._/-".unicodeScalars.contains($0) }
        return plain ? key : quoted(key)
    }

    /// A double-quoted YAML string (what Kubernetes wants for annotation values like "true").
    static func quoted(_ value: String) -> String {
        var out = "\""
        for u in value.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\x" + String(u.value, radix: 16).leftPad(2) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// `value` written in the style of the scalar it replaces: single quotes stay single quotes;
    /// anything else becomes a double-quoted string (a plain `true` would not be a string).
    static func token(_ value: String, like scalar: YAMLScalar) -> String {
        if scalar.style == .singleQuoted, !value.contains("\n") { return "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }
        return quoted(value)
    }
}

private extension String {
    func leftPad(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
