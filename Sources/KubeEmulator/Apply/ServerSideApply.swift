import KubeModel

/// Server-side apply: merges an applied configuration into the live object, tracks which manager owns
/// which fields, reports conflicts with other owners, and removes fields a manager stopped applying
/// when nobody else owns them.
struct ServerSideApply {
    var types: FieldTypes
    var statusSeparate: Bool
    var subresource: String

    struct Conflict: Sendable {
        var manager: String
        var path: [String]
    }

    var scope: FieldSet.Scope { subresource == "status" ? .status : .main(statusSeparate: statusSeparate) }

    /// Returns the new object (with managedFields) or the conflicts that block the apply.
    func apply(live: JSONValue, applied: JSONValue, manager: String, force: Bool, apiVersion: String, now: String) -> Result<JSONValue, ConflictError> {
        var entries = ManagedFields.entries(of: live)
        let newSet = FieldSet.of(applied, types: types, scope: scope)
        let mine = entries.firstIndex { $0.sameOwner(manager: manager, operation: "Apply", subresource: subresource) }
        let oldSet = mine.map { entries[$0].fields } ?? FieldSet()

        // Conflicts: a leaf another manager owns whose value the applier changes.
        var conflicts: [Conflict] = []
        for leaf in newSet.leaves {
            let appliedValue = FieldSet.resolve(leaf, in: applied)
            let liveValue = FieldSet.resolve(leaf, in: live)
            guard let liveValue, let appliedValue, !liveValue.semanticallyEquals(appliedValue) else { continue }
            for (i, e) in entries.enumerated() where i != mine && e.fields.paths.contains(leaf) {
                conflicts.append(Conflict(manager: e.conflictName, path: leaf))
            }
        }
        if !conflicts.isEmpty {
            if !force { return .failure(ConflictError(conflicts: conflicts)) }
            let taken = Set(conflicts.map(\.path))
            for i in entries.indices where i != mine { entries[i].fields.paths.subtract(taken) }
        }

        var merged = merge(live: live, applied: applied, fieldPath: [], top: true)
        // Fields this manager dropped: remove them unless someone else still owns them.
        let others = entries.enumerated().filter { $0.offset != mine }.map(\.element.fields)
        let dropped = (oldSet - newSet).paths.filter { path in !others.contains { $0.paths.contains(path) } }
        let droppedSet = Set(dropped)
        for path in dropped.sorted(by: { $0.count < $1.count }) {
            // Remove only the topmost dropped path: removing a list item's key field first would
            // leave a nameless item behind.
            if (1..<max(1, path.count)).contains(where: { droppedSet.contains(Array(path.prefix($0))) }) { continue }
            // A dropped parent whose children others own stays.
            let ownedBelow = others.contains { o in o.paths.contains { $0.count > path.count && Array($0.prefix(path.count)) == path } }
            if !ownedBelow { FieldSet.remove(path, from: &merged) }
        }
        // Maps the manager no longer sets anything in, left empty, go too (structured-merge-diff
        // makes named fields members before pruning, and adds back only what others own).
        let kept = [newSet] + others
        for path in dropped.sorted(by: { $0.count > $1.count }) {
            for length in stride(from: path.count - 1, through: 1, by: -1) {
                let parent = Array(path.prefix(length))
                guard parent.allSatisfy({ $0.hasPrefix("f:") }), Self.value(at: parent, in: merged)?.objectValue?.isEmpty == true,
                      !kept.contains(where: { set in set.paths.contains { $0.count >= parent.count && Array($0.prefix(parent.count)) == parent } })
                else { break }
                FieldSet.remove(parent, from: &merged)
            }
        }

        let entry = ManagedEntry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, subresource: subresource, fields: newSet)
        if let mine { entries[mine] = entry } else { entries.append(entry) }
        ManagedFields.prune(&entries, object: merged)
        ManagedFields.store(entries, in: &merged)
        return .success(merged)
    }

    /// The value at a path of named fields (`f:` elements only).
    static func value(at path: [String], in object: JSONValue) -> JSONValue? {
        var node: JSONValue? = object
        for element in path { node = node?[String(element.dropFirst(2))] }
        return node
    }

    /// Merges applied values into live ones: maps field by field, keyed lists item by item, sets by
    /// union, everything else replaced.
    func merge(live: JSONValue?, applied: JSONValue, fieldPath: [String], top: Bool = false) -> JSONValue {
        switch applied {
        case .object(let a):
            guard case .object(var l)? = live, !types.isAtomicObject(fieldPath) else { return applied }
            for (k, v) in a {
                if top {
                    if k == "apiVersion" || k == "kind" { l[k] = v; continue }
                    if case .status = scope, k != "status", k != "metadata" { continue }
                    if case .main(let separate) = scope, separate, k == "status" { continue }
                    if k == "metadata" {
                        l[k] = mergeMetadata(live: l[k], applied: v)
                        continue
                    }
                }
                l[k] = merge(live: l[k], applied: v, fieldPath: fieldPath + [k])
            }
            return .object(l)
        case .array(let items):
            guard case .array(var l)? = live else { return applied }
            switch types.listType(fieldPath) {
            case .atomic:
                return applied
            case .set:
                for item in items where !l.contains(item) { l.append(item) }
                return .array(l)
            case .map(let keys):
                for item in items {
                    let key = types.keyObject(item, keys: keys)
                    if let i = l.firstIndex(where: { types.keyObject($0, keys: keys) == key }) {
                        l[i] = merge(live: l[i], applied: item, fieldPath: fieldPath)
                    } else {
                        l.append(item)
                    }
                }
                return .array(l)
            }
        default:
            return applied
        }
    }

    func mergeMetadata(live: JSONValue?, applied: JSONValue) -> JSONValue {
        guard case .object(var l)? = live, case .object(let a) = applied else { return live ?? applied }
        for (k, v) in a where !FieldSet.ignoredMetadata.contains(k) {
            l[k] = merge(live: l[k], applied: v, fieldPath: ["metadata", k])
        }
        return .object(l)
    }
}

/// Conflicts that block an apply, rendered as kube-apiserver does.
struct ConflictError: Error, Sendable {
    var conflicts: [ServerSideApply.Conflict]

    var apiError: APIError {
        let n = conflicts.count
        let text: String
        if n == 1 {
            text = "conflict with \(conflicts[0].manager): \(FieldSet.display(conflicts[0].path))"
        } else {
            var byManager: [String: [String]] = [:]
            for c in conflicts { byManager[c.manager, default: []].append(FieldSet.display(c.path)) }
            text = byManager.keys.sorted().map { m in
                (["conflicts with \(m):"] + byManager[m]!.sorted().map { "- \($0)" }).joined(separator: "\n")
            }.joined(separator: "\n")
        }
        let causes: [JSONValue] = conflicts.map {
            ["reason": "FieldManagerConflict", "message": .string("conflict with \($0.manager)"), "field": .string(FieldSet.display($0.path))]
        }
        return APIError(code: 409, reason: "Conflict", message: "Apply failed with \(n) conflict\(n == 1 ? "" : "s"): \(text)",
                        details: ["causes": .array(causes)])
    }
}
