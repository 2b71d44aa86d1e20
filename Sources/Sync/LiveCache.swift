import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Primitives
import Synchronization

/// One instance's view of its live objects during a sync: the first lookup in a resource type and
/// namespace lists the objects labelled with the instance there (one paged LIST, as the instance's
/// identity); later lookups of that pass read the list. Nothing is kept between passes, so an idle
/// instance holds no live object and no watch connection (a thousand instances would otherwise hold
/// a hundred thousand objects and a thousand watches). Types the identity may not list answer
/// `.unknown`, and the syncer reads those objects with GET.
public final class LiveCache: Sendable {
    public enum Lookup: Sendable {
        case found(JSONValue)
        /// The scope was listed and the object is not labelled with this instance (or absent).
        case absent
        /// No list for this scope (not listable by the identity, or outside a pass).
        case unknown
    }

    /// What a metadata-only list says of an object.
    public enum Version: Sendable, Equatable {
        case found(resourceVersion: String, uid: String?)
        case absent
        case unknown
    }

    /// One scope's objects by "namespace/name".
    typealias Objects = [String: JSONValue]
    /// One scope's resourceVersion and uid by "namespace/name".
    typealias Versions = [String: (resourceVersion: String, uid: String?)]

    enum Slot {
        case listed(Objects)
        /// Only the metadata was listed: a full lookup lists the scope again.
        case versions(Versions)
        case unlistable
    }
    struct Key: Hashable {
        var type: ResourceType
        var namespace: String?
        /// Which run of passes the list belongs to: a list started in one never fills another.
        var generation: Int
    }
    struct State {
        var slots: [Key: Slot] = [:]
        var passes = 0
        var generation = 0
    }

    let client: KubeClient
    let selector: String
    let logger: Logger
    private let state = Mutex(State())
    /// Lists in flight: concurrent lookups in one scope share one LIST, cancelled when no lookup
    /// waits for it any more.
    private let lists = SingleFlight<Key, Objects?>(cancelWhenUnwanted: true)
    private let versionLists = SingleFlight<Key, Versions?>(cancelWhenUnwanted: true)

    public init(client: KubeClient, instance: InstanceRef, logger: Logger) {
        self.client = client
        self.selector = "\(Flotilla.instanceLabel)=\(instance.labelValue)"
        self.logger = logger
    }

    /// Starts a pass: lists made from now on are kept until the matching `endPass()`.
    public func beginPass() {
        state.withLock { $0.passes += 1 }
    }

    /// Ends a pass; when the last one ends, every list is dropped.
    public func endPass() {
        state.withLock { s in
            s.passes = max(0, s.passes - 1)
            guard s.passes == 0 else { return }
            s.slots.removeAll()
            s.generation += 1
        }
    }

    /// The live object of a type in a scope (`namespace` nil: all namespaces or cluster-scoped),
    /// listing the scope on its first lookup in the pass.
    public func lookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Lookup {
        enum Next { case answer(Objects?), list(Key), once(Key) }
        let next: Next = state.withLock { s in
            let key = Key(type: type, namespace: namespace, generation: s.generation)
            switch s.slots[key] {
            case .listed(let objects): return .answer(objects)
            case .unlistable: return .answer(nil)
            case .versions, nil: return s.passes > 0 ? .list(key) : .once(key)
            }
        }
        let objects: Objects?
        switch next {
        case .answer(let o):
            objects = o
        case .once(let key):
            objects = await list(key)
        case .list(let key):
            objects = (try? await lists.run(key) { [self] in await list(key) })?.value ?? nil
            state.withLock { s in
                guard s.passes > 0, s.generation == key.generation else { return }
                switch s.slots[key] {
                case nil, .versions: s.slots[key] = objects.map(Slot.listed) ?? .unlistable
                case .listed, .unlistable: break
                }
            }
        }
        guard let objects else { return .unknown }
        return objects[(objectNamespace ?? "") + "/" + name].map(Lookup.found) ?? .absent
    }

    /// The resourceVersion and uid of a live object: from the scope's full list when this pass
    /// has one, else from a metadata-only list of the scope (names and versions, no bodies and no
    /// `managedFields`), listed on first use in the pass. For objects that only need to be
    /// recognised as the version already verified.
    public func version(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Version {
        enum Next { case objects(Objects), versions(Versions), unknown, list(Key), once(Key) }
        let next: Next = state.withLock { s in
            let key = Key(type: type, namespace: namespace, generation: s.generation)
            switch s.slots[key] {
            case .listed(let objects): return .objects(objects)
            case .versions(let versions): return .versions(versions)
            case .unlistable: return .unknown
            case nil: return s.passes > 0 ? .list(key) : .once(key)
            }
        }
        let id = (objectNamespace ?? "") + "/" + name
        let versions: Versions?
        switch next {
        case .objects(let objects):
            guard let object = objects[id] else { return .absent }
            return .found(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "", uid: object["metadata"]?["uid"]?.stringValue)
        case .versions(let v):
            versions = v
        case .unknown:
            return .unknown
        case .once(let key):
            versions = await listVersions(key)
        case .list(let key):
            versions = (try? await versionLists.run(key) { [self] in await listVersions(key) })?.value ?? nil
            state.withLock { s in
                if s.passes > 0, s.generation == key.generation, s.slots[key] == nil, let versions { s.slots[key] = .versions(versions) }
            }
        }
        guard let versions else { return .unknown }
        return versions[id].map { .found(resourceVersion: $0.resourceVersion, uid: $0.uid) } ?? .absent
    }

    private func listVersions(_ key: Key) async -> Versions? {
        do {
            let list = try await client.listMetadata(key.type, namespace: key.namespace, labelSelector: selector)
            var versions: Versions = [:]
            versions.reserveCapacity(list.items.count)
            for item in list.items {
                let metadata = item["metadata"]
                versions[(metadata?["namespace"]?.stringValue ?? "") + "/" + (metadata?["name"]?.stringValue ?? "")] =
                    (metadata?["resourceVersion"]?.stringValue ?? "", metadata?["uid"]?.stringValue)
            }
            return versions
        } catch {
            logger.debug("live object versions not listed", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
    }

    private func list(_ key: Key) async -> Objects? {
        do {
            let list = try await client.list(key.type, namespace: key.namespace, labelSelector: selector)
            var objects: Objects = [:]
            objects.reserveCapacity(list.items.count)
            for var item in list.items {
                // Often the largest part of an object: only the entries of hand edits are kept
                // (fields added by hand are drift; see `AddedFields`), usually none.
                let handEdit = { (entry: JSONValue) in AddedFields.isHandEdit(manager: entry["manager"]?.stringValue ?? "") }
                if let entries = item["metadata"]?["managedFields"]?.arrayValue, entries.contains(where: handEdit) {
                    item["metadata"]?["managedFields"] = .array(entries.filter(handEdit))
                } else {
                    item["metadata"]?["managedFields"] = nil
                }
                objects[(item["metadata"]?["namespace"]?.stringValue ?? "") + "/" + (item["metadata"]?["name"]?.stringValue ?? "")] = item
            }
            return objects
        } catch {
            logger.debug("live objects not listed", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
    }
}
