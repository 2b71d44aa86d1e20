import FlotillaAPI
import KubeClient
import KubeModel
import Logging
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

    /// One scope's objects by "namespace/name".
    typealias Objects = [String: JSONValue]

    enum Slot {
        case listing(Task<Objects?, Never>)
        case listed(Objects)
        case unlistable
    }
    struct Key: Hashable {
        var type: ResourceType
        var namespace: String?
    }
    struct State {
        var slots: [Key: Slot] = [:]
        var passes = 0
    }

    let client: KubeClient
    let selector: String
    let logger: Logger
    private let state = Mutex(State())

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
        let dropped: [Slot] = state.withLock { s in
            s.passes = max(0, s.passes - 1)
            guard s.passes == 0 else { return [] }
            defer { s.slots.removeAll() }
            return Array(s.slots.values)
        }
        for case .listing(let task) in dropped { task.cancel() }
    }

    /// The live object of a type in a scope (`namespace` nil: all namespaces or cluster-scoped),
    /// listing the scope on its first lookup in the pass.
    public func lookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Lookup {
        let key = Key(type: type, namespace: namespace)
        enum Next { case answer(Objects?), wait(Task<Objects?, Never>), once }
        let next: Next = state.withLock { s in
            switch s.slots[key] {
            case .listed(let objects): return .answer(objects)
            case .unlistable: return .answer(nil)
            case .listing(let task): return .wait(task)
            case nil:
                guard s.passes > 0 else { return .once }
                let task = Task { await self.list(key) }
                s.slots[key] = .listing(task)
                return .wait(task)
            }
        }
        let objects: Objects?
        switch next {
        case .answer(let o):
            objects = o
        case .once:
            objects = await list(key)
        case .wait(let task):
            objects = await task.value
            state.withLock { s in
                if s.passes > 0, case .listing? = s.slots[key] { s.slots[key] = objects.map(Slot.listed) ?? .unlistable }
            }
        }
        guard let objects else { return .unknown }
        return objects[(objectNamespace ?? "") + "/" + name].map(Lookup.found) ?? .absent
    }

    private func list(_ key: Key) async -> Objects? {
        do {
            let list = try await client.list(key.type, namespace: key.namespace, labelSelector: selector)
            var objects: Objects = [:]
            objects.reserveCapacity(list.items.count)
            for var item in list.items {
                // Never compared, and often the largest part of an object.
                item["metadata"]?["managedFields"] = nil
                objects[(item["metadata"]?["namespace"]?.stringValue ?? "") + "/" + (item["metadata"]?["name"]?.stringValue ?? "")] = item
            }
            return objects
        } catch {
            logger.debug("live objects not listed", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
    }
}
