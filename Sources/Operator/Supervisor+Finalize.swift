import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Manifests
import Sync

extension Supervisor {
    /// Carries out `spec.sync.deletionPolicy` for a deleted instance, removes what the operator
    /// created for it (inventory, managed ServiceAccount and bindings, generated deploy key), then
    /// drops the finalizer. A failure keeps the finalizer and is retried with backoff.
    ///
    /// `Delete` collects every object in the inventory with the usual safety checks (uid, GC mark,
    /// ignore annotations), as the instance's identity; `Orphan` leaves them in place.
    func finalize(_ instance: FluxInstance, object: JSONValue) async throws {
        let ref = InstanceRef(namespace: instance.metadata.namespace ?? "", name: instance.metadata.name ?? "")
        var log = logger
        log[metadataKey: "instance"] = "\(ref)"
        let store = ConfigMapInventoryStore(client: env.client, instance: ref)
        let settings = try? InstanceSettings.resolve(instance)
        if let settings, settings.deletionPolicy == .delete {
            let inventory = try await store.load()
            let client = env.client.impersonating(.serviceAccount(namespace: ref.namespace, name: env.tenancy.identity(of: settings).name))
            var options = settings.syncOptions(branch: "")
            options.setName = inventory.setName ?? options.setName
            options.garbageCollection = GarbageCollectionOptions(enabled: true)
            options.garbageCollection.guardEnabled = false
            // The live cache is never started: every read is a GET, nothing is left running.
            let syncer = Syncer(client: client, live: LiveCache(client: client, instance: ref, logger: log), inventoryStore: store,
                                options: options, logger: log)
            let result = try await syncer.sync(RenderedSet(revision: "deletion", manifests: []))
            let failed = result.changes(.failed)
            guard failed.isEmpty else {
                throw InvalidSpec("deleting the instance's objects: \(failed.count) failed, first \(failed[0])")
            }
            log.notice("instance objects deleted", metadata: ["deleted": "\(result.count(.deleted))"])
        }
        try await env.client.deleteIfPresent(.configMaps, name: store.name, namespace: ref.namespace)
        try await env.client.deleteIfPresent(.secrets, name: "flotilla-\(ref.name)-deploy-key", namespace: ref.namespace)
        // In lockdown the operator made no ServiceAccount and no binding (and may not delete any).
        if env.tenancy.defaultServiceAccount == nil {
            try await ManagedBindings(client: env.client, ref: ref).removeAll(hint: settings?.allowedNamespaces ?? [])
            if let settings, settings.serviceAccountName == nil {
                try await env.client.deleteIfPresent(.serviceAccounts, name: settings.managedServiceAccountName, namespace: ref.namespace)
            }
        }
        let finalizers = (object["metadata"]?["finalizers"]?.arrayValue ?? []).filter { $0.stringValue != Flotilla.finalizer }
        let patch: JSONValue = ["metadata": ["finalizers": .array(finalizers), "resourceVersion": object["metadata"]?["resourceVersion"] ?? .null]]
        _ = try await env.client.patch(FluxInstance.resourceType, name: ref.name, namespace: ref.namespace, patch)
        log.notice("instance finalized", metadata: ["deletionPolicy": "\(settings?.deletionPolicy.rawValue ?? "Orphan")"])
    }
}
