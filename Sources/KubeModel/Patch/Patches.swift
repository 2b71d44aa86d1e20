
/// JSON merge patch (RFC 7386).
public enum MergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (k, v) in p {
            if v.isNull {
                result[k] = nil
            } else {
                result[k] = apply(v, to: result[k] ?? .null)
            }
        }
        return .object(result)
    }
}

/// JSON patch (RFC 6902): add, remove, replace, move, copy, test.
public enum JSONPatch {
    public struct Failure: Error, Sendable { public var message: String }

    public static func apply(_ patch: JSONValue, to target: JSONValue) throws(Failure) -> JSONValue {
        guard let ops = patch.arrayValue else { throw Failure(message: "json patch must be an array") }
        var doc = target
        for op in ops {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw Failure(message: "invalid json patch operation")
            }
            let tokens = try pointer(path)
            switch name {
            case "add":
                guard let value = op["value"] else { throw Failure(message: "missing value") }
                try add(&doc, tokens[...], value)
            case "remove":
                _ = try remove(&doc, tokens[...])
            case "replace":
                guard let value = op["value"] else { throw Failure(message: "missing value") }
                _ = try remove(&doc, tokens[...])
                try add(&doc, tokens[...], value)
            case "move":
                guard let from = op["from"]?.stringValue else { throw Failure(message: "missing from") }
                let value = try remove(&doc, try pointer(from)[...])
                try add(&doc, tokens[...], value)
            case "copy":
                guard let from = op["from"]?.stringValue, let value = get(doc, try pointer(from)[...]) else { throw Failure(message: "missing from") }
                try add(&doc, tokens[...], value)
            case "test":
                guard let value = op["value"], let actual = get(doc, tokens[...]), actual.semanticallyEquals(value) else {
                    throw Failure(message: "testing value \(path) failed")
                }
            default:
                throw Failure(message: "unexpected op \(name)")
            }
        }
        return doc
    }

    static func pointer(_ path: String) throws(Failure) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw Failure(message: "invalid path \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ tokens: ArraySlice<String>) -> JSONValue? {
        guard let t = tokens.first else { return doc }
        switch doc {
        case .object(let o): return o[t].flatMap { get($0, tokens.dropFirst()) }
        case .array(let a):
            guard let i = Int(t), a.indices.contains(i) else { return nil }
            return get(a[i], tokens.dropFirst())
        default: return nil
        }
    }

    static func add(_ doc: inout JSONValue, _ tokens: ArraySlice<String>, _ value: JSONValue) throws(Failure) {
        guard let t = tokens.first else { doc = value; return }
        let last = tokens.count == 1
        switch doc {
        case .object(var o):
            if last {
                o[t] = value
            } else {
                guard var child = o[t] else { throw Failure(message: "add operation does not apply: doc is missing path") }
                try add(&child, tokens.dropFirst(), value)
                o[t] = child
            }
            doc = .object(o)
        case .array(var a):
            if last {
                if t == "-" { a.append(value) } else {
                    guard let i = Int(t), i >= 0, i <= a.count else { throw Failure(message: "add operation does not apply: index out of range") }
                    a.insert(value, at: i)
                }
            } else {
                guard let i = Int(t), a.indices.contains(i) else { throw Failure(message: "add operation does not apply: doc is missing path") }
                try add(&a[i], tokens.dropFirst(), value)
            }
            doc = .array(a)
        default:
            throw Failure(message: "add operation does not apply: doc is missing path")
        }
    }

    static func remove(_ doc: inout JSONValue, _ tokens: ArraySlice<String>) throws(Failure) -> JSONValue {
        guard let t = tokens.first else { throw Failure(message: "cannot remove the root") }
        let last = tokens.count == 1
        switch doc {
        case .object(var o):
            guard var child = o[t] else { throw Failure(message: "remove operation does not apply: doc is missing path") }
            let removed: JSONValue
            if last { removed = child; o[t] = nil } else { removed = try remove(&child, tokens.dropFirst()); o[t] = child }
            doc = .object(o)
            return removed
        case .array(var a):
            guard let i = Int(t), a.indices.contains(i) else { throw Failure(message: "remove operation does not apply: doc is missing path") }
            let removed: JSONValue
            if last { removed = a.remove(at: i) } else { removed = try remove(&a[i], tokens.dropFirst()) }
            doc = .array(a)
            return removed
        default:
            throw Failure(message: "remove operation does not apply: doc is missing path")
        }
    }
}

/// Strategic merge patch for built-in kinds: keyed lists merge by their merge key, `$patch`
/// directives (`delete`, `replace`, `merge`), `$retainKeys`, `$deleteFromPrimitiveList/…` and
/// `$setElementOrder/…` (order hints are accepted and ignored).
public struct StrategicMergePatch: Sendable {
    public var types: FieldTypes

    public init(types: FieldTypes) { self.types = types }

    public func apply(_ patch: JSONValue, to target: JSONValue, fieldPath: [String] = []) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        if p["$patch"]?.stringValue == "replace" {
            var replaced = p
            replaced["$patch"] = nil
            return .object(replaced)
        }
        if p["$patch"]?.stringValue == "delete" { return .null }
        var result = target.objectValue ?? [:]
        if let retain = p["$retainKeys"]?.arrayValue?.compactMap(\.stringValue) {
            for k in result.keys where !retain.contains(k) { result[k] = nil }
        }
        for (k, v) in p {
            if k == "$patch" || k == "$retainKeys" || k.hasPrefix("$setElementOrder/") { continue }
            if k.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(k.dropFirst("$deleteFromPrimitiveList/".count))
                let drop = v.arrayValue ?? []
                if case .array(let items)? = result[field] { result[field] = .array(items.filter { !drop.contains($0) }) }
                continue
            }
            let childPath = fieldPath + [k]
            if v.isNull { result[k] = nil; continue }
            switch v {
            case .object:
                if types.isAtomicObject(childPath) {
                    result[k] = MergePatch.apply(v, to: .emptyObject)
                } else {
                    let merged = apply(v, to: result[k] ?? .emptyObject, fieldPath: childPath)
                    result[k] = merged.isNull ? nil : merged
                }
            case .array(let items):
                result[k] = mergeList(items, into: result[k]?.arrayValue, fieldPath: childPath)
            default:
                result[k] = v
            }
        }
        return .object(result)
    }

    func mergeList(_ patch: [JSONValue], into live: [JSONValue]?, fieldPath: [String]) -> JSONValue {
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return .array(patch.filter { $0["$patch"]?.stringValue != "replace" })
        }
        switch types.listType(fieldPath) {
        case .atomic:
            return .array(patch)
        case .set:
            var l = live ?? []
            for item in patch where !l.contains(item) { l.append(item) }
            return .array(l)
        case .map(let keys):
            // Strategic merge keys on the first key (the `patchMergeKey` of the Go type).
            let key = keys.first ?? "name"
            var l = live ?? []
            for item in patch {
                let directive = item["$patch"]?.stringValue
                let index = l.firstIndex { $0[key] == item[key] }
                if directive == "delete" {
                    if let index { l.remove(at: index) }
                    continue
                }
                if let index {
                    l[index] = apply(item, to: l[index], fieldPath: fieldPath)
                } else {
                    var clean = item
                    clean["$patch"] = nil
                    l.append(apply(clean, to: .emptyObject, fieldPath: fieldPath))
                }
            }
            return .array(l)
        }
    }
}
