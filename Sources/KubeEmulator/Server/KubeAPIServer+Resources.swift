import Foundation
import KubeModel
import Synchronization

extension KubeAPIServer {
    var caBundlePEM: String { configuration.caBundlePEM }

    static func manager(_ request: APIRequest) -> String {
        if let m = request.query["fieldManager"], !m.isEmpty { return m }
        let ua = request.header("user-agent") ?? "unknown"
        return String(ua.split(separator: "/").first ?? "unknown")
    }

    static func isDryRun(_ request: APIRequest) -> Bool { request.query["dryRun"] == "All" }

    /// A create or update body: JSON (or YAML, or protobuf) as its Content-Type says, with
    /// kube-apiserver's 400 for what does not decode and 415 for a type it does not read.
    func parseBody(_ request: APIRequest, kind: String) throws(APIError) -> JSONValue {
        if KubeProtobuf.hasMagic(request.body) {
            do {
                return try KubeProtobuf.decode(request.body)
            } catch {
                throw APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request could not be decoded: \(error.message)",
                               details: .object([:]))
            }
        }
        let unrecognized = { (reason: String) in
            APIError.badRequest("the object provided is unrecognized (must be of type \(kind)): \(reason) (\(Self.summarize(request.body)))")
        }
        switch Self.mediaType(request) {
        case "", "application/json", "*/*":
            if let value = try? JSONValue.parse(request.body), !request.body.isEmpty { return value }
            throw unrecognized("couldn't get version/kind; json parse error: \(GoJSONSyntax.error(in: request.body) ?? "unexpected end of JSON input")")
        case "application/yaml":
            do {
                return try YAML.decode(String(decoding: request.body, as: UTF8.self))
            } catch {
                throw unrecognized(error.description)
            }
        default:
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
        }
    }

    static func mediaType(_ request: APIRequest) -> String {
        (request.header("content-type") ?? "").split(separator: ";").first.map { String($0).trimmingSpaces.lowercased() } ?? ""
    }

    /// How kube-apiserver quotes a body it cannot read: an object's first 30 bytes, else hex.
    static func summarize(_ body: [UInt8]) -> String {
        guard let first = body.first else { return "<empty>" }
        let head = body.prefix(30)
        let more = body.count > 30 ? " ..." : ""
        if first == UInt8(ascii: "{") { return String(decoding: head, as: UTF8.self) + more }
        return head.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + more
    }

    /// A merge, JSON or strategic patch body (its errors differ from an object's).
    static func parsePatch(_ request: APIRequest, strategic: Bool) throws(APIError) -> JSONValue {
        if let value = try? JSONValue.parse(request.body), !request.body.isEmpty { return value }
        let error = GoJSONSyntax.error(in: request.body) ?? "unexpected end of JSON input"
        throw APIError.badRequest(strategic ? error : "error decoding patch: \(error)")
    }

    func serveResource(_ request: APIRequest, _ info: RequestInfo, user: UserInfo, dropWatchAfter: Duration?) throws(APIError) -> APIResponse {
        let resource = state.withLock { $0.catalog.resource(group: info.group, version: info.version, name: info.resource) }
        guard let r = resource else { throw APIError.notFoundPath(group: info.group) }
        if !r.namespaced && !info.namespace.isEmpty && info.resource != "namespaces" { throw APIError.notFoundPath(group: info.group) }
        var verbs = r.verbs
        if !info.subresource.isEmpty {
            guard let sub = r.subresources[info.subresource] else { throw APIError.notFoundPath(group: info.group) }
            verbs = sub["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        let verbForSupport = info.verb == "watch" ? "watch" : info.verb
        guard verbs.contains(verbForSupport) else { throw APIError.methodNotSupported(r, verb: info.verb) }
        if r.namespaced && info.namespace.isEmpty && !["list", "watch"].contains(info.verb) { throw APIError.notFoundPath(group: info.group) }

        // A list or watch pinned to one name by `fieldSelector=metadata.name=X` is authorized like
        // a request for X (so RBAC resourceNames apply), as in kube-apiserver.
        var rbacName = info.name
        if rbacName.isEmpty, info.verb == "list" || info.verb == "watch",
           let pinned = try? FieldSelector.parse(request.query["fieldSelector"] ?? "", resource: r.resourceKey).pinnedName {
            rbacName = pinned
        }
        let attributes = Attributes(user: user, verb: info.verb, group: r.group, resource: r.name, subresource: info.subresource,
                                    namespace: info.namespace, name: rbacName)
        try state.withLock { s throws(APIError) in try authorize(s, attributes) }

        switch (info.verb, info.subresource) {
        case ("create", "token"): return try createToken(request, r, info)
        case ("create", _) where r.storageKey.hasSuffix("accessreviews.authorization.k8s.io") || r.storageKey.hasSuffix("rulesreviews.authorization.k8s.io"):
            return try review(request, r, info, user: user)
        case ("create", _) where r.storageKey == "tokenreviews.authentication.k8s.io":
            return try tokenReview(request, r)
        case ("create", _) where r.storageKey == "selfsubjectreviews.authentication.k8s.io":
            return selfSubjectReview(user)
        case (_, "scale"): return try scale(request, r, info)
        case ("get", _): return try get(request, r, info)
        case ("list", _): return try list(request, r, info)
        case ("watch", _): return try watch(request, r, info, dropAfter: dropWatchAfter)
        case ("create", _): return try create(request, r, info)
        case ("update", _): return try update(request, r, info)
        case ("patch", _): return try patch(request, r, info)
        case ("delete", _): return try delete(request, r, info)
        case ("deletecollection", _): return try deleteCollection(request, r, info)
        default: throw APIError.methodNotSupported(r, verb: info.verb)
        }
    }

    /// The object as served at the requested version.
    func served(_ o: JSONValue, _ r: ResourceInfo) -> JSONValue {
        VersionConversion.convert(o, to: r.groupVersion)
    }

    /// The stored object at the requested version (what a read returns and a write starts from).
    func live(_ s: State, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> JSONValue {
        guard let o = s.get(r.storageKey, namespace: info.objectNamespace, name: info.name) else { throw APIError.notFound(r, info.name) }
        return served(o, r)
    }

    func get(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let o = try state.withLock { s throws(APIError) in try live(s, r, info) }
        if let form = wantsMetadata(request) { return try metadataObject(form, o) }
        if wantsTable(request) {
            return .json(200, table(r, objects: [served(o, r)], listRV: ObjectMeta.resourceVersion(o), request: request))
        }
        return .json(200, served(o, r))
    }

    func create(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let body = try parseBody(request, kind: r.kind)
        try checkStrictFields(request, r, body)
        let manager = Self.manager(request)
        let dryRun = Self.isDryRun(request)
        let created = try state.withLock { s throws(APIError) in
            try createObject(&s, resource: r, namespace: info.namespace, body: body, manager: manager, dryRun: dryRun)
        }
        return .json(201, served(created, r))
    }

    func update(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        var body = try parseBody(request, kind: r.kind)
        try checkKind(r, &body)
        try checkStrictFields(request, r, body)
        let manager = Self.manager(request)
        let dryRun = Self.isDryRun(request)
        let (code, updated) = try state.withLock { s throws(APIError) -> (Int, JSONValue) in
            guard let current = s.get(r.storageKey, namespace: info.objectNamespace, name: info.name).map({ served($0, r) }) else {
                // Leases (like kube-apiserver's lease strategy) may be created by a PUT.
                guard r.storageKey == "leases.coordination.k8s.io", info.subresource.isEmpty else { throw APIError.notFound(r, info.name) }
                return (201, try createObject(&s, resource: r, namespace: info.namespace, body: body, manager: manager, dryRun: dryRun))
            }
            return (200, try updateObject(&s, resource: r, live: current, proposed: body, manager: manager, subresource: info.subresource,
                                          dryRun: dryRun, requireResourceVersion: true))
        }
        return .json(code, served(updated, r))
    }

    func patch(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let contentType = Self.mediaType(request)
        if contentType == "application/apply-patch+yaml" { return try apply(request, r, info) }
        let patchTypes = ["application/merge-patch+json", "application/json-patch+json"] + (r.crd == nil ? ["application/strategic-merge-patch+json"] : [])
        guard patchTypes.contains(contentType) else { throw APIError.unsupportedPatch(r, contentType: contentType) }
        if request.query["force"] != nil {
            throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
                           details: ["kind": "PatchOptions", "group": "meta.k8s.io", "causes": [["reason": "FieldValueForbidden", "message": "Forbidden: may not be specified for non-apply patch", "field": "force"]]])
        }
        let manager = Self.manager(request)
        let updated = try state.withLock { s throws(APIError) in
            let current = try live(s, r, info)  // a patch cannot create: NotFound before the body is read
            let body = try Self.parsePatch(request, strategic: contentType == "application/strategic-merge-patch+json")
            let proposed: JSONValue
            switch contentType {
            case "application/merge-patch+json":
                proposed = MergePatch.apply(body, to: current)
            case "application/json-patch+json":
                do {
                    proposed = try JSONPatch.apply(body, to: current)
                } catch {
                    throw APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request", details: .object([:]))
                }
            default:
                proposed = StrategicMergePatch(types: .builtin).apply(body, to: current)
            }
            try checkStrictFields(request, r, proposed)
            return try updateObject(&s, resource: r, live: current, proposed: proposed, manager: manager, subresource: info.subresource, dryRun: Self.isDryRun(request))
        }
        return .json(200, served(updated, r))
    }

    func apply(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        guard let manager = request.query["fieldManager"], !manager.isEmpty else {
            throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                           details: ["group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               ["reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"]]])
        }
        let text = String(decoding: request.body, as: UTF8.self)
        var applied: JSONValue
        do {
            applied = try YAML.decode(text)
        } catch {
            throw APIError.badRequest("error decoding YAML: error converting YAML to JSON: \(error.description)")
        }
        try checkKind(r, &applied)
        try checkStrictFields(request, r, applied)
        if applied["metadata"]?["managedFields"] != nil {
            throw APIError.badRequest("metadata.managedFields must be nil")
        }
        if r.namespaced, let ns = applied["metadata"]?["namespace"]?.stringValue, !ns.isEmpty, ns != info.namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let appliedRV = applied["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if let n = applied["metadata"]?["name"]?.stringValue, n != info.name {
            throw APIError.badRequest("the name of the object (\(n)) does not match the name on the URL (\(info.name))")
        }
        let force = request.query["force"] == "true"
        let dryRun = Self.isDryRun(request)
        let now = Timestamp.now()
        let ssa = ServerSideApply(types: fieldTypes(r), statusSeparate: r.hasStatusSubresource, subresource: info.subresource)
        return try state.withLock { s throws(APIError) in
            if let current = s.get(r.storageKey, namespace: info.objectNamespace, name: info.name).map({ served($0, r) }) {
                if !appliedRV.isEmpty && appliedRV != ObjectMeta.resourceVersion(current) { throw APIError.conflict(r, info.name) }
                let base = current
                switch ssa.apply(live: base, applied: applied, manager: manager, force: force, apiVersion: r.groupVersion, now: now) {
                case .failure(let conflict): throw conflict.apiError
                case .success(let merged):
                    let updated = try updateObject(&s, resource: r, live: current, proposed: merged, manager: manager, subresource: info.subresource,
                                                   dryRun: dryRun, applyManaged: true)
                    return .json(200, served(updated, r))
                }
            }
            guard info.subresource.isEmpty else { throw APIError.notFound(r, info.name) }
            var body = applied
            body.set(path: ["metadata", "name"], to: .string(info.name))
            // Create-on-apply: ownership is computed on the object as it will be stored.
            let probe = try createObject(&s, resource: r, namespace: info.namespace, body: body, manager: "", dryRun: true)
            guard case .success(let owned) = ssa.apply(live: probe, applied: applied, manager: manager, force: true, apiVersion: r.groupVersion, now: now) else {
                throw APIError.internalError("apply on create failed")
            }
            let created = try createObject(&s, resource: r, namespace: info.namespace, body: body, manager: "", dryRun: dryRun,
                                           applyManaged: owned["metadata"]?["managedFields"] ?? .array([]))
            return .json(201, served(created, r))
        }
    }

    func deleteOptions(_ request: APIRequest) throws(APIError) -> JSONValue {
        if request.body.isEmpty { return .emptyObject }
        let body = try parseBody(request, kind: "DeleteOptions")
        return body.isNull ? .emptyObject : body
    }

    func delete(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let options = try deleteOptions(request)
        let dryRun = Self.isDryRun(request) || options["dryRun"]?.arrayValue?.contains("All") == true
        let (code, body) = try state.withLock { s throws(APIError) in
            let current = try live(s, r, info)
            return try deleteObject(&s, resource: r, live: current, options: options, query: request.query, dryRun: dryRun)
        }
        return .json(code, body.objectValue?["kind"] == "Status" ? body : served(body, r))
    }

    func deleteCollection(_ request: APIRequest, _ r: ResourceInfo, _ info: RequestInfo) throws(APIError) -> APIResponse {
        let options = try deleteOptions(request)
        let selector = try labelSelector(request)
        let fields = try FieldSelector.parse(request.query["fieldSelector"] ?? "", resource: r.resourceKey)
        let dryRun = Self.isDryRun(request)
        let deleted = try state.withLock { s throws(APIError) -> [JSONValue] in
            let targets = s.list(r.storageKey, namespace: r.namespaced && !info.namespace.isEmpty ? info.namespace : nil)
                .filter { selector.matches(ObjectMeta.labels($0)) && fields.matches(served($0, r)) }
            var out: [JSONValue] = []
            for t in targets {
                _ = try deleteObject(&s, resource: r, live: t, options: options, query: request.query, dryRun: dryRun)
                out.append(served(t, r))
            }
            return out
        }
        return .json(200, ["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion),
                           "metadata": ["resourceVersion": .string(String(currentResourceVersion))], "items": .array(deleted)])
    }
}
