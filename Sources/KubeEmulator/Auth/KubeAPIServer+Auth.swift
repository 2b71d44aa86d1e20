import Foundation
import KubeModel
import Synchronization

extension KubeAPIServer {
    /// Bearer tokens (static users and ServiceAccount tokens); no credentials is `system:anonymous`.
    func authenticate(_ request: APIRequest) throws(APIError) -> UserInfo {
        guard let header = request.header("authorization") else { return request.clientCertificateIdentity ?? .anonymous }
        let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
        guard header.lowercased().hasPrefix("bearer ") else { throw unauthorized }
        let token = String(header.dropFirst("bearer ".count)).trimmingSpaces
        return try state.withLock { s throws(APIError) -> UserInfo in
            guard let entry = s.tokens[token] else { throw unauthorized }
            if let expires = entry.expires, expires < Date() { throw unauthorized }
            if let audiences = entry.audiences, !audiences.contains(configuration.apiAudience) { throw unauthorized }
            if let uid = entry.serviceAccountUID, let (ns, name) = entry.user.serviceAccount {
                // A ServiceAccount token dies with its account.
                guard let sa = s.get("serviceaccounts", namespace: ns, name: name), ObjectMeta.uid(sa) == uid else { throw unauthorized }
            }
            return entry.user
        }
    }

    /// Applies `Impersonate-User` / `Impersonate-Group`, each authorized by the `impersonate` verb.
    func impersonate(_ request: APIRequest, user: UserInfo) throws(APIError) -> UserInfo {
        let target = request.header("impersonate-user")
        let groups = request.headers["impersonate-group"] ?? []
        guard let target else {
            if !groups.isEmpty {
                throw APIError.badRequest("requested \(groups) without impersonating a user")
            }
            return user
        }
        try state.withLock { s throws(APIError) in
            let rbac = RBACAuthorizer(state: s)
            var checks: [Attributes] = []
            if let (ns, name) = UserInfo(name: target, groups: []).serviceAccount {
                checks.append(Attributes(user: user, verb: "impersonate", resource: "serviceaccounts", namespace: ns, name: name))
            } else {
                checks.append(Attributes(user: user, verb: "impersonate", resource: "users", name: target))
            }
            for g in groups {
                checks.append(Attributes(user: user, verb: "impersonate", resource: "groups", name: g))
            }
            for a in checks where !rbac.authorize(a).allowed {
                throw APIError.forbidden(nil, resourceName: a.resource, group: "", name: a.name, message: a.forbiddenMessage)
            }
        }
        if groups.isEmpty {
            if let (ns, name) = UserInfo(name: target, groups: []).serviceAccount {
                return .serviceAccount(namespace: ns, name: name)
            }
            return UserInfo(name: target, groups: target == "system:anonymous" ? ["system:unauthenticated"] : ["system:authenticated"])
        }
        return UserInfo(name: target, groups: groups + (target == "system:anonymous" ? [] : ["system:authenticated"]))
    }

    func authorizeNonResource(user: UserInfo, path: String) throws(APIError) {
        let a = Attributes(user: user, verb: "get", isResourceRequest: false, path: path)
        let allowed = state.withLock { RBACAuthorizer(state: $0).authorize(a).allowed }
        guard allowed else {
            throw APIError(code: 403, reason: "Forbidden", message: "forbidden: \(a.forbiddenMessage)", details: .object([:]))
        }
    }

    /// RBAC check for a resource request; throws the real Forbidden text.
    func authorize(_ s: State, _ a: Attributes) throws(APIError) {
        guard RBACAuthorizer(state: s).authorize(a).allowed else {
            throw APIError.forbidden(nil, resourceName: a.resource, group: a.group, name: a.name.isEmpty ? nil : a.name, message: a.forbiddenMessage)
        }
    }
}
