import KubeModel

/// A set of field paths in structured-merge-diff's notation: each element is `f:<field>`,
/// `k:<json keys>` (keyed list item), or `v:<json value>` (set member). A path in the set whose
/// descendants are also in the set is marked `.` when serialised to `fieldsV1`.
struct FieldSet: Sendable, Equatable {
    var paths: Set<[String]> = []

    var isEmpty: Bool { paths.isEmpty }

    static func - (a: FieldSet, b: FieldSet) -> FieldSet { FieldSet(paths: a.paths.subtracting(b.paths)) }
    static func + (a: FieldSet, b: FieldSet) -> FieldSet { FieldSet(paths: a.paths.union(b.paths)) }

    /// Paths that have no descendants in the set: the values a manager actually sets.
    var leaves: [[String]] {
        let prefixes = Set(paths.flatMap { p in (0..<p.count).map { Array(p[..<$0]) } })
        return paths.filter { !prefixes.contains($0) }
    }

    // MARK: fieldsV1

    var fieldsV1: JSONValue { .object(Self.build(Array(paths), depth: 0)) }

    private static func build(_ paths: [[String]], depth: Int) -> [String: JSONValue] {
        var groups: [String: [[String]]] = [:]
        for p in paths where p.count > depth { groups[p[depth], default: []].append(p) }
        var node: [String: JSONValue] = [:]
        for (element, group) in groups {
            let isMember = group.contains { $0.count == depth + 1 }
            var child = build(group.filter { $0.count > depth + 1 }, depth: depth + 1)
            if isMember && !child.isEmpty { child["."] = .emptyObject }
            node[element] = .object(child)
        }
        return node
    }

    init(paths: Set<[String]> = []) { self.paths = paths }

    init(fieldsV1: JSONValue) {
        var out: Set<[String]> = []
        func walk(_ node: [String: JSONValue], _ prefix: [String]) {
            for (k, v) in node {
                if k == "." { out.insert(prefix); continue }
                let p = prefix + [k]
                let children = v.objectValue ?? [:]
                if children.isEmpty { out.insert(p) } else { walk(children, p) }
            }
        }
        walk(fieldsV1.objectValue ?? [:], [])
        self.paths = out
    }

    // MARK: building from objects

    static let ignoredMetadata: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "managedFields", "selfLink",
    ]

    /// What fields of an object are tracked, given whether this is the status subresource and whether
    /// the resource has one.
    enum Scope { case main(statusSeparate: Bool), status }

    static func topLevelKeys(_ object: [String: JSONValue], scope: Scope) -> [String] {
        object.keys.filter { k in
            if k == "apiVersion" || k == "kind" { return false }
            switch scope {
            case .status: return k == "status"
            case .main(let separate): return !(separate && k == "status")
            }
        }
    }

    /// The fields an applied configuration sets (server-side apply ownership).
    static func of(_ object: JSONValue, types: FieldTypes, scope: Scope) -> FieldSet {
        var set = FieldSet()
        guard let o = object.objectValue else { return set }
        for k in topLevelKeys(o, scope: scope) {
            guard let v = o[k] else { continue }
            if k == "metadata" {
                for (mk, mv) in v.objectValue ?? [:] where !ignoredMetadata.contains(mk) {
                    set.collect(mv, path: ["f:metadata", "f:" + mk], fieldPath: ["metadata", mk], types: types)
                }
            } else {
                set.collect(v, path: ["f:" + k], fieldPath: [k], types: types)
            }
        }
        return set
    }

    mutating func collect(_ value: JSONValue, path: [String], fieldPath: [String], types: FieldTypes) {
        switch value {
        case .object(let o):
            if o.isEmpty || types.isAtomicObject(fieldPath) {
                paths.insert(path)
                return
            }
            for (k, v) in o { collect(v, path: path + ["f:" + k], fieldPath: fieldPath + [k], types: types) }
        case .array(let items):
            switch types.listType(fieldPath) {
            case .atomic:
                paths.insert(path)
            case .set:
                if items.isEmpty { paths.insert(path) }
                for item in items { paths.insert(path + ["v:" + item.jsonString()]) }
            case .map(let keys):
                if items.isEmpty { paths.insert(path) }
                for item in items {
                    let kp = path + ["k:" + types.keyObject(item, keys: keys).jsonString()]
                    paths.insert(kp)
                    for (k, v) in item.objectValue ?? [:] {
                        collect(v, path: kp + ["f:" + k], fieldPath: fieldPath + [k], types: types)
                    }
                }
            }
        default:
            paths.insert(path)
        }
    }

    /// The fields an update changed, with newly created maps and list items marked as members
    /// (what an Update operation's manager comes to own).
    static func changed(from old: JSONValue?, to new: JSONValue, types: FieldTypes, scope: Scope, builtin: Bool) -> FieldSet {
        var set = FieldSet()
        guard let n = new.objectValue else { return set }
        let o = old?.objectValue ?? [:]
        for k in topLevelKeys(n, scope: scope) {
            guard let nv = n[k] else { continue }
            if k == "metadata" {
                let om = o["metadata"]?.objectValue ?? [:]
                for (mk, mv) in nv.objectValue ?? [:] where !ignoredMetadata.contains(mk) {
                    set.diff(om[mk], mv, path: ["f:metadata", "f:" + mk], fieldPath: ["metadata", mk], types: types, builtin: builtin)
                }
            } else {
                set.diff(o[k], nv, path: ["f:" + k], fieldPath: [k], types: types, builtin: builtin)
            }
        }
        return set
    }

    /// Built-in object fields that are Go maps or pointers: a newly set one is itself a member
    /// (`.`). Plain struct fields of built-in kinds always exist, so they never are.
    static let builtinMemberObjects: Set<String> = [
        "labels", "annotations", "data", "binaryData", "stringData", "matchLabels", "nodeSelector", "limits", "requests",
        "conversion", "rollingUpdate", "resourceAttributes", "nonResourceAttributes", "securityContext", "configMap", "secret",
        "emptyDir", "persistentVolumeClaim", "hostPath", "livenessProbe", "readinessProbe", "startupProbe", "httpGet", "exec",
    ]

    mutating func diff(_ old: JSONValue?, _ new: JSONValue, path: [String], fieldPath: [String], types: FieldTypes, builtin: Bool) {
        if let old, old == new { return }
        let markNew = !builtin || Self.builtinMemberObjects.contains(fieldPath.last ?? "")
        switch new {
        case .object(let n) where !types.isAtomicObject(fieldPath) && !n.isEmpty:
            let o = old?.objectValue
            if o == nil && markNew { paths.insert(path) }
            for (k, v) in n {
                diff(o?[k], v, path: path + ["f:" + k], fieldPath: fieldPath + [k], types: types, builtin: builtin)
            }
        case .array(let items):
            switch types.listType(fieldPath) {
            case .atomic:
                paths.insert(path)
            case .set:
                let oldItems = Set(old?.arrayValue ?? [])
                if old == nil && !items.isEmpty { paths.insert(path) }
                for item in items where !oldItems.contains(item) { paths.insert(path + ["v:" + item.jsonString()]) }
                if items.isEmpty { paths.insert(path) }
            case .map(let keys):
                if old == nil && !items.isEmpty { paths.insert(path) }
                let oldByKey = Dictionary((old?.arrayValue ?? []).map { (types.keyObject($0, keys: keys), $0) }, uniquingKeysWith: { a, _ in a })
                for item in items {
                    let key = types.keyObject(item, keys: keys)
                    let kp = path + ["k:" + key.jsonString()]
                    let previous = oldByKey[key]
                    if previous == nil { paths.insert(kp) }
                    for (k, v) in item.objectValue ?? [:] {
                        diff(previous?[k], v, path: kp + ["f:" + k], fieldPath: fieldPath + [k], types: types, builtin: builtin)
                    }
                }
                if items.isEmpty { paths.insert(path) }
            }
        default:
            paths.insert(path)
        }
    }

    // MARK: reading paths in objects

    /// The value at a field path in an object, or nil if absent.
    static func resolve(_ path: [String], in object: JSONValue) -> JSONValue? {
        var current: JSONValue? = object
        for element in path {
            guard let c = current else { return nil }
            if element.hasPrefix("f:") {
                current = c[String(element.dropFirst(2))]
            } else if element.hasPrefix("k:") {
                guard let key = try? JSONValue.parse(String(element.dropFirst(2))).objectValue else { return nil }
                current = c.arrayValue?.first { item in
                    key.allSatisfy { k, v in item[k] == v || (item[k] == nil && k == "protocol" && v == "TCP") }
                }
            } else if element.hasPrefix("v:") {
                guard let v = try? JSONValue.parse(String(element.dropFirst(2))) else { return nil }
                current = c.arrayValue?.contains(v) == true ? v : nil
            } else {
                return nil
            }
        }
        return current
    }

    /// Removes the field or list item at a path.
    static func remove(_ path: [String], from object: inout JSONValue) {
        guard let last = path.last else { return }
        let parentPath = Array(path.dropLast())
        func update(_ node: inout JSONValue, _ rest: ArraySlice<String>) {
            guard let element = rest.first else {
                if last.hasPrefix("f:") {
                    node[String(last.dropFirst(2))] = nil
                } else if last.hasPrefix("k:"), let key = try? JSONValue.parse(String(last.dropFirst(2))).objectValue,
                          case .array(var items) = node {
                    items.removeAll { item in key.allSatisfy { k, v in item[k] == v || (item[k] == nil && k == "protocol" && v == "TCP") } }
                    node = .array(items)
                } else if last.hasPrefix("v:"), let v = try? JSONValue.parse(String(last.dropFirst(2))), case .array(var items) = node {
                    items.removeAll { $0 == v }
                    node = .array(items)
                }
                return
            }
            if element.hasPrefix("f:") {
                let k = String(element.dropFirst(2))
                guard var child = node[k] else { return }
                update(&child, rest.dropFirst())
                node[k] = child
            } else if element.hasPrefix("k:"), let key = try? JSONValue.parse(String(element.dropFirst(2))).objectValue,
                      case .array(var items) = node {
                if let i = items.firstIndex(where: { item in key.allSatisfy { k, v in item[k] == v || (item[k] == nil && k == "protocol" && v == "TCP") } }) {
                    update(&items[i], rest.dropFirst())
                    node = .array(items)
                }
            }
        }
        update(&object, parentPath[...])
    }

    /// The path as structured-merge-diff prints it in conflicts: `.spec.containers[name="app"].image`.
    static func display(_ path: [String]) -> String {
        var out = ""
        for element in path {
            if element.hasPrefix("f:") {
                out += "." + element.dropFirst(2)
            } else if element.hasPrefix("k:"), let key = try? JSONValue.parse(String(element.dropFirst(2))).objectValue {
                out += "[" + key.keys.sorted().map { "\($0)=\(key[$0]!.jsonString())" }.joined(separator: ",") + "]"
            } else if element.hasPrefix("v:") {
                out += "[=" + element.dropFirst(2) + "]"
            }
        }
        return out
    }
}
