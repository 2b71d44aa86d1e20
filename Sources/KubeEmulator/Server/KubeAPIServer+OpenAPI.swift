import Crypto
import Foundation
import KubeModel
import Synchronization

/// OpenAPI v3 (`/openapi/v3` and one document per group/version), as kubectl reads it for
/// `kubectl explain`, client-side validation and the `fieldValidation` check.
extension KubeAPIServer {
    static func openAPIPath(_ gv: String) -> String { gv.contains("/") ? "apis/\(gv)" : "api/\(gv)" }

    func openAPIRoot() -> JSONValue {
        let catalog = state.withLock { $0.catalog }
        var paths: [String: JSONValue] = [:]
        for gv in catalog.groupVersions.keys {
            let p = Self.openAPIPath(gv)
            let hash = openAPIDocumentBytes(p).map(Self.documentHash) ?? "0"
            paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)?hash=\(hash)")]
        }
        return ["paths": .object(paths)]
    }

    static func documentHash(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).prefix(16).map { String(format: "%02X", $0) }.joined()
    }

    /// The serialized document of `api/v1` or `apis/<group>/<version>`. A group/version of built-in
    /// resources only is the same for the server's whole life and is built once.
    func openAPIDocumentBytes(_ path: String) -> [UInt8]? {
        let gv: String
        if path.hasPrefix("api/") { gv = String(path.dropFirst(4)) } else if path.hasPrefix("apis/") { gv = String(path.dropFirst(5)) } else { return nil }
        let catalog = state.withLock { $0.catalog }
        guard let resources = catalog.resources(groupVersion: gv) else { return nil }
        if !resources.contains(where: { $0.crd != nil }), let cached = Self.builtinDocuments[gv] { return cached }
        return Self.openAPIDocument(gv: gv, resources).jsonBytes()
    }

    /// `/openapi/v2` as protobuf (kubectl) or JSON: every built-in definition and each custom resource's.
    func openAPIV2(_ request: APIRequest) -> APIResponse {
        let accept = request.header("accept") ?? ""
        let custom = state.withLock { $0.catalog }.allResources.filter { $0.crd != nil }
        let protobuf = OpenAPIV2.protobufTypes.contains { accept.contains($0) }
        if custom.isEmpty, protobuf {
            return APIResponse(status: 200, headers: [("Content-Type", OpenAPIV2.protobufTypes[1])], body: Self.builtinV2Protobuf)
        }
        var document = Self.builtinV2Document
        for r in custom {
            let gvk: JSONValue = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
            document.set(path: ["definitions", Self.schemaName(r)], to: OpenAPIV2.schema(Self.customSchema(r, gvk: gvk)))
        }
        if protobuf {
            return APIResponse(status: 200, headers: [("Content-Type", OpenAPIV2.protobufTypes[1])], body: OpenAPIV2.protobuf(document))
        }
        return .json(200, document)
    }

    static let builtinV2Document = OpenAPIV2.document(definitions: BuiltinSchemas.index.schemas)
    static let builtinV2Protobuf = OpenAPIV2.protobuf(builtinV2Document)

    /// Built lazily on the first OpenAPI request, from the built-in catalog.
    static let builtinDocuments: [String: [UInt8]] = {
        var out: [String: [UInt8]] = [:]
        for (gv, resources) in Catalog.builtin.groupVersions {
            out[gv] = openAPIDocument(gv: gv, resources).jsonBytes()
        }
        return out
    }()

    /// A group/version's document: every resource's operations (with the `fieldValidation` parameter
    /// kubectl looks for) and the schemas of its kinds with everything they reference.
    static func openAPIDocument(gv: String, _ resources: [ResourceInfo]) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for name in BuiltinSchemas.index.groupVersions[gv] ?? [] {
            schemas[name] = BuiltinSchemas.index.schemas[name]
        }
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
                    var types = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
                    if r.crd == nil { types.append("application/strategic-merge-patch+json") }  // not for custom resources
                    o["requestBody"] = ["content": .object(Dictionary(uniqueKeysWithValues: types.map { ($0, ["schema": ["type": "object"]]) }))]
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
            if schemas[schemaName] == nil { schemas[schemaName] = customSchema(r, gvk: gvk) }
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.30.0"], "paths": .object(paths),
                "components": ["schemas": .object(schemas)]]
    }

    /// The built-in definition name (`io.k8s.api.apps.v1.Deployment`), or `com.example.v1.Gadget` for custom resources.
    static func schemaName(_ r: ResourceInfo) -> String {
        if r.crd == nil, let name = BuiltinSchemas.name(group: r.group, version: r.version, kind: r.kind) { return name }
        return (r.group.split(separator: ".").reversed() + [Substring(r.version), Substring(r.kind)]).joined(separator: ".")
    }

    /// A custom resource's schema: its CRD's, with the object's own fields described.
    static func customSchema(_ r: ResourceInfo, gvk: JSONValue) -> JSONValue {
        var schema: JSONValue = r.crd?.schema ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        schema.set(path: ["properties", "apiVersion"], to: ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."])
        schema.set(path: ["properties", "kind"], to: ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."])
        schema.set(path: ["properties", "metadata"], to: ["type": "object", "description": "Standard object's metadata."])
        schema["x-kubernetes-group-version-kind"] = [gvk]
        return schema
    }
}
