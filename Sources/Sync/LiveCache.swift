import FlotillaAPI
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import ServiceLifecycle
import Synchronization

/// One instance's view of its live objects: informers (as the instance's identity) that watch only
/// objects labelled with the instance, one per resource type and namespace it applies to. A sync
/// reads them instead of the API server, so a resync where nothing changed sends no request.
/// Types the identity may not list are marked uncached and read with GET. Run it as a `Service`
/// (it owns the informers; cancelling it stops them).
public final class LiveCache: Service, Sendable {
    public enum Lookup: Sendable {
        case found(JSONValue)
        /// The informer is synced and the object is not labelled with this instance (or absent).
        case absent
        /// No cache for this type (not listable by the identity, or not synced yet).
        case unknown
    }

    enum Slot {
        case probing(Task<Informer?, Never>)
        case cached(Informer)
        case uncached
    }
    struct Key: Hashable {
        var type: ResourceType
        var namespace: String?
    }
    struct State {
        var slots: [Key: Slot] = [:]
        /// Informers only run while the service does; outside it every lookup is `.unknown`.
        var running = false
    }

    let client: KubeClient
    let factory: InformerFactory
    let selector: String
    let syncTimeout: Duration
    let logger: Logger
    private let state = Mutex(State())

    public init(client: KubeClient, instance: InstanceRef, syncTimeout: Duration = .seconds(10), logger: Logger) {
        self.client = client
        self.factory = InformerFactory(client: client, logger: logger)
        self.selector = "\(Flotilla.instanceLabel)=\(instance.labelValue)"
        self.syncTimeout = syncTimeout
        self.logger = logger
    }

    public func run() async throws {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        try await factory.run()
    }

    /// The live object of a type in a scope (`namespace` nil: all namespaces or cluster-scoped),
    /// starting that scope's informer on first use.
    public func lookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Lookup {
        let key = Key(type: type, namespace: namespace)
        if case .unknown = cached(key, objectNamespace: objectNamespace, name: name), state.withLock({ $0.running }) {
            _ = await informer(for: key)
        }
        return cached(key, objectNamespace: objectNamespace, name: name)
    }

    /// The same answer without waiting: `.unknown` unless the scope's informer already runs and has
    /// synced. The no-op path of a sync reads thousands of objects through this.
    public func cachedLookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) -> Lookup {
        cached(Key(type: type, namespace: namespace), objectNamespace: objectNamespace, name: name)
    }

    func cached(_ key: Key, objectNamespace: String?, name: String) -> Lookup {
        let informer: Informer? = state.withLock { s in
            guard s.running, case .cached(let informer)? = s.slots[key] else { return nil }
            return informer
        }
        guard let informer, informer.hasSynced else { return .unknown }
        if let object = informer.store.get(namespace: objectNamespace, name: name) { return .found(object) }
        return .absent
    }

    func informer(for key: Key) async -> Informer? {
        enum Next { case done(Informer?), wait(Task<Informer?, Never>) }
        let next: Next = state.withLock { s in
            switch s.slots[key] {
            case .cached(let informer): return .done(informer)
            case .uncached: return .done(nil)
            case .probing(let task): return .wait(task)
            case nil:
                let task = Task { await self.start(key) }
                s.slots[key] = .probing(task)
                return .wait(task)
            }
        }
        switch next {
        case .done(let informer):
            return informer
        case .wait(let task):
            let informer = await task.value
            state.withLock { $0.slots[key] = informer.map(Slot.cached) ?? .uncached }
            return informer
        }
    }

    /// One small LIST decides whether the identity can cache this type; then the informer starts
    /// and is waited for (bounded: one that is slow to sync is kept and used once it has).
    private func start(_ key: Key) async -> Informer? {
        do {
            _ = try await client.list(key.type, namespace: key.namespace, labelSelector: selector, pageSize: 1, firstPageOnly: true)
        } catch {
            logger.debug("live objects not cached", metadata: ["resource": "\(key.type)", "namespace": "\(key.namespace ?? "*")", "reason": "\(error.message)"])
            return nil
        }
        let informer = factory.informer(key.type, namespace: key.namespace, labelSelector: selector)
        _ = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await informer.waitForSync()
                return !Task.isCancelled
            }
            group.addTask { [syncTimeout] in
                try? await Task.sleep(for: syncTimeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return informer
    }
}
