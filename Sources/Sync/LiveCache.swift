import FlotillaAPI
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import ServiceLifecycle

/// One instance's view of its live objects: informers (as the instance's identity) that watch only
/// objects labelled with the instance, one per resource type and namespace it applies to. A sync
/// reads them instead of the API server, so a resync where nothing changed sends no request.
/// Types the identity may not list are marked uncached and read with GET. Run it as a `Service`
/// (it owns the informers; cancelling it stops them).
public actor LiveCache: Service {
    public enum Lookup: Sendable {
        case found(JSONValue)
        /// The informer is synced and the object is not labelled with this instance (or absent).
        case absent
        /// No cache for this type (not listable by the identity, or not synced in time).
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

    let client: KubeClient
    let factory: InformerFactory
    let selector: String
    let syncTimeout: Duration
    let logger: Logger
    private var slots: [Key: Slot] = [:]
    /// Informers only run while the service does; outside it every lookup is `.unknown`.
    private var running = false

    public init(client: KubeClient, instance: InstanceRef, syncTimeout: Duration = .seconds(10), logger: Logger) {
        self.client = client
        self.factory = InformerFactory(client: client, logger: logger)
        self.selector = "\(Flotilla.instanceLabel)=\(instance.labelValue)"
        self.syncTimeout = syncTimeout
        self.logger = logger
    }

    public func run() async throws {
        running = true
        defer { running = false }
        try await factory.run()
    }

    /// The live object of a type in a scope (`namespace` nil: all namespaces or cluster-scoped).
    public func lookup(_ type: ResourceType, scope namespace: String?, objectNamespace: String?, name: String) async -> Lookup {
        guard running, let informer = await informer(for: Key(type: type, namespace: namespace)), running, informer.hasSynced else {
            return .unknown
        }
        if let object = informer.store.get(namespace: objectNamespace, name: name) { return .found(object) }
        return .absent
    }

    /// Informers running now (for tests and metrics).
    public var informerCount: Int {
        slots.values.filter { if case .cached = $0 { return true } else { return false } }.count
    }

    func informer(for key: Key) async -> Informer? {
        switch slots[key] {
        case .cached(let informer):
            return informer
        case .uncached:
            return nil
        case .probing(let task):
            return await task.value
        case nil:
            let task = Task { await self.start(key) }
            slots[key] = .probing(task)
            let informer = await task.value
            slots[key] = informer.map(Slot.cached) ?? .uncached
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
