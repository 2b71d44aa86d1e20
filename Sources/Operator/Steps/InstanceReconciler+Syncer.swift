import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import Logging
import Manifests
import Sync

extension InstanceReconciler {
    /// Options that, when changed, need a new syncer (the live cache and mirror are kept).
    struct SyncOptionsKey: Equatable {
        var branch: String
        var settings: InstanceSettings

        /// A reconcile request or a suspend/resume changes the settings, not what the syncer
        /// does: the syncer (its plans, inventory and verified objects) is kept.
        init(branch: String, settings: InstanceSettings) {
            var settings = settings
            settings.reconcileRequestedAt = nil
            settings.suspend = false
            settings.images = nil
            settings.requests = [:]
            self.branch = branch
            self.settings = settings
        }
    }


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
