import Foundation
import KubeModel
import Synchronization

/// `scale`, `serviceaccounts/token`, access reviews and token reviews.
extension KubeAPIServer {
    struct ScalePaths {
        var spec: [String]
        var status: [String]
        var selector: [String]?
    }

    func scalePaths(_ r: ResourceInfo) -> ScalePaths {
        if let scale = r.crd?.scale {
            func path(_ key: String) -> [String]? {
                scale[key]?.stringValue.map { $0.split(separator: ".").map(String.init) }
            }
            return ScalePaths(spec: path("specReplicasPath") ?? ["spec", "replicas"], status: path("statusReplicasPath") ?? ["status", "replicas"],
                              selector: path("labelSelectorPath"))
        }
        return ScalePaths(spec: ["spec", "replicas"], status: ["status", "replicas"], selector: nil)
    }

    func scaleObject(_ o: JSONValue, _ r: ResourceInfo) -> JSONValue {
        let paths = scalePaths(r)
        var selector = ""
        if let p = paths.selector {
            selector = o[path: p]?.stringValue ?? ""
        } else if let labels = o["spec"]?["selector"]?["matchLabels"]?.objectValue {
            selector = labels.keys.sorted().map { "\($0)=\(labels[$0]?.stringValue ?? "")" }.joined(separator: ",")
        }
        var meta: JSONValue = .emptyObject
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] { meta[k] = o["metadata"]?[k] }
        return ["apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": meta,
                "spec": ["replicas": .int(o[path: paths.spec]?.intValue ?? 0)],
                "status": selector.isEmpty ? ["replicas": .int(o[path: paths.status]?.intValue ?? 0)]
                    : ["replicas": .int(o[path: paths.status]?.intValue ?? 0), "selector": .string(selector)]]
    }

    func scale(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let contentType = Self.mediaType(request)
        let body: JSONValue
        switch (info.verb, contentType) {
        case ("get", _): body = .null
        case ("update", _): body = try parseBody(request, kind: "Scale")
        case (_, "application/apply-patch+yaml"):
            do { body = try YAML.decode(String(decoding: request.body, as: UTF8.self)) } catch {
                throw APIError.badRequest("error decoding YAML: error converting YAML to JSON: \(error.description)")
            }
        default: body = try Self.parsePatch(request, strategic: contentType == "application/strategic-merge-patch+json")
        }
        return try state.withLock { s throws(APIError) in
            let current = try live(s, r, info)
            let scale = scaleObject(current, r)
            if info.verb == "get" { return .json(200, scale) }
            let desired: JSONValue
            switch (info.verb, contentType) {
            case ("update", _): desired = body
            case (_, "application/json-patch+json"):
                do { desired = try JSONPatch.apply(body, to: scale) } catch {
                    throw APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request", details: .object([:]))
                }
            case (_, "application/apply-patch+yaml"):
                desired = MergePatch.apply(["spec": body["spec"] ?? .emptyObject], to: scale)
            default: desired = MergePatch.apply(body, to: scale)
            }
            guard let replicas = desired["spec"]?["replicas"]?.intValue else {
                throw APIError.invalid(r, name: info.name, errors: [.required("spec.replicas")])
            }
            if let rv = body["metadata"]?["resourceVersion"]?.stringValue, !rv.isEmpty, rv != ObjectMeta.resourceVersion(current) {
                throw APIError.conflict(r, info.name)
            }
            var proposed = current
            proposed.set(path: scalePaths(r).spec, to: .int(replicas))
            let updated = try updateObject(&s, resource: r, live: current, proposed: proposed, manager: "", subresource: "", dryRun: Self.isDryRun(request))
            return .json(200, scaleObject(updated, r))
        }
    }

    /// TokenRequest: mints a ServiceAccount token the emulator then accepts.
    func createToken(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let body = try parseBody(request, kind: "TokenRequest")
        return try state.withLock { s throws(APIError) in
            let sa = try live(s, r, info)
            let seconds = body["spec"]?["expirationSeconds"]?.intValue ?? 3600
            if seconds < 600 {
                throw APIError.invalid(ResourceInfo(group: "authentication.k8s.io", version: "v1", name: "tokenrequests", kind: "TokenRequest", namespaced: true,
                                                    singularName: "", shortNames: [], verbs: [], categories: [], discovery: .null),
                                       name: info.name, errors: [.invalid("spec.expirationSeconds", value: String(seconds), "may not specify a duration less than 10 minutes")])
            }
            var audiences = body["spec"]?["audiences"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if audiences.isEmpty { audiences = [configuration.apiAudience] }
            let expires = Date().addingTimeInterval(TimeInterval(seconds))
            let token = TokenGenerator.serviceAccountToken(namespace: info.namespace, name: info.name, uid: ObjectMeta.uid(sa), audiences: audiences, expires: expires)
            s.tokens[token] = TokenEntry(user: .serviceAccount(namespace: info.namespace, name: info.name), serviceAccountUID: ObjectMeta.uid(sa),
                                         expires: expires, audiences: audiences)
            var tracked: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": body["spec"] ?? .emptyObject]
            ManagedFields.recordUpdate(old: nil, new: &tracked, manager: Self.manager(request), apiVersion: "authentication.k8s.io/v1", subresource: "token",
                                       types: .builtin, statusSeparate: false, builtin: true, now: Timestamp.now())
            var metadata: JSONValue = ["name": .string(info.name), "namespace": .string(info.namespace), "creationTimestamp": .string(Timestamp.now())]
            metadata["managedFields"] = tracked["metadata"]?["managedFields"]
            let response: JSONValue = [
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": metadata,
                "spec": ["audiences": .array(audiences.map { .string($0) }), "expirationSeconds": .int(seconds), "boundObjectRef": body["spec"]?["boundObjectRef"] ?? .null],
                "status": ["token": .string(token), "expirationTimestamp": .string(Timestamp.format(expires))],
            ]
            return .json(201, response)
        }
    }

    /// SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview:
    /// answered by the same RBAC evaluation that enforces requests.
    func review(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo, user: UserInfo) throws(APIError) -> APIResponse {
        var body = try parseBody(request, kind: r.kind)
        try checkKind(r, &body)
        let spec = body["spec"] ?? .emptyObject
        var subject = user
        if r.name == "subjectaccessreviews" || r.name == "localsubjectaccessreviews" {
            let name = spec["user"]?.stringValue ?? ""
            let groups = spec["groups"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if name.isEmpty && groups.isEmpty {
                throw APIError.invalid(r, name: "", errors: [.invalid("spec.user,spec.groups", value: "\"\"", "at least one of user or group must be specified")])
            }
            subject = UserInfo(name: name, groups: groups)
        }
        let decision: JSONValue = state.withLock { s in
            let rbac = RBACAuthorizer(state: s)
            if r.name == "selfsubjectrulesreviews" {
                let ns = spec["namespace"]?.stringValue ?? ""
                let rules = rbac.rulesFor(user: subject, namespace: ns)
                return ["incomplete": false, "resourceRules": .array(rules.filter { $0["resources"] != nil }.map { rule in
                            var c = rule; c["resourceNames"] = rule["resourceNames"]; return c }),
                        "nonResourceRules": .array(rules.filter { $0["nonResourceURLs"] != nil })]
            }
            var a = Attributes(user: subject, verb: "")
            if let ra = spec["resourceAttributes"] {
                a.verb = ra["verb"]?.stringValue ?? ""
                a.group = ra["group"]?.stringValue ?? ""
                a.resource = ra["resource"]?.stringValue ?? ""
                a.subresource = ra["subresource"]?.stringValue ?? ""
                a.namespace = ra["namespace"]?.stringValue ?? (r.name == "localsubjectaccessreviews" ? info.namespace : "")
                a.name = ra["name"]?.stringValue ?? ""
            } else if let nra = spec["nonResourceAttributes"] {
                a.isResourceRequest = false
                a.verb = nra["verb"]?.stringValue ?? ""
                a.path = nra["path"]?.stringValue ?? ""
            }
            let d = rbac.authorize(a)
            var status: JSONValue = ["allowed": .bool(d.allowed)]
            if !d.reason.isEmpty { status["reason"] = .string(d.reason) }
            return status
        }
        if r.name == "selfsubjectrulesreviews" {
            // kube-apiserver answers with an empty spec (the namespace is not echoed).
            body["spec"] = .emptyObject
        } else {
            ManagedFields.recordUpdate(old: nil, new: &body, manager: Self.manager(request), apiVersion: r.groupVersion, subresource: "",
                                       types: .builtin, statusSeparate: false, builtin: true, now: Timestamp.now())
        }
        body.set(path: ["metadata", "creationTimestamp"], to: .null)
        body["status"] = decision
        return .json(201, body)
    }

    func tokenReview(_ request: APIRequest, _ r: ResourceInfo) throws(APIError) -> APIResponse {
        var body = try parseBody(request, kind: "TokenReview")
        let token = body["spec"]?["token"]?.stringValue ?? ""
        let wanted = body["spec"]?["audiences"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let entry = state.withLock { $0.tokens[token] }
        let tokenAudiences = entry?.audiences ?? [configuration.apiAudience]
        let accepted = wanted.isEmpty ? tokenAudiences.filter { $0 == configuration.apiAudience } : tokenAudiences.filter { wanted.contains($0) }
        if let entry, entry.expires.map({ $0 > Date() }) ?? true, !accepted.isEmpty {
            body["status"] = ["authenticated": true, "user": ["username": .string(entry.user.name), "groups": .array(entry.user.groups.map { .string($0) })],
                              "audiences": .array(accepted.map { .string($0) })]
        } else if entry != nil {
            body["status"] = ["authenticated": false, "error": "token audiences are invalid for the target audiences"]
        } else {
            body["status"] = ["authenticated": false, "error": "invalid bearer token"]
        }
        body.set(path: ["metadata", "creationTimestamp"], to: .null)
        return .json(201, body)
    }

    /// SelfSubjectReview (`kubectl auth whoami`): who the server thinks the caller is.
    func selfSubjectReview(_ user: UserInfo) -> APIResponse {
        .json(201, ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": ["creationTimestamp": .null],
                    "status": ["userInfo": ["username": .string(user.name), "groups": .array(user.groups.map { .string($0) })]]])
    }
}
