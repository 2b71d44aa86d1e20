/// The parsed meaning of a request path, as kube-apiserver's RequestInfoFactory derives it.
struct RequestInfo: Sendable {
    var isResourceRequest = false
    var path: String
    var verb: String
    var group = ""
    var version = ""
    var namespace = ""
    var resource = ""
    var name = ""
    var subresource = ""
    /// `/api`, `/apis/G`, `/apis/G/V` discovery and other paths below a group.
    var groupPathParts: [String] = []

    static let namespaceSubresources: Set<String> = ["status", "finalize"]

    init(method: String, path: String, query: [String: String]) {
        self.path = path
        self.verb = method.lowercased()
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let prefix = parts.first, prefix == "api" || prefix == "apis" else { return }
        parts.removeFirst()
        groupPathParts = parts
        if prefix == "api" {
            guard let v = parts.first else { return }
            version = v
            parts.removeFirst()
        } else {
            guard parts.count >= 2 else { return }
            group = parts[0]
            version = parts[1]
            parts.removeFirst(2)
        }
        guard !parts.isEmpty else { return }
        isResourceRequest = true
        var isWatchPath = false
        if parts.first == "watch" {
            isWatchPath = true
            parts.removeFirst()
        }
        if parts.count >= 2, parts[0] == "namespaces" {
            if parts.count >= 3, !RequestInfo.namespaceSubresources.contains(parts[2]) {
                namespace = parts[1]
                parts.removeFirst(2)
            } else {
                namespace = parts[1]
            }
        }
        guard !parts.isEmpty else { isResourceRequest = false; return }
        resource = parts[0]
        if parts.count >= 2 { name = parts[1] }
        if parts.count >= 3 { subresource = parts[2...].joined(separator: "/") }
        if resource == "namespaces" { namespace = name.isEmpty ? "" : name }
        switch method {
        case "GET", "HEAD":
            if name.isEmpty {
                let w = query["watch"]?.lowercased()
                verb = (isWatchPath || w == "true" || w == "1") ? "watch" : "list"
            } else {
                verb = isWatchPath ? "watch" : "get"
            }
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = name.isEmpty ? "deletecollection" : "delete"
        default: verb = method.lowercased()
        }
    }

    /// The namespace the object lives in (namespaces themselves live in no namespace).
    var objectNamespace: String { resource == "namespaces" ? "" : namespace }
}
