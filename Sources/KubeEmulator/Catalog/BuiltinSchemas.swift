import KubeModel

/// The built-in kinds' OpenAPI v3 schemas (generated into `BuiltinOpenAPI.document`), parsed on first use.
enum BuiltinSchemas {
    struct Index: Sendable {
        /// Definition name → schema, e.g. `io.k8s.api.apps.v1.Deployment`.
        var schemas: [String: JSONValue] = [:]
        /// "group/version" (or "v1") → the definitions its document carries (the kinds and what they reference).
        var groupVersions: [String: [String]] = [:]
        /// "group/version/Kind" → definition name.
        var byKind: [String: String] = [:]
    }

    static let index: Index = {
        guard let doc = try? JSONValue.parse(BuiltinOpenAPI.document), let schemas = doc["schemas"]?.objectValue else {
            fatalError("the generated built-in OpenAPI document does not parse")
        }
        var index = Index(schemas: schemas)
        for (gv, names) in doc["groupVersions"]?.objectValue ?? [:] {
            index.groupVersions[gv] = names.arrayValue?.compactMap(\.stringValue) ?? []
        }
        for (name, schema) in schemas {
            for gvk in schema["x-kubernetes-group-version-kind"]?.arrayValue ?? [] {
                let key = "\(gvk["group"]?.stringValue ?? "")/\(gvk["version"]?.stringValue ?? "")/\(gvk["kind"]?.stringValue ?? "")"
                if index.byKind[key] == nil { index.byKind[key] = name }
            }
        }
        return index
    }()

    static func name(group: String, version: String, kind: String) -> String? {
        index.byKind["\(group)/\(version)/\(kind)"]
    }
}
