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

    /// An object's namespace ("" when cluster-scoped) and name: a key that costs no string to build.
    public struct ObjectKey: Hashable, Sendable {
        public var namespace: String
        public var name: String

        public init(namespace: String?, name: String) {
            self.namespace = namespace ?? ""
            self.name = name
        }

        init(_ metadata: JSONValue?) {
            self.init(namespace: metadata?["namespace"]?.stringValue, name: metadata?["name"]?.stringValue ?? "")
        }
    }
    /// One scope's objects.
    public typealias Objects = [ObjectKey: JSONValue]
    /// One scope's resourceVersion and uid.
    public typealias Versions = [ObjectKey: (resourceVersion: String, uid: String?)]

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

    /// What a pass knows of one scope's objects: in full, or only their versions.
    public enum View: Sendable {
        case objects(Objects)
        case versions(Versions)
        /// Not listable by the identity (or the list failed): read objects with GET.
        case unknown

        public func object(namespace: String?, name: String) -> Lookup {
            switch self {
            case .objects(let objects): return objects[ObjectKey(namespace: namespace, name: name)].map(Lookup.found) ?? .absent
            case .versions, .unknown: return .unknown
            }
        }

        public func version(namespace: String?, name: String) -> Version {
            let id = ObjectKey(namespace: namespace, name: name)
            switch self {
            case .objects(let objects):
                guard let metadata = objects[id]?["metadata"] else { return .absent }
                return .found(resourceVersion: metadata["resourceVersion"]?.stringValue ?? "", uid: metadata["uid"]?.stringValue)
            case .versions(let versions):
                return versions[id].map { .found(resourceVersion: $0.resourceVersion, uid: $0.uid) } ?? .absent
            case .unknown:
                return .unknown
            }
        }
    }

    /// A type's objects in a scope (`namespace` nil: all namespaces or cluster-scoped), listed on
    /// the first use in the pass: in full, or with `metadataOnly` only their versions (a
    /// metadata-only list: no bodies, no `managedFields`) unless the pass listed them in full
    /// already. Callers that settle many objects take the view once and read it synchronously.
    public func view(_ type: ResourceType, scope namespace: String?, metadataOnly: Bool = false) async -> View {
        enum Next { case answer(View), list(Key), once(Key) }
        let next: Next = state.withLock { s in
            let key = Key(type: type, namespace: namespace, generation: s.generation)
            switch s.slots[key] {
            case .listed(let objects): return .answer(.objects(objects))
            case .versions(let versions) where metadataOnly: return .answer(.versions(versions))
            case .unlistable: return .answer(.unknown)
            case .versions, nil: return s.passes > 0 ? .list(key) : .once(key)
            }
        }
        switch next {
        case .answer(let view):
            return view
        case .once(let key):
            if metadataOnly { return await listVersions(key).map(View.versions) ?? .unknown }
            return await list(key).map(View.objects) ?? .unknown
        case .list(let key) where metadataOnly:
            let versions = (try? await versionLists.run(key) { [self] in await listVersions(key) })?.value ?? nil
            state.withLock { s in
                if s.passes > 0, s.generation == key.generation, s.slots[key] == nil, let versions { s.slots[key] = .versions(versions) }
            }
            return versions.map(View.versions) ?? .unknown
        case .list(let key):
            let objects = (try? await lists.run(key) { [self] in await list(key) })?.value ?? nil
            state.withLock { s in
                guard s.passes > 0, s.generation == key.generation else { return }
                switch s.slots[key] {
                case nil, .versions: s.slots[key] = objects.map(Slot.listed) ?? .unlistable
                case .listed, .unlistable: break
                }
            }
            return objects.map(View.objects) ?? .unknown
        }
    }

    /// The live object of a type in a scope, listing the scope on its first lookup in the pass.
    public func lookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Lookup {
        await view(type, scope: namespace).object(namespace: objectNamespace, name: name)
    }

    private func listVersions(_ key: Key) async -> Versions? {
        do {
            let list = try await client.listMetadata(key.type, namespace: key.namespace, labelSelector: selector)
            var versions: Versions = [:]
            versions.reserveCapacity(list.items.count)
            for item in list.items {
                versions[ObjectKey(namespace: item.namespace, name: item.name)] = (item.resourceVersion, item.uid)
            }
            return versions
        } catch {
            logger.debug("live object versions not listed", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
    }

    /// Whether listed objects keep the `managedFields` entries of hand edits (the drift modes
    /// that look for added fields need them; plain `revert` does not, and then `managedFields`
    /// are not even decoded).
    public var keepsHandEdits: Bool {
        get { handEdits.load(ordering: .relaxed) }
        set { handEdits.store(newValue, ordering: .relaxed) }
    }
    private let handEdits = Atomic<Bool>(true)

    private func list(_ key: Key) async -> Objects? {
        do {
            let list = try await client.list(key.type, namespace: key.namespace, labelSelector: selector, skippingManagedFields: !keepsHandEdits)
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
                objects[ObjectKey(item["metadata"])] = item
            }
            return objects
        } catch {
            logger.debug("live objects not listed", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
    }
}
