import KubeModel

/// The set of served group/versions and resources: built-ins from the generated discovery documents,
/// custom resources from established CRDs. A value type, owned by the server state.
struct Catalog: Sendable {
    /// "group/version" (or "v1") → resources in discovery order.
    private(set) var groupVersions: [String: [ResourceInfo]] = [:]
    /// Group order as a real server lists them; `""` is the legacy core group.
    private(set) var groupOrder: [String] = []
    /// group → versions, preferred first.
    private(set) var groupVersionsOrder: [String: [String]] = [:]

    static let builtin: Catalog = {
        var catalog = Catalog()
        guard case .array(let docs)? = try? JSONValue.parse(BuiltinDiscovery.documents) else {
            fatalError("built-in discovery documents do not parse")
        }
        for doc in docs {
            guard let gv = doc["groupVersion"]?.stringValue, let resources = doc["resources"]?.arrayValue else { continue }
            let (group, version) = splitGroupVersion(gv)
            catalog.addGroupVersion(group: group, version: version, entries: resources)
        }
        return catalog
    }()

    static func splitGroupVersion(_ gv: String) -> (String, String) {
        if let slash = gv.firstIndex(of: "/") {
            return (String(gv[..<slash]), String(gv[gv.index(after: slash)...]))
        }
        return ("", gv)
    }

    /// Adds (or replaces) a group/version from discovery entries (resources and `resource/sub` entries).
    mutating func addGroupVersion(group: String, version: String, entries: [JSONValue], crd: [String: CRDVersionInfo] = [:]) {
        var resources: [ResourceInfo] = []
        var subs: [String: [String: JSONValue]] = [:]
        for entry in entries {
            guard let name = entry["name"]?.stringValue else { continue }
            if let slash = name.firstIndex(of: "/") {
                subs[String(name[..<slash]), default: [:]][String(name[name.index(after: slash)...])] = entry
                continue
            }
            resources.append(ResourceInfo(
                group: group, version: version, name: name,
                kind: entry["kind"]?.stringValue ?? "",
                namespaced: entry["namespaced"]?.boolValue ?? false,
                singularName: entry["singularName"]?.stringValue ?? "",
                shortNames: entry["shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                verbs: entry["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                categories: entry["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                discovery: entry,
                crd: crd[name]))
        }
        for i in resources.indices { resources[i].subresources = subs[resources[i].name] ?? [:] }
        let key = group.isEmpty ? version : "\(group)/\(version)"
        groupVersions[key] = resources
        if !groupOrder.contains(group) { groupOrder.append(group) }
        var versions = groupVersionsOrder[group] ?? []
        if !versions.contains(version) { versions.append(version) }
        groupVersionsOrder[group] = versions
    }

    /// Removes every version of a CRD's resource from a group; drops the group when empty.
    mutating func removeResource(group: String, name: String) {
        for version in groupVersionsOrder[group] ?? [] {
            let key = "\(group)/\(version)"
            groupVersions[key]?.removeAll { $0.name == name }
            if groupVersions[key]?.isEmpty == true {
                groupVersions[key] = nil
                groupVersionsOrder[group]?.removeAll { $0 == version }
            }
        }
        if groupVersionsOrder[group]?.isEmpty == true {
            groupVersionsOrder[group] = nil
            groupOrder.removeAll { $0 == group }
        }
    }

    /// Sets the version order of a group (preferred first).
    mutating func setVersionOrder(group: String, versions: [String]) {
        groupVersionsOrder[group] = versions.filter { groupVersions["\(group)/\($0)"] != nil }
    }

    func resources(groupVersion: String) -> [ResourceInfo]? { groupVersions[groupVersion] }

    func resource(group: String, version: String, name: String) -> ResourceInfo? {
        let key = group.isEmpty ? version : "\(group)/\(version)"
        return groupVersions[key]?.first { $0.name == name }
    }

    /// The preferred-version entry of a resource, used by SubjectAccessReview lookups and the GC.
    func resource(group: String, name: String) -> ResourceInfo? {
        for version in groupVersionsOrder[group] ?? [] {
            if let r = resource(group: group, version: version, name: name) { return r }
        }
        return nil
    }

    /// Finds the resource serving a kind in a group/version (for ownerReferences and apply bodies).
    func resource(apiVersion: String, kind: String) -> ResourceInfo? {
        groupVersions[apiVersion]?.first { $0.kind == kind }
    }

    var allResources: [ResourceInfo] { groupVersions.values.flatMap { $0 } }
}
