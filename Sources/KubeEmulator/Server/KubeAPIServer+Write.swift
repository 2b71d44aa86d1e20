import Foundation
import KubeModel

extension KubeAPIServer {
    func fieldTypes(_ r: ResourceInfo) -> FieldTypes {
        r.crd.map { FieldTypes(schema: $0.schema) } ?? .builtin
    }

    /// Checks `apiVersion`/`kind` of a request body against the resource it is sent to; a body without
    /// them gets the resource's (as kube-apiserver decodes with the URL's kind as default).
    func checkKind(_ r: ResourceInfo, _ body: inout JSONValue) throws(APIError) {
        guard case .object = body else { throw APIError.badRequest("the body of the request must be a JSON object") }
        let kind = body["kind"]?.stringValue ?? ""
        let apiVersion = body["apiVersion"]?.stringValue ?? ""
        if kind.isEmpty { body["kind"] = .string(r.kind) }
        if apiVersion.isEmpty { body["apiVersion"] = .string(r.groupVersion) }
        guard !kind.isEmpty else { return }
        let (group, version) = Catalog.splitGroupVersion(apiVersion.isEmpty ? r.groupVersion : apiVersion)
        if kind != r.kind || group != r.group {
            let target = r.group.isEmpty ? "core.\(r.kind)" : "\(r.group.split(separator: ".").first ?? "").\(r.kind)"
            throw APIError.badRequest("\(kind) in version \"\(version)\" cannot be handled as a \(r.kind): converting (\(version).\(kind)) to (\(target)): unknown conversion")
        }
    }

    func nameProblems(_ r: ResourceInfo, _ name: String) -> [String] {
        switch r.storageKey {
        case "namespaces", "services": return NameValidation.labelProblems(name)
        case let k where k.hasSuffix(".rbac.authorization.k8s.io"): return NameValidation.pathSegmentProblems(name)
        default: return NameValidation.subdomainProblems(name)
        }
    }

    /// Checks that a namespace exists and is not terminating, for creating `name` in it.
    func checkNamespace(_ s: State, _ r: ResourceInfo, namespace: String, name: String) throws(APIError) {
        guard r.namespaced else { return }
        guard let ns = s.get("namespaces", namespace: "", name: namespace) else {
            throw APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                           details: APIError.details(name: namespace, group: "", kind: "namespaces"))
        }
        if ObjectMeta.isDeleting(ns) {
            throw APIError(code: 403, reason: "Forbidden",
                           message: "\(r.qualifiedName) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                           details: APIError.details(name: name, group: r.group, kind: r.name, causes: [
                               ["reason": "NamespaceTerminating", "message": .string("namespace \(namespace) is being terminated"), "field": "metadata.namespace"],
                           ]))
        }
    }

    /// Creates an object; `applied` carries the managedFields of a create-on-apply instead of an
    /// Update entry.
    func createObject(_ s: inout State, resource r: ResourceInfo, namespace: String, body: JSONValue,
                      manager: String, dryRun: Bool, applyManaged: JSONValue? = nil) throws(APIError) -> JSONValue {
        var obj = body
        try checkKind(r, &obj)
        let bodyNamespace = body["metadata"]?["namespace"]?.stringValue ?? ""
        if r.namespaced {
            if !bodyNamespace.isEmpty && bodyNamespace != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            obj.set(path: ["metadata", "namespace"], to: .string(namespace))
        } else {
            obj.set(path: ["metadata", "namespace"], to: nil)
        }
        var name = obj["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty {
            guard let prefix = obj["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty else {
                throw APIError.invalid(r, name: "", errors: [.required("metadata.name", "name or generateName is required")])
            }
            name = String(prefix.prefix(58)) + Identifiers.nameSuffix()
            obj.set(path: ["metadata", "name"], to: .string(name))
        }
        let problems = nameProblems(r, name)
        if !problems.isEmpty {
            throw APIError.invalid(r, name: name, errors: problems.map { .invalid("metadata.name", value: "\"\(name)\"", $0) })
        }
        if r.group == "events.k8s.io" { try EventValidation.check(obj, name: name) }
        try checkNamespace(s, r, namespace: namespace, name: name)
        if s.get(r.storageKey, namespace: r.namespaced ? namespace : "", name: name) != nil {
            throw APIError.alreadyExists(r, name)
        }
        if r.hasStatusSubresource {
            if r.crd != nil { obj["status"] = nil } else { obj["status"] = .emptyObject }
        }
        for k in ["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"] {
            obj.set(path: ["metadata", k], to: nil)
        }
        try prepareForStorage(&s, r, &obj, old: nil)
        obj.set(path: ["metadata", "uid"], to: .string(Identifiers.uid()))
        obj.set(path: ["metadata", "creationTimestamp"], to: .string(Timestamp.now()))
        if r.tracksGeneration { obj.set(path: ["metadata", "generation"], to: .int(1)) }
        if dryRun {
            applyStrategy(r, &obj, old: nil)
            return obj
        }
        if let applyManaged {
            obj.set(path: ["metadata", "managedFields"], to: applyManaged.arrayValue?.isEmpty == false ? applyManaged : nil)
        } else if !manager.isEmpty {
            ManagedFields.recordUpdate(old: nil, new: &obj, manager: manager, apiVersion: r.groupVersion, subresource: "",
                                       types: fieldTypes(r), statusSeparate: r.hasStatusSubresource, builtin: r.crd == nil, now: Timestamp.now())
        }
        applyStrategy(r, &obj, old: nil)
        obj.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
        s.commit(type: "ADDED", storageKey: r.storageKey, namespace: r.namespaced ? namespace : "", name: name, object: obj, old: nil)
        afterCreate(&s, r, obj)
        return obj
    }

    /// Kind-specific defaulting and validation shared by create and update.
    func prepareForStorage(_ s: inout State, _ r: ResourceInfo, _ obj: inout JSONValue, old: JSONValue?) throws(APIError) {
        if let crd = r.crd {
            try validateCustomResource(r, crd, &obj)
            return
        }
        switch r.storageKey {
        case "namespaces":
            obj.set(path: ["metadata", "labels", "kubernetes.io/metadata.name"], to: .string(ObjectMeta.name(obj)))
        case "customresourcedefinitions.apiextensions.k8s.io":
            try validateCRD(r, &obj, old: old)
        default:
            BuiltinDefaults.apply(r.storageKey, &obj)
        }
    }

    /// What the registry strategy sets after ownership is computed (kube-apiserver's PrepareForCreate/
    /// PrepareForUpdate): fields nobody owns.
    func applyStrategy(_ r: ResourceInfo, _ obj: inout JSONValue, old: JSONValue?) {
        switch r.storageKey {
        case "namespaces":
            if let old {
                obj.set(path: ["spec", "finalizers"], to: old["spec"]?["finalizers"])
                obj["status"] = old["status"]
            } else {
                if obj["spec"]?["finalizers"] == nil { obj.set(path: ["spec", "finalizers"], to: ["kubernetes"]) }
                obj["status"] = ["phase": "Active"]
            }
        default:
            break
        }
    }

    /// What controllers of a real cluster do right after a create.
    func afterCreate(_ s: inout State, _ r: ResourceInfo, _ obj: JSONValue) {
        switch r.storageKey {
        case "namespaces":
            let ns = ObjectMeta.name(obj)
            if let sa = s.catalog.resource(group: "", version: "v1", name: "serviceaccounts") {
                _ = try? createObject(&s, resource: sa, namespace: ns, body: ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "default"]],
                                      manager: "", dryRun: false)
            }
            if let cm = s.catalog.resource(group: "", version: "v1", name: "configmaps") {
                let body: JSONValue = [
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": ["name": "kube-root-ca.crt", "annotations": [
                        "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
                    ]],
                    "data": ["ca.crt": .string(caBundlePEM)],
                ]
                _ = try? createObject(&s, resource: cm, namespace: ns, body: body, manager: "kube-controller-manager", dryRun: false)
            }
        case "customresourcedefinitions.apiextensions.k8s.io":
            establishCRD(&s, obj)
        case Self.clusterRolesKey:
            aggregateClusterRoles(&s)
        default:
            break
        }
    }

    /// Replaces a live object with `proposed` (already merged/patched), keeping what clients cannot
    /// change, tracking generation and ownership, and finishing deletions whose finalizers are gone.
    /// Kinds whose strategy refuses a PUT without a resourceVersion (kube-apiserver's
    /// AllowUnconditionalUpdate is false for them).
    static func allowsUnconditionalUpdate(_ r: ResourceInfo) -> Bool {
        r.crd == nil && r.storageKey != "leases.coordination.k8s.io"
    }

    func updateObject(_ s: inout State, resource r: ResourceInfo, live: JSONValue, proposed: JSONValue, manager: String,
                      subresource: String, dryRun: Bool, applyManaged: Bool = false, requireResourceVersion: Bool = false) throws(APIError) -> JSONValue {
        let name = ObjectMeta.name(live)
        let namespace = ObjectMeta.namespace(live)
        guard case .object = proposed else { throw APIError.badRequest("the body of the request must be a JSON object") }
        let proposedName = proposed["metadata"]?["name"]?.stringValue ?? ""
        if !proposedName.isEmpty && proposedName != name {
            throw APIError.badRequest("the name of the object (\(proposedName)) does not match the name on the URL (\(name))")
        }
        if let pns = proposed["metadata"]?["namespace"]?.stringValue, !pns.isEmpty, r.namespaced, pns != namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let proposedRV = proposed["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if !proposedRV.isEmpty, proposedRV != ObjectMeta.resourceVersion(live) {
            throw APIError.conflict(r, name)
        }
        if proposedRV.isEmpty && requireResourceVersion && !Self.allowsUnconditionalUpdate(r) {
            throw APIError.invalid(r, name: name, errors: [.invalid("metadata.resourceVersion", value: "0x0", "must be specified for an update")])
        }
        var obj: JSONValue
        if subresource == "status" {
            obj = live
            obj["status"] = proposed["status"]
        } else {
            obj = proposed
            if r.hasStatusSubresource { obj["status"] = live["status"] }
        }
        obj["apiVersion"] = live["apiVersion"]
        obj["kind"] = live["kind"]
        for k in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"] {
            obj.set(path: ["metadata", k], to: live["metadata"]?[k])
        }
        // Ownership starts from what the client sent when it sent managedFields (kubectl rewrites
        // them when switching from client-side to server-side apply; `[{}]` clears them).
        var managed = live["metadata"]?["managedFields"]
        if applyManaged {
            managed = proposed["metadata"]?["managedFields"]
        } else if let sent = proposed["metadata"]?["managedFields"], sent != live["metadata"]?["managedFields"] {
            let valid = (sent.arrayValue ?? []).filter { !($0["manager"]?.stringValue ?? "").isEmpty && $0["fieldsV1"] != nil }
            managed = valid.isEmpty ? nil : .array(valid)
        }
        obj.set(path: ["metadata", "managedFields"], to: managed)

        if ObjectMeta.isDeleting(live) {
            let before = Set(ObjectMeta.finalizers(live))
            let added = ObjectMeta.finalizers(obj).filter { !before.contains($0) }
            if !added.isEmpty {
                let detail = "no new finalizers can be added if the object is being deleted, found new finalizers []string{\(added.map { "\"\($0)\"" }.joined(separator: ", "))}"
                // kube-apiserver reports this cause twice (object meta and finalizer validation).
                throw APIError.invalid(r, name: name, errors: [.forbidden("metadata.finalizers", detail), .forbidden("metadata.finalizers", detail)])
            }
        }
        if subresource != "status" {
            try prepareForStorage(&s, r, &obj, old: live)
        } else if let crd = r.crd {
            // Status writes are validated against the whole schema too.
            try validateCustomResource(r, crd, &obj)
        }
        if r.tracksGeneration && specPart(obj, r) != specPart(live, r) {
            obj.set(path: ["metadata", "generation"], to: .int((live["metadata"]?["generation"]?.intValue ?? 0) + 1))
        }
        if !applyManaged && !manager.isEmpty {
            ManagedFields.recordUpdate(old: live, new: &obj, manager: manager, apiVersion: r.groupVersion, subresource: subresource,
                                       types: fieldTypes(r), statusSeparate: r.hasStatusSubresource, builtin: r.crd == nil, now: Timestamp.now())
        }
        applyStrategy(r, &obj, old: live)
        if Self.withoutTimes(obj) == Self.withoutTimes(live) { return live }
        if dryRun { return obj }
        obj.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
        if ObjectMeta.isDeleting(obj) && ObjectMeta.finalizers(obj).isEmpty && r.storageKey != "namespaces" {
            s.commit(type: "DELETED", storageKey: r.storageKey, namespace: namespace, name: name, object: obj, old: live)
            afterDelete(&s, r, obj)
        } else {
            s.commit(type: "MODIFIED", storageKey: r.storageKey, namespace: namespace, name: name, object: obj, old: live)
            if r.storageKey == Self.crdKey && isEstablished(obj) && !ObjectMeta.isDeleting(obj) { registerCRD(&s, obj) }
        }
        if r.storageKey == Self.clusterRolesKey && manager != Self.aggregationManager { aggregateClusterRoles(&s) }
        return obj
    }

    /// Everything but metadata and status: what `generation` tracks.
    func specPart(_ o: JSONValue, _ r: ResourceInfo) -> JSONValue {
        var c = o
        c["metadata"] = nil
        // Without a status subresource, status is part of what generation tracks.
        if r.hasStatusSubresource || r.crd == nil { c["status"] = nil }
        return c
    }

    /// An object with managedFields timestamps blanked, for no-op detection.
    static func withoutTimes(_ o: JSONValue) -> JSONValue {
        guard let entries = o["metadata"]?["managedFields"]?.arrayValue else { return o }
        var c = o
        c.set(path: ["metadata", "managedFields"], to: .array(entries.map { e in var e = e; e["time"] = nil; return e }))
        return c
    }

    /// Deletes (or marks for deletion, when finalizers hold it) one object. Returns the response body.
    func deleteObject(_ s: inout State, resource r: ResourceInfo, live: JSONValue, options: JSONValue, query: [String: String], dryRun: Bool) throws(APIError) -> (Int, JSONValue) {
        let name = ObjectMeta.name(live)
        let namespace = ObjectMeta.namespace(live)
        if let want = options["preconditions"]?["resourceVersion"]?.stringValue, want != ObjectMeta.resourceVersion(live) {
            throw APIError(code: 409, reason: "Conflict",
                           message: "Operation cannot be fulfilled on \(r.kind) \"\(name)\": the ResourceVersion in the precondition (\(want)) does not match the ResourceVersion in record (\(ObjectMeta.resourceVersion(live))). The object might have been modified",
                           details: APIError.details(name: name, group: r.group, kind: r.kind))
        }
        if let want = options["preconditions"]?["uid"]?.stringValue, want != ObjectMeta.uid(live) {
            throw APIError(code: 409, reason: "Conflict",
                           message: "Operation cannot be fulfilled on \(r.kind) \"\(name)\": the UID in the precondition (\(want)) does not match the UID in record (\(ObjectMeta.uid(live))). The object might have been deleted and then recreated",
                           details: APIError.details(name: name, group: r.group, kind: r.kind))
        }
        let policy = options["propagationPolicy"]?.stringValue ?? query["propagationPolicy"]
            ?? (options["orphanDependents"]?.boolValue == true ? "Orphan" : nil)
        var obj = live
        var finalizers = ObjectMeta.finalizers(live)
        let alreadyDeleting = ObjectMeta.isDeleting(live)
        if !alreadyDeleting {
            if policy == "Foreground" && !finalizers.contains("foregroundDeletion") && hasDependents(s, live) { finalizers.append("foregroundDeletion") }
            if policy == "Orphan" && !finalizers.contains("orphan") && hasDependents(s, live) { finalizers.append("orphan") }
            if r.storageKey == "customresourcedefinitions.apiextensions.k8s.io" { finalizers.append("customresourcecleanup.apiextensions.k8s.io") }
        }
        if r.storageKey == "namespaces" || !finalizers.isEmpty {
            if alreadyDeleting && r.storageKey == "namespaces" {
                throw APIError(code: 409, reason: "Conflict",
                               message: "Operation cannot be fulfilled on namespaces \"\(name)\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                               details: APIError.details(name: name, group: "", kind: "namespaces"))
            }
            if alreadyDeleting { return (200, live) }
            obj.set(path: ["metadata", "finalizers"], to: finalizers.isEmpty ? nil : .array(finalizers.map { .string($0) }))
            obj.set(path: ["metadata", "deletionTimestamp"], to: .string(Timestamp.now()))
            if r.storageKey != "namespaces" && r.storageKey != Self.crdKey { obj.set(path: ["metadata", "deletionGracePeriodSeconds"], to: .int(0)) }
            if r.storageKey == "namespaces" { s.namespaceDeletions[name] = .now }
            if r.storageKey == "namespaces" { obj.set(path: ["status", "phase"], to: "Terminating") }
            if r.storageKey == "customresourcedefinitions.apiextensions.k8s.io" {
                var conditions = obj["status"]?["conditions"]?.arrayValue ?? []
                conditions.append(["type": "Terminating", "status": "True", "reason": "InstanceDeletionPending", "lastTransitionTime": .string(Timestamp.now()),
                                   "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"])
                obj.set(path: ["status", "conditions"], to: .array(conditions))
            }
            if dryRun { return (200, obj) }
            obj.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
            s.commit(type: "MODIFIED", storageKey: r.storageKey, namespace: namespace, name: name, object: obj, old: live)
            return (200, obj)
        }
        if !dryRun {
            obj.set(path: ["metadata", "resourceVersion"], to: .string(String(s.nextRV())))
            s.commit(type: "DELETED", storageKey: r.storageKey, namespace: namespace, name: name, object: obj, old: live)
            afterDelete(&s, r, obj)
        }
        if r.storageKey == "pods" { return (200, obj) }
        return (200, ["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success",
                      "details": APIError.details(name: name, group: r.group, kind: r.name, uid: ObjectMeta.uid(live))])
    }

    func afterDelete(_ s: inout State, _ r: ResourceInfo, _ obj: JSONValue) {
        if r.storageKey == Self.clusterRolesKey { aggregateClusterRoles(&s) }
        if r.storageKey == "customresourcedefinitions.apiextensions.k8s.io" { unregisterCRD(&s, obj) }
        if r.storageKey == "serviceaccounts" {
            let uid = ObjectMeta.uid(obj)
            s.tokens = s.tokens.filter { $0.value.serviceAccountUID != uid }
        }
    }

    func hasDependents(_ s: State, _ owner: JSONValue) -> Bool {
        let uid = ObjectMeta.uid(owner)
        return s.everyObject.contains { _, o in
            (o["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains(where: { $0["uid"]?.stringValue == uid })
        }
    }
}
