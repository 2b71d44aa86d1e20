import CSupport
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import ServiceLifecycle
import Sync
import Synchronization

/// Which FluxInstances this operator serves.
public struct Scope: Sendable {
    /// Empty: every namespace.
    public var namespaces: [String] = []
    /// A label selector (how replicas shard the work), or nil.
    public var labelSelector: String?
    public init(namespaces: [String] = [], labelSelector: String? = nil) {
        self.namespaces = namespaces
        self.labelSelector = labelSelector
    }
}

/// Watches FluxInstances and keeps exactly one reconciler running per instance: starts one for a
/// new instance, hands it new settings on a change (it keeps what did not change, e.g. its
/// mirror), stops it when the instance goes, and carries out the deletion policy behind the
/// finalizer. Every reconciler is a child task of `run()`; cancelling it stops them all.
public final class Supervisor: Service, Sendable {
    let env: OperatorEnvironment
    let scope: Scope
    let informers: [Informer]
    let logger: Logger
    struct State {
        var reconcilers: [InstanceRef: InstanceReconciler] = [:]
        var start: AsyncStream<InstanceReconciler>.Continuation?
        var pending: [InstanceReconciler] = []
        /// What the last event of each FluxInstance said of its inputs (`Supervisor.inputs`).
        var inputs: [InstanceRef: JSONValue] = [:]
    }
    let state = Mutex(State())
    /// Replays and rate limits of the push webhooks (see `receive`).
    let receiverGuard = ReceiverGuard()

    public init(environment: OperatorEnvironment, scope: Scope = Scope()) {
        self.env = environment
        self.scope = scope
        self.logger = environment.logger
        let namespaces: [String?] = scope.namespaces.isEmpty ? [nil] : scope.namespaces
        self.informers = namespaces.map {
            Informer(client: environment.client, type: FluxInstance.resourceType, namespace: $0, labelSelector: scope.labelSelector, logger: environment.logger)
        }
    }

    /// Instances with a running reconciler (for tests and metrics).
    public var running: [InstanceRef] { state.withLock { Array($0.reconcilers.keys) } }

    public func reconciler(_ ref: InstanceRef) -> InstanceReconciler? { state.withLock { $0.reconcilers[ref] } }

    /// Running, and every FluxInstance informer has its initial list (what /readyz reports). A
    /// replica waiting for the leader lease does not run the supervisor, so it is not ready.
    public var isReady: Bool {
        state.withLock { $0.start != nil } && informers.allSatisfy(\.hasSynced)
    }

    public func run() async throws {
        let queue = WorkQueue<InstanceRef>()
        let controller = Controller<InstanceRef>(name: "fluxinstances", workers: 4, queue: queue, logger: logger) { ref in
            try await self.reconcile(ref)
            return .done
        }
        for informer in informers {
            informer.addHandler { event in
                guard let o = event.object, let name = o["metadata"]?["name"]?.stringValue,
                      let namespace = o["metadata"]?["namespace"]?.stringValue else { return }
                let ref = InstanceRef(namespace: namespace, name: name)
                guard self.inputsMoved(ref, event) else { return }
                Task { await queue.add(ref) }
            }
        }
        let (starts, continuation) = AsyncStream.makeStream(of: InstanceReconciler.self)
        state.withLock { s in
            for r in s.pending { continuation.yield(r) }
            s.pending.removeAll()
            s.start = continuation
        }
        logger.notice("operator started", metadata: ["namespaces": "\(scope.namespaces.isEmpty ? "*" : scope.namespaces.joined(separator: ","))",
                                                     "generators": "\(env.tenancy.generators.name)",
                                                     "lockdown": "\(env.tenancy.defaultServiceAccount ?? "")"])
        await withDiscardingTaskGroup { group in
            for informer in informers { group.addTask { try? await informer.run() } }
            group.addTask { try? await controller.run() }
            group.addTask { [env] in await Self.trimMemory(every: .seconds(30), metrics: env.metrics) }
            group.addTask { [env] in await env.notifications.run() }
            // Shutdown (graceful or cancellation) ends the stream of reconcilers to start.
            await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    for await reconciler in starts {
                        group.addTask { await reconciler.run() }
                    }
                } onCancel: { continuation.finish() }
            } onGracefulShutdown: { continuation.finish() }
            // Shutting down: stop every reconciler (each releases what it owns), then the rest.
            for r in state.withLock({ Array($0.reconcilers.values) }) { await r.stop() }
            group.cancelAll()
        }
        state.withLock { $0.start = nil }
    }

    /// Hands the heap's free pages back to the system now and then: a burst of syncs (the first
    /// clone of a thousand repositories, a storm of commits) leaves glibc's arenas holding memory
    /// that nothing uses, which the process would otherwise keep at its peak forever.
    /// Only after syncs ran: an idle poll barely allocates, and glibc's trim walks every free chunk
    /// of every arena each time.
    static func trimMemory(every interval: Duration, metrics: OperatorMetrics) async {
        await cancelWhenGracefulShutdown {
            var seen = -1
            var quietTrimmed = true
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let syncs = metrics.syncsStarted
                if syncs != seen {
                    seen = syncs
                    quietTrimmed = false
                } else if quietTrimmed {
                    continue
                } else {
                    quietTrimmed = true  // once more when the activity is over
                }
                flotilla_malloc_trim()
            }
        }
    }

    func cached(_ ref: InstanceRef) -> JSONValue? {
        for informer in informers {
            if let o = informer.store.get(namespace: ref.namespace, name: ref.name) { return o }
        }
        return nil
    }

    /// What the supervisor acts on in a FluxInstance: its spec (through `generation`), annotations,
    /// labels, finalizers, deletion and uid. A change of anything else is the status (most
    /// often the instance's own write) and is not worth decoding the object for.
    static func inputs(of object: JSONValue) -> JSONValue {
        let m = object["metadata"]
        return ["generation": m?["generation"] ?? .null, "annotations": m?["annotations"] ?? .null, "labels": m?["labels"] ?? .null,
                "finalizers": m?["finalizers"] ?? .null, "deletionTimestamp": m?["deletionTimestamp"] ?? .null, "uid": m?["uid"] ?? .null]
    }

    /// Records an event's inputs; false for a modification that changed none of them.
    func inputsMoved(_ ref: InstanceRef, _ event: WatchEvent) -> Bool {
        state.withLock { s in
            switch event {
            case .deleted:
                s.inputs[ref] = nil
                return true
            case .modified(let object):
                let inputs = Self.inputs(of: object)
                if s.inputs[ref] == inputs { return false }
                s.inputs[ref] = inputs
                return true
            case .added(let object):
                s.inputs[ref] = Self.inputs(of: object)
                return true
            case .synced, .bookmark:
                return true
            }
        }
    }

    /// Level-based: brings the set of reconcilers in line with the instance as cached now.
    func reconcile(_ ref: InstanceRef) async throws {
        guard let object = cached(ref) else {
            state.withLock { _ = $0.inputs.removeValue(forKey: ref) }
            await stopReconciler(ref)
            return
        }
        let instance = try object.decode(FluxInstance.self)
        if instance.metadata.deletionTimestamp != nil {
            await stopReconciler(ref)
            if instance.metadata.finalizers?.contains(Flotilla.finalizer) == true {
                try await finalize(instance, object: object)
            }
            return
        }
        if instance.metadata.finalizers?.contains(Flotilla.finalizer) != true {
            try await addFinalizer(object)
            return  // the update comes back through the watch
        }
        let settings: InstanceSettings
        do throws(InvalidSpec) {
            settings = try InstanceSettings.resolve(instance)
        } catch {
            await stopReconciler(ref)
            await writeInvalid(instance, error)
            return
        }
        if let existing = state.withLock({ $0.reconcilers[ref] }) {
            await existing.update(settings)
            return
        }
        let reconciler = InstanceReconciler(settings: settings, status: instance.status, environment: env)
        state.withLock { s in
            s.reconcilers[ref] = reconciler
            if let start = s.start { start.yield(reconciler) } else { s.pending.append(reconciler) }
        }
    }

    func stopReconciler(_ ref: InstanceRef) async {
        guard let r = state.withLock({ $0.reconcilers.removeValue(forKey: ref) }) else { return }
        await r.stop()
    }

    func addFinalizer(_ object: JSONValue) async throws {
        var finalizers = object["metadata"]?["finalizers"]?.arrayValue ?? []
        finalizers.append(.string(Flotilla.finalizer))
        let patch: JSONValue = ["metadata": ["finalizers": .array(finalizers), "resourceVersion": object["metadata"]?["resourceVersion"] ?? .null]]
        _ = try await env.client.patch(FluxInstance.resourceType, name: object["metadata"]?["name"]?.stringValue ?? "",
                                       namespace: object["metadata"]?["namespace"]?.stringValue, patch)
    }

    func writeInvalid(_ instance: FluxInstance, _ error: InvalidSpec) async {
        let now = KubeTime.string()
        var status = instance.status ?? FluxInstanceStatus()
        status.observedGeneration = instance.metadata.generation
        status.conditions = StatusBuilder.conditions(.failure(ConditionReason.invalidSpec, error.message, .terminal), reconciling: false,
                                                     generation: instance.metadata.generation ?? 0, previous: status.conditions ?? [], now: now)
        status.lastError = error.message
        guard status != instance.status else { return }
        try? await StatusWriter(client: env.client).write(status, of: InstanceRef(namespace: instance.metadata.namespace ?? "", name: instance.metadata.name ?? ""))
    }
}
