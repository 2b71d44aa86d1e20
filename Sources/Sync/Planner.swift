import FlotillaAPI
import KubeClient
import KubeModel
import Manifests

/// How `fluxcd.io/ignore` (or the legacy `flux.weave.works/ignore`) treats an object.
public enum IgnoreMode: Sendable, Equatable {
    case none
    /// `"true"`: neither applied nor collected.
    case ignored
    /// `sync_only`: applied, never collected.
    case syncOnly

    public init(annotations: [String: String]) {
        switch FluxAnnotations.value(FluxAnnotations.ignore, in: annotations) {
        case FluxAnnotations.ignoreTrue: self = .ignored
        case FluxAnnotations.ignoreSyncOnly: self = .syncOnly
        default: self = .none
        }
    }

    public init(object: JSONValue?) {
        self.init(annotations: object.map { Manifest.stringMap($0["metadata"]?["annotations"]) } ?? [:])
    }
}

/// A plan kept between syncs: all of it but the object, which is kept as its JSON text (a tree of
/// small dictionaries costs several times as much memory, and a thousand instances keep a hundred
/// thousand plans). Decoding it again costs about 10 µs per object, paid only when the object is
/// read (`DeferredJSON`). A class, so that the cache's dictionary holds a pointer per bucket, not
/// the whole plan: a dictionary has up to twice as many buckets as entries (100 plans: 256
/// buckets of 184 bytes, 46 KiB, against 6 KiB of pointers and 18 KiB of plans).
public final class CachedPlan: Sendable {
    let id: ResourceID
    let type: ResourceType
    let checksum: String
    let ignore: IgnoreMode
    let json: [UInt8]

    init?(_ d: DesiredObject) {
        guard let type = d.type else { return nil }
        self.id = d.id
        self.type = type
        self.checksum = d.checksum
        self.ignore = d.ignore
        self.json = d.object.compactJSONBytes()
    }

    /// The plan again, for a manifest of the same content. Its object is decoded only if the sync
    /// reads it: a resync that finds the live object at the version already verified never does.
    func thaw(_ manifest: Manifest) -> DesiredObject? {
        DesiredObject(id: id, type: type, unresolved: nil, body: DeferredJSON(compact: json), checksum: checksum, ignore: ignore, manifest: manifest)
    }
}

/// A revision that must not be applied at all: duplicate objects or objects outside what the
/// instance may touch. Lists every offending object with its file and line.
public struct SyncPlanError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Reason: String, Sendable {
        case duplicate = "DuplicateObject"
        case forbidden = "Forbidden"
        /// The API server's discovery failed (transient): retry later.
        case discovery = "DiscoveryFailed"
    }
    public var reason: Reason
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}

/// Turns manifests into desired objects: scope from discovery (or from CRDs in the same set),
/// default namespace, allow-list checks, duplicate detection, Flux labels and checksum.
public struct Planner: Sendable {
    public var options: SyncOptions

    public init(options: SyncOptions) { self.options = options }

    /// Plans every manifest. `cache` holds earlier plans by content key (same text, same
    /// options: same result, no JSON to write or hash again); it is replaced by this plan's.
    public func plan(_ manifests: [Manifest], client: KubeClient, cache: inout [String: CachedPlan]) async throws(SyncPlanError) -> [DesiredObject] {
        let crds = Self.customResourceTypes(in: manifests)
        var out: [DesiredObject] = []
        out.reserveCapacity(manifests.count)
        var forbidden: [String] = []
        var locations: [ResourceID: DesiredObject] = [:]
        locations.reserveCapacity(manifests.count)
        var duplicates: [String] = []
        // This set's plans by content key, and whether every one came from the cache.
        var plans: [(key: String, plan: CachedPlan)] = []
        plans.reserveCapacity(manifests.count)
        var allCached = true
        defer {
            // The same manifests as last time (the usual resync): the cache stays as it is.
            if !allCached || plans.count != cache.count {
                cache = Dictionary(plans.map { ($0.key, $0.plan) }, uniquingKeysWith: { first, _ in first })
            }
        }
        for manifest in manifests {
            // CRD scope is immutable, so a cached plan of a custom resource stays right too.
            if let key = manifest.contentKey, let cached = cache[key], let planned = cached.thaw(manifest) {
                check(planned, forbidden: &forbidden, locations: &locations, duplicates: &duplicates)
                plans.append((key, cached))
                out.append(planned)
                continue
            }
            allCached = false
            var type: ResourceType? = nil
            var unresolved: String? = nil
            let group = ResourceID(apiVersion: manifest.apiVersion, kind: manifest.kind, namespace: nil, name: "").group
            if let t = crds[CRDKey(group: group, kind: manifest.kind)] {
                type = ResourceType(group: t.group, version: Self.version(of: manifest.apiVersion), resource: t.resource, kind: t.kind, namespaced: t.namespaced)
            } else {
                do {
                    type = try await client.mapper.mapping(apiVersion: manifest.apiVersion, kind: manifest.kind, client: client)
                } catch {
                    // Not served: that object fails alone. Discovery itself failing: without the
                    // scope the id is a guess, and a guessed id could drive a wrong deletion.
                    guard error.isNotFound else {
                        throw SyncPlanError(reason: .discovery, problems: ["\(manifest.location): cannot look up \(manifest.apiVersion) \(manifest.kind): \(error.message)"])
                    }
                    unresolved = error.message
                }
            }
            let namespaced = type?.namespaced ?? true
            var object = manifest.object
            let namespace: String? = namespaced ? (manifest.namespace ?? options.defaultNamespace) : nil
            object["metadata"]?["namespace"] = namespace.map(JSONValue.string)
            let id = ResourceID(group: group, kind: manifest.kind, namespace: namespace, name: manifest.name)

            var labels = object["metadata"]?["labels"]?.objectValue ?? [:]
            labels[Flotilla.instanceLabel] = .string(options.instance.labelValue)
            labels[FluxAnnotations.syncGCMark] = .string(GCMark.mark(setName: options.setName, id: id))
            object["metadata"]?["labels"] = .object(labels)
            var annotations = object["metadata"]?["annotations"]?.objectValue ?? [:]
            annotations[FluxAnnotations.syncChecksum] = nil
            if annotations.isEmpty { object["metadata"]?["annotations"] = nil } else { object["metadata"]?["annotations"] = .object(annotations) }
            let checksum = LiveComparison.checksum(object)
            annotations[FluxAnnotations.syncChecksum] = .string(checksum)
            object["metadata"]?["annotations"] = .object(annotations)

            let planned = DesiredObject(id: id, type: type, unresolved: unresolved, object: object, checksum: checksum,
                                        ignore: IgnoreMode(annotations: manifest.annotations), manifest: manifest)
            check(planned, forbidden: &forbidden, locations: &locations, duplicates: &duplicates)
            // A kind that is not served now may be later: only resolved plans are kept.
            if let key = manifest.contentKey, let cached = CachedPlan(planned) { plans.append((key, cached)) }
            out.append(planned)
        }
        if !duplicates.isEmpty { throw SyncPlanError(reason: .duplicate, problems: duplicates) }
        if !forbidden.isEmpty { throw SyncPlanError(reason: .forbidden, problems: forbidden) }
        return out
    }

    /// Scope and uniqueness checks of one planned object (collected, reported together).
    func check(_ d: DesiredObject, forbidden: inout [String], locations: inout [ResourceID: DesiredObject], duplicates: inout [String]) {
        if let namespace = d.id.namespace, !options.allows(namespace: namespace) {
            forbidden.append("\(d.manifest.location): \(d.id) is in namespace \(namespace), which this instance may not use (allowed: \(options.allowedNamespaces.joined(separator: ", ")))")
        } else if d.id.namespace == nil {
            let allowedNamespaceObject = d.kind == "Namespace" && d.id.group.isEmpty && options.allows(namespace: d.id.name)
            if !allowedNamespaceObject && !options.clusterScoped {
                forbidden.append("\(d.manifest.location): \(d.id) is cluster-scoped and this instance may not apply cluster-scoped objects")
            }
        }
        if let first = locations[d.id] {
            duplicates.append("\(d.id) is defined twice: in \(first.manifest.location) and in \(d.manifest.location)")
        } else {
            locations[d.id] = d
        }
    }

    struct CRDKey: Hashable {
        var group: String
        var kind: String
    }

    /// Kinds defined by CRDs in the same set: their scope is known before the CRD exists.
    static func customResourceTypes(in manifests: [Manifest]) -> [CRDKey: ResourceType] {
        var out: [CRDKey: ResourceType] = [:]
        for m in manifests where m.kind == "CustomResourceDefinition" {
            let spec = m.object["spec"]
            guard let group = spec?["group"]?.stringValue, let kind = spec?["names"]?["kind"]?.stringValue,
                  let plural = spec?["names"]?["plural"]?.stringValue else { continue }
            let version = spec?["versions"]?.arrayValue?.first?["name"]?.stringValue ?? ""
            out[CRDKey(group: group, kind: kind)] = ResourceType(group: group, version: version, resource: plural, kind: kind,
                                                                  namespaced: spec?["scope"]?.stringValue != "Cluster")
        }
        return out
    }

    static func version(of apiVersion: String) -> String {
        apiVersion.split(separator: "/").last.map(String.init) ?? apiVersion
    }
}
