import Crypto
import Foundation
import KubeModel

/// CustomResourceDefinitions: validation and defaulting of the CRD itself, establishing it (status
/// conditions and discovery), and validation of custom resources against their schema.
extension KubeAPIServer {
    static let crdKey = "customresourcedefinitions.apiextensions.k8s.io"

    func validateCRD(_ r: ResourceInfo, _ obj: inout JSONValue, old: JSONValue?) throws(APIError) {
        let name = ObjectMeta.name(obj)
        var errors: [FieldError] = []
        let group = obj["spec"]?["group"]?.stringValue ?? ""
        let plural = obj["spec"]?["names"]?["plural"]?.stringValue ?? ""
        let kind = obj["spec"]?["names"]?["kind"]?.stringValue ?? ""
        if group.isEmpty { errors.append(.required("spec.group")) } else if !group.contains(".") {
            errors.append(.invalid("spec.group", value: "\"\(group)\"", "should be a domain with at least one dot"))
        }
        if plural.isEmpty { errors.append(.required("spec.names.plural")) }
        if kind.isEmpty { errors.append(.required("spec.names.kind")) }
        if !plural.isEmpty && !group.isEmpty && name != "\(plural).\(group)" {
            errors.append(.invalid("metadata.name", value: "\"\(name)\"", "must be spec.names.plural+\".\"+spec.group"))
        }
        let scope = obj["spec"]?["scope"]?.stringValue ?? ""
        if scope != "Namespaced" && scope != "Cluster" {
            errors.append(FieldError(field: "spec.scope", reason: "FieldValueNotSupported",
                                     detailMessage: "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\""))
        }
        let versions = obj["spec"]?["versions"]?.arrayValue ?? []
        if versions.isEmpty { errors.append(.required("spec.versions", "must have exactly one version marked as storage version")) }
        let storage = versions.filter { $0["storage"]?.boolValue == true }
        if !versions.isEmpty && storage.count != 1 {
            errors.append(.invalid("spec.versions", value: JSONValue.array(versions).jsonString(), "must have exactly one version marked as storage version"))
        }
        for (i, v) in versions.enumerated() where v["schema"]?["openAPIV3Schema"] == nil {
            errors.append(.required("spec.versions[\(i)].schema.openAPIV3Schema", "schemas are required"))
        }
        if !errors.isEmpty { throw APIError.invalid(r, name: name, errors: errors) }
        if obj["spec"]?["conversion"] == nil { obj.set(path: ["spec", "conversion"], to: ["strategy": "None"]) }
        if obj["spec"]?["names"]?["listKind"] == nil { obj.set(path: ["spec", "names", "listKind"], to: .string(kind + "List")) }
        if obj["spec"]?["names"]?["singular"] == nil { obj.set(path: ["spec", "names", "singular"], to: .string(kind.lowercased())) }
        if old == nil {
            obj["status"] = ["acceptedNames": ["kind": "", "plural": ""], "conditions": .null,
                             "storedVersions": .array(storage.compactMap { $0["name"] })]
        } else {
            obj["status"] = old?["status"]
        }
    }

    /// What the CRD controllers do after a create: accept the names, mark it Established, serve it.
    func establishCRD(_ s: inout State, _ crd: JSONValue) {
        guard let r = s.catalog.resource(group: "apiextensions.k8s.io", version: "v1", name: "customresourcedefinitions") else { return }
        var proposed = crd
        var names = crd["spec"]?["names"] ?? .emptyObject
        if names["listKind"] == nil { names["listKind"] = .string((names["kind"]?.stringValue ?? "") + "List") }
        let now = Timestamp.now()
        proposed.set(path: ["status", "acceptedNames"], to: names)
        proposed.set(path: ["status", "conditions"], to: [
            ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": .string(now)],
            ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
             "lastTransitionTime": .string(now)],
        ])
        let updated = (try? updateObject(&s, resource: r, live: crd, proposed: proposed, manager: "kube-apiserver", subresource: "status", dryRun: false)) ?? crd
        registerCRD(&s, updated)
    }

    /// Serves every `served` version of a CRD (replacing what was served before).
    func registerCRD(_ s: inout State, _ crd: JSONValue) {
        guard let spec = crd["spec"], let group = spec["group"]?.stringValue, let plural = spec["names"]?["plural"]?.stringValue else { return }
        let names = spec["names"] ?? .emptyObject
        let kind = names["kind"]?.stringValue ?? ""
        let namespaced = spec["scope"]?.stringValue == "Namespaced"
        let versions = spec["versions"]?.arrayValue ?? []
        let storageVersion = versions.first { $0["storage"]?.boolValue == true }?["name"]?.stringValue ?? ""
        s.catalog.removeResource(group: group, name: plural)
        for v in versions where v["served"]?.boolValue != false {
            guard let version = v["name"]?.stringValue else { continue }
            var entry: JSONValue = ["name": .string(plural), "singularName": names["singular"] ?? .string(kind.lowercased()),
                                    "namespaced": .bool(namespaced), "kind": .string(kind),
                                    "verbs": ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
                                    "storageVersionHash": .string(Self.storageVersionHash(group: group, version: storageVersion, kind: kind))]
            if let short = names["shortNames"], !(short.arrayValue ?? []).isEmpty { entry["shortNames"] = short }
            if let cats = names["categories"], !(cats.arrayValue ?? []).isEmpty { entry["categories"] = cats }
            var entries = [entry]
            if v["subresources"]?["status"] != nil {
                entries.append(["name": .string("\(plural)/status"), "singularName": "", "namespaced": .bool(namespaced), "kind": .string(kind),
                                "verbs": ["get", "patch", "update"]])
            }
            if v["subresources"]?["scale"] != nil {
                entries.append(["name": .string("\(plural)/scale"), "singularName": "", "namespaced": .bool(namespaced), "group": "autoscaling",
                                "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]])
            }
            let schema = v["schema"]?["openAPIV3Schema"]
            let info = CRDVersionInfo(crdName: ObjectMeta.name(crd), listKind: names["listKind"]?.stringValue ?? kind + "List", schema: schema,
                                      printerColumns: v["additionalPrinterColumns"]?.arrayValue ?? [], scale: v["subresources"]?["scale"],
                                      storageVersion: storageVersion,
                                      preserveUnknownFieldsAtRoot: schema?["x-kubernetes-preserve-unknown-fields"]?.boolValue == true)
            var existing = s.catalog.resources(groupVersion: "\(group)/\(version)")?.map(\.discovery) ?? []
            for r in s.catalog.resources(groupVersion: "\(group)/\(version)") ?? [] {
                existing += r.subresources.values
            }
            var crdInfos: [String: CRDVersionInfo] = [:]
            for r in s.catalog.resources(groupVersion: "\(group)/\(version)") ?? [] { crdInfos[r.name] = r.crd }
            crdInfos[plural] = info
            s.catalog.addGroupVersion(group: group, version: version, entries: existing + entries, crd: crdInfos)
        }
        // Preferred version first, as kube-apiserver orders by version priority.
        let served = versions.compactMap { $0["served"]?.boolValue == false ? nil : $0["name"]?.stringValue }
        s.catalog.setVersionOrder(group: group, versions: served.sorted { Self.versionPriority($0) > Self.versionPriority($1) })
    }

    /// Kubernetes version priority: GA > beta > alpha, higher numbers first.
    static func versionPriority(_ v: String) -> Int {
        guard v.hasPrefix("v") else { return 0 }
        let rest = v.dropFirst()
        let major = Int(rest.prefix { $0.isNumber }) ?? 0
        let tail = rest.drop { $0.isNumber }
        if tail.isEmpty { return 3_000_000 + major * 1000 }
        let minor = Int(tail.drop { !$0.isNumber }) ?? 0
        if tail.hasPrefix("beta") { return 2_000_000 + major * 1000 + minor }
        if tail.hasPrefix("alpha") { return 1_000_000 + major * 1000 + minor }
        return 0
    }

    static func storageVersionHash(group: String, version: String, kind: String) -> String {
        let digest = SHA256.hash(data: Array("\(group)/\(version)/\(kind)".utf8))
        return Data(Array(digest).prefix(8)).base64EncodedString()
    }

    func unregisterCRD(_ s: inout State, _ crd: JSONValue) {
        guard let group = crd["spec"]?["group"]?.stringValue, let plural = crd["spec"]?["names"]?["plural"]?.stringValue else { return }
        s.catalog.removeResource(group: group, name: plural)
        s.objects["\(plural).\(group)"] = nil
    }

    func isEstablished(_ crd: JSONValue) -> Bool {
        (crd["status"]?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Established" && $0["status"] == "True" }
    }

    /// Prunes, defaults and validates a custom resource against its version's schema.
    func validateCustomResource(_ r: ResourceInfo, _ crd: CRDVersionInfo, _ obj: inout JSONValue) throws(APIError) {
        guard let schema = crd.schema else { return }
        let validator = SchemaValidator(schema: schema)
        validator.prune(&obj)
        validator.applyDefaults(&obj)
        let errors = validator.validate(obj)
        if !errors.isEmpty { throw APIError.invalid(r, name: ObjectMeta.name(obj), errors: errors) }
    }

    /// `fieldValidation=Strict`: unknown fields of a custom resource are a 400, as in kube-apiserver.
    func checkStrictFields(_ request: APIRequest, _ r: ResourceInfo, _ obj: JSONValue) throws(APIError) {
        guard request.query["fieldValidation"] == "Strict", let schema = r.crd?.schema else { return }
        var copy = obj
        let unknown = SchemaValidator(schema: schema).prune(&copy)
        guard !unknown.isEmpty else { return }
        let list = unknown.sorted().map { "unknown field \"\($0)\"" }.joined(separator: ", ")
        throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): strict decoding error: \(list)")
    }
}
