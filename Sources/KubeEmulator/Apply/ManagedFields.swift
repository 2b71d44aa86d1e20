import KubeModel

/// One `metadata.managedFields` entry.
struct ManagedEntry: Sendable {
    var manager: String
    var operation: String
    var apiVersion: String
    var time: String
    var subresource: String
    var fields: FieldSet

    var json: JSONValue {
        var o: JSONValue = ["manager": .string(manager), "operation": .string(operation), "apiVersion": .string(apiVersion),
                            "time": .string(time), "fieldsType": "FieldsV1", "fieldsV1": fields.fieldsV1]
        if !subresource.isEmpty { o["subresource"] = .string(subresource) }
        return o
    }

    /// How a conflict names this manager: Apply managers by name, Update managers with their version.
    var conflictName: String {
        operation == "Apply" ? "\"\(manager)\"" : "\"\(manager)\" using \(apiVersion)"
    }

    func sameOwner(manager: String, operation: String, subresource: String) -> Bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

enum ManagedFields {
    static func entries(of object: JSONValue) -> [ManagedEntry] {
        (object["metadata"]?["managedFields"]?.arrayValue ?? []).map { e in
            ManagedEntry(manager: e["manager"]?.stringValue ?? "", operation: e["operation"]?.stringValue ?? "Update",
                         apiVersion: e["apiVersion"]?.stringValue ?? "", time: e["time"]?.stringValue ?? "",
                         subresource: e["subresource"]?.stringValue ?? "", fields: FieldSet(fieldsV1: e["fieldsV1"] ?? .emptyObject))
        }
    }

    /// Writes entries back, dropping empty ones, in kube-apiserver's order (operation, time, manager,
    /// subresource, apiVersion).
    static func store(_ entries: [ManagedEntry], in object: inout JSONValue) {
        let kept = entries.filter { !$0.fields.isEmpty }.sorted { p, q in
            if p.operation != q.operation { return p.operation < q.operation }
            if p.time != q.time { return p.time < q.time }
            if p.manager != q.manager { return p.manager < q.manager }
            if p.subresource != q.subresource { return p.subresource < q.subresource }
            return p.apiVersion < q.apiVersion
        }
        object.set(path: ["metadata", "managedFields"], to: kept.isEmpty ? nil : .array(kept.map(\.json)))
    }

    /// Ownership after a non-apply write (create, update, patch): the writer owns what it changed,
    /// takes those fields from others, and fields that no longer exist are owned by nobody.
    static func recordUpdate(old: JSONValue?, new: inout JSONValue, manager: String, apiVersion: String, subresource: String,
                             types: FieldTypes, statusSeparate: Bool, builtin: Bool, now: String) {
        // `new` carries the ownership to start from (the live object's, or what the client sent).
        var entries = entries(of: new)
        let scope: FieldSet.Scope = subresource == "status" ? .status : .main(statusSeparate: statusSeparate)
        let changed = FieldSet.changed(from: old, to: new, types: types, scope: scope, builtin: builtin)
        if !changed.isEmpty {
            for i in entries.indices { entries[i].fields = entries[i].fields - changed }
            if let i = entries.firstIndex(where: { $0.sameOwner(manager: manager, operation: "Update", subresource: subresource) }) {
                entries[i].fields = entries[i].fields + changed
                entries[i].time = now
                entries[i].apiVersion = apiVersion
            } else {
                entries.append(ManagedEntry(manager: manager, operation: "Update", apiVersion: apiVersion, time: now,
                                            subresource: subresource, fields: changed))
            }
        }
        prune(&entries, object: new)
        store(entries, in: &new)
    }

    /// Drops paths that no longer exist in the object from every entry.
    static func prune(_ entries: inout [ManagedEntry], object: JSONValue) {
        for i in entries.indices {
            entries[i].fields.paths = entries[i].fields.paths.filter { FieldSet.resolve($0, in: object) != nil }
        }
    }
}
