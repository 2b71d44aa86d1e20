import Crypto
import Foundation
import KubeModel
import Synchronization

/// Non-resource endpoints: version, health, legacy discovery and OpenAPI v3.
extension KubeAPIServer {
    static let versionInfo: JSONValue = [
        "major": "1", "minor": "30", "gitVersion": "v1.30.0-flotilla", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.22.2", "compiler": "gc", "platform": "linux/amd64",
    ]

    func serveNonResource(_ request: APIRequest, path: String, info: RequestInfo) throws(APIError) -> APIResponse {
        switch path {
        case "/version": return .json(200, Self.versionInfo)
        case "/healthz", "/livez", "/readyz": return APIResponse(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("ok".utf8))
        case "/metrics":
            // kube-apiserver's request counter (by verb and resource), in Prometheus text format.
            let counts = state.withLock { $0.requestCounts }
            var text = "# TYPE apiserver_request_total counter\n"
            for (key, n) in counts.sorted(by: { $0.key < $1.key }) where n > 0 {
                let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
                text += "apiserver_request_total{verb=\"\(parts[0].uppercased())\",resource=\"\(parts.count > 1 ? parts[1] : "")\"} \(n)\n"
            }
            return APIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: Array(text.utf8))
        case "/api":
            return .json(200, ["kind": "APIVersions", "versions": ["v1"],
                               "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(request.header("host") ?? configuration.advertisedAddress)]]])
        case "/apis":
            let catalog = state.withLock { $0.catalog }
            let groups = catalog.groupOrder.filter { !$0.isEmpty }.compactMap { groupDocument(catalog, $0) }
            return .json(200, ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)])
        case "/openapi/v3": return .json(200, openAPIRoot())
        default: break
        }
        if path.hasPrefix("/openapi/v3/") {
            let gv = String(path.dropFirst("/openapi/v3/".count))
            guard let doc = openAPIDocument(gv) else { throw APIError.notFoundPath() }
            return .json(200, doc)
        }
        let parts = info.groupPathParts
        let catalog = state.withLock { $0.catalog }
        if path.hasPrefix("/api/"), parts.count == 1 {
            guard let resources = catalog.resources(groupVersion: parts[0]) else { throw APIError.notFoundPath() }
            return .json(200, resourceList(groupVersion: parts[0], resources, custom: false))
        }
        if path.hasPrefix("/apis/") {
            if parts.count == 1 {
                guard var doc = groupDocument(catalog, parts[0]) else { throw APIError.notFoundPath() }
                doc["kind"] = "APIGroup"
                doc["apiVersion"] = "v1"
                return .json(200, doc)
            }
            if parts.count == 2 {
                let gv = "\(parts[0])/\(parts[1])"
                guard let resources = catalog.resources(groupVersion: gv) else { throw APIError.notFoundPath() }
                return .json(200, resourceList(groupVersion: gv, resources, custom: resources.contains { $0.crd != nil }))
            }
        }
        throw APIError.notFoundPath()
    }

    func groupDocument(_ catalog: Catalog, _ group: String) -> JSONValue? {
        guard let versions = catalog.groupVersionsOrder[group], let preferred = versions.first else { return nil }
        return ["name": .string(group),
                "versions": .array(versions.map { ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)] }),
                "preferredVersion": ["groupVersion": .string("\(group)/\(preferred)"), "version": .string(preferred)]]
    }

    func resourceList(groupVersion: String, _ resources: [ResourceInfo], custom: Bool) -> JSONValue {
        var entries: [JSONValue] = []
        for r in resources {
            entries.append(r.discovery)
            entries += r.subresources.keys.sorted().map { r.subresources[$0]! }
        }
        if !custom {
            entries.sort { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
        }
        var doc: JSONValue = ["kind": "APIResourceList", "groupVersion": .string(groupVersion), "resources": .array(entries)]
        if custom || groupVersion.contains("/") { doc["apiVersion"] = "v1" }
        return doc
    }

    // MARK: OpenAPI v3

    static func openAPIPath(_ gv: String) -> String { gv.contains("/") ? "apis/\(gv)" : "api/\(gv)" }

    func openAPIRoot() -> JSONValue {
        let catalog = state.withLock { $0.catalog }
        var paths: [String: JSONValue] = [:]
        for gv in catalog.groupVersions.keys {
            let p = Self.openAPIPath(gv)
            let hash = openAPIDocument(p).map { doc -> String in
                SHA256.hash(data: doc.jsonBytes()).prefix(16).map { String(format: "%02X", $0) }.joined()
            } ?? "0"
            paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)?hash=\(hash)")]
        }
        return ["paths": .object(paths)]
    }

    /// A per group/version OpenAPI v3 document: every resource's operations (with the
    /// `fieldValidation` parameter kubectl looks for) and an object schema per kind.
    func openAPIDocument(_ path: String) -> JSONValue? {
        let gv: String
        if path.hasPrefix("api/") { gv = String(path.dropFirst(4)) } else if path.hasPrefix("apis/") { gv = String(path.dropFirst(5)) } else { return nil }
        let catalog = state.withLock { $0.catalog }
        guard let resources = catalog.resources(groupVersion: gv) else { return nil }
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        let queryParams: [JSONValue] = ["fieldValidation", "fieldManager", "dryRun", "force", "pretty"].map {
            ["name": .string($0), "in": "query", "uniqueItems": true, "schema": ["type": "string"]]
        }
        for r in resources {
            let gvk: JSONValue = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
            let schemaName = Self.schemaName(r)
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let content: JSONValue = ["application/json": ["schema": ref]]
            let base = "/" + Self.openAPIPath(gv) + (r.namespaced ? "/namespaces/{namespace}/\(r.name)" : "/\(r.name)")
            func op(_ action: String, body: Bool = false, patch: Bool = false) -> JSONValue {
                var o: JSONValue = ["x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": .string(action),
                                    "operationId": .string("\(action)\(r.kind)"), "parameters": .array(queryParams),
                                    "responses": ["200": ["description": "OK", "content": content]]]
                if body { o["requestBody"] = ["content": content] }
                if patch {
                    o["requestBody"] = ["content": [
                        "application/apply-patch+yaml": ["schema": ["type": "object"]],
                        "application/json-patch+json": ["schema": ["type": "object"]],
                        "application/merge-patch+json": ["schema": ["type": "object"]],
                    ]]
                }
                return o
            }
            if r.verbs.contains("list") || r.verbs.contains("create") {
                var item: JSONValue = .emptyObject
                if r.verbs.contains("list") { item["get"] = op("list") }
                if r.verbs.contains("create") { item["post"] = op("post", body: true) }
                paths[base] = item
            }
            if r.verbs.contains("get") {
                var item: JSONValue = ["get": op("get")]
                if r.verbs.contains("patch") { item["patch"] = op("patch", patch: true) }
                if r.verbs.contains("update") { item["put"] = op("put", body: true) }
                if r.verbs.contains("delete") { item["delete"] = op("delete") }
                paths[base + "/{name}"] = item
            }
            schemas[schemaName] = objectSchema(r, gvk: gvk)
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.30.0"], "paths": .object(paths),
                "components": ["schemas": .object(schemas)]]
    }

    /// `io.k8s.api.apps.v1.Deployment` for built-ins, `com.example.v1.Gadget` for custom resources.
    static func schemaName(_ r: ResourceInfo) -> String {
        if r.crd != nil {
            return (r.group.split(separator: ".").reversed() + [Substring(r.version), Substring(r.kind)]).joined(separator: ".")
        }
        let g = r.group.isEmpty ? "core" : String(r.group.split(separator: ".").first ?? "")
        return "io.k8s.api.\(g).\(r.version).\(r.kind)"
    }

    func objectSchema(_ r: ResourceInfo, gvk: JSONValue) -> JSONValue {
        var schema: JSONValue
        if let s = r.crd?.schema {
            schema = s
        } else {
            schema = ["type": "object", "description": .string("\(r.kind) (\(r.groupVersion)), served by the Flotilla Kubernetes API emulator.")]
            for field in ["spec", "status", "data", "rules", "subjects", "roleRef"] where Self.fieldsByKind[r.storageKey]?.contains(field) == true {
                schema.set(path: ["properties", field], to: ["type": field == "rules" || field == "subjects" ? "array" : "object",
                                                               "description": .string("\(field) of the \(r.kind).")])
            }
            if let spec = BuiltinSchemas.specs[r.storageKey] { schema.set(path: ["properties", "spec"], to: spec) }
        }
        schema.set(path: ["properties", "apiVersion"], to: ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."])
        schema.set(path: ["properties", "kind"], to: ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."])
        schema.set(path: ["properties", "metadata"], to: ["type": "object", "description": "Standard object's metadata."])
        schema["x-kubernetes-group-version-kind"] = [gvk]
        return schema
    }

    static let fieldsByKind: [String: Set<String>] = [
        "configmaps": ["data"], "secrets": ["data"], "roles.rbac.authorization.k8s.io": ["rules"],
        "clusterroles.rbac.authorization.k8s.io": ["rules"], "rolebindings.rbac.authorization.k8s.io": ["subjects", "roleRef"],
        "clusterrolebindings.rbac.authorization.k8s.io": ["subjects", "roleRef"],
    ].merging(["deployments.apps", "statefulsets.apps", "daemonsets.apps", "replicasets.apps", "jobs.batch", "cronjobs.batch", "pods", "services",
               "namespaces", "horizontalpodautoscalers.autoscaling", "ingresses.networking.k8s.io", "networkpolicies.networking.k8s.io",
               "poddisruptionbudgets.policy", "leases.coordination.k8s.io", "customresourcedefinitions.apiextensions.k8s.io"].map { ($0, Set(["spec", "status"])) },
              uniquingKeysWith: { a, _ in a })
}
