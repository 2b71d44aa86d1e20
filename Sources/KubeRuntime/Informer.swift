import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import Synchronization

/// list+watch → an in-memory `ObjectStore`, with handlers notified of every change. One informer
/// per resource type (and namespace/selector) is shared by every consumer; run it as a `Service`.
public final class Informer: Service, Sendable {
    public typealias Handler = @Sendable (WatchEvent) -> Void

    public let type: ResourceType
    public let namespace: String?
    public let labelSelector: String?
    public let store = ObjectStore()
    let client: KubeClient
    let logger: Logger

    struct State {
        var handlers: [Int: Handler] = [:]
        var nextID = 0
        var synced = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var events = 0
    }
    private let state = Mutex(State())

    public init(client: KubeClient, type: ResourceType, namespace: String? = nil, labelSelector: String? = nil, logger: Logger? = nil) {
        self.client = client
        self.type = type
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.logger = logger ?? Logger(label: "flotilla.informer")
    }

    /// Registers a handler. A handler added after the initial sync first receives `.added` for
    /// every cached object, then `.synced`, so late subscribers see the same picture.
    @discardableResult
    public func addHandler(_ handler: @escaping Handler) -> Int {
        let (id, replay) = state.withLock { s -> (Int, Bool) in
            s.nextID += 1
            s.handlers[s.nextID] = handler
            return (s.nextID, s.synced)
        }
        if replay {
            for object in store.list() { handler(.added(object)) }
            handler(.synced(resourceVersion: store.resourceVersion))
        }
        return id
    }

    public func removeHandler(_ id: Int) { state.withLock { _ = $0.handlers.removeValue(forKey: id) } }

    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Events delivered so far (for tests and metrics).
    public var eventsDelivered: Int { state.withLock { $0.events } }

    /// Returns once the initial list is in the store (or the task is cancelled).
    public func waitForSync() async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.synced || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            state.withLock { s in s.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    public func run() async throws {
        logger.debug("informer starting", metadata: ["resource": "\(type)"])
        do {
            try await cancelWhenGracefulShutdown {
                for try await event in self.client.watch(self.type, namespace: self.namespace, labelSelector: self.labelSelector) {
                    self.apply(event)
                }
            }
        } catch is CancellationError {
        } catch let error as KubeError where Task.isCancelled || error.isCancellation {
        }
        logger.debug("informer stopped", metadata: ["resource": "\(type)"])
    }

    func apply(_ event: WatchEvent) {
        switch event {
        case .added(let o), .modified(let o): store.upsert(o)
        case .deleted(let o): store.remove(o)
        case .bookmark(let rv): store.setResourceVersion(rv)
        case .synced(let rv): store.setResourceVersion(rv)
        }
        let (handlers, waiters) = state.withLock { s -> ([Handler], [CheckedContinuation<Void, Never>]) in
            s.events += 1
            var waiters: [CheckedContinuation<Void, Never>] = []
            if case .synced = event, !s.synced {
                s.synced = true
                waiters = Array(s.waiters.values)
                s.waiters.removeAll()
            }
            return (Array(s.handlers.values), waiters)
        }
        for h in handlers { h(event) }
        for w in waiters { w.resume() }
    }
}

/// Hands out one shared informer per (resource type, namespace, label selector) and runs them all.
public final class InformerFactory: Service, Sendable {
    struct Key: Hashable {
        var type: ResourceType
        var namespace: String?
        var selector: String?
    }
    struct State {
        var informers: [Key: Informer] = [:]
        var started: AsyncStream<Informer>.Continuation?
        var pendingStart: [Informer] = []
    }
    let client: KubeClient
    let logger: Logger
    private let state = Mutex(State())

    public init(client: KubeClient, logger: Logger? = nil) {
        self.client = client
        self.logger = logger ?? Logger(label: "flotilla.informers")
    }

    /// The shared informer for a resource type; started right away if the factory is running.
    public func informer(_ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil) -> Informer {
        let key = Key(type: type, namespace: namespace, selector: labelSelector)
        return state.withLock { s in
            if let existing = s.informers[key] { return existing }
            let informer = Informer(client: client, type: type, namespace: namespace, labelSelector: labelSelector, logger: logger)
            s.informers[key] = informer
            if let started = s.started { started.yield(informer) } else { s.pendingStart.append(informer) }
            return informer
        }
    }

    public var informers: [Informer] { state.withLock { Array($0.informers.values) } }

    public func run() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Informer.self)
        state.withLock { s in
            for i in s.pendingStart { continuation.yield(i) }
            s.pendingStart.removeAll()
            s.started = continuation
        }
        await withDiscardingTaskGroup { group in
            // Shutdown (graceful or cancellation) ends the stream of informers to start.
            await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    for await informer in stream {
                        group.addTask { try? await informer.run() }
                    }
                } onCancel: { continuation.finish() }
            } onGracefulShutdown: { continuation.finish() }
            group.cancelAll()
        }
        state.withLock { $0.started = nil }
    }
}
