import Foundation
import KubeModel
import Synchronization

/// Non-resource endpoints: version, health, metrics and legacy discovery.
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
        case "/openapi/v2": return openAPIV2(request)
        default: break
        }
        if path.hasPrefix("/openapi/v3/") {
            guard let bytes = openAPIDocumentBytes(String(path.dropFirst("/openapi/v3/".count))) else { throw APIError.notFoundPath() }
            return APIResponse(status: 200, headers: [("Content-Type", "application/json")], body: bytes)
        }
        let parts = info.groupPathParts
        let catalog = state.withLock { $0.catalog }
        if path.hasPrefix("/api/"), parts.count == 1 {
            guard let resources = catalog.resources(groupVersion: parts[0]) else { throw APIError.notFoundPath() }
            return .json(200, resourceList(groupVersion: parts[0], resources, custom: false))
        }
        if path.hasPrefix("/apis/") {
            if parts.count == 1 {
                guard var doc = groupDocument(catalog, parts[0]) else { throw APIError.notFoundPath(group: parts[0]) }
                doc["kind"] = "APIGroup"
                doc["apiVersion"] = "v1"
                return .json(200, doc)
            }
            if parts.count == 2 {
                let gv = "\(parts[0])/\(parts[1])"
                guard let resources = catalog.resources(groupVersion: gv) else { throw APIError.notFoundPath(group: parts[0]) }
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
}
