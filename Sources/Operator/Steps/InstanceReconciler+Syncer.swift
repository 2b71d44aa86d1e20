import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import Logging
import Manifests
import Sync

extension InstanceReconciler {

    /// The syncer for the current settings and branch (rebuilt when they change), acting as the
    /// identity `grant` names.
    func prepareSyncer(branch: String, grant: AccessGrant) async throws -> Syncer {
        let key = SyncOptionsKey(branch: branch, settings: settings)
        if let syncer, syncerKey == key, syncerIdentity == grant.identity { return syncer }
        let account = grant.identity.name
        let client = env.client.impersonating(.serviceAccount(namespace: settings.ref.namespace, name: account))
        if live == nil || syncerIdentity != grant.identity || syncerKey?.settings.allowedNamespaces != settings.allowedNamespaces {
            live = LiveCache(client: client, instance: settings.ref, logger: logger)
        }
        var options = settings.syncOptions(branch: branch)
        options.claims = env.claims
        options.preflightAccessCheck = true
        let syncer = Syncer(client: client, live: live!, inventoryStore: ConfigMapInventoryStore(client: env.client, instance: settings.ref),
                            options: options, logger: logger)
        self.syncer = syncer
        syncerKey = key
        syncerIdentity = grant.identity
        syncersBuilt += 1
        return syncer
    }

}
