import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import Logging
import Manifests
import Sync

extension InstanceReconciler {
    /// The mirror for the current source settings (rebuilt when they change), with credentials
    /// from the instance's Secret or its managed deploy key.
    func prepareMirror() async throws -> GitMirror {
        let source = settings.source
        if let mirror, mirrorSource == source { return mirror }
        let (credentials, knownHosts) = try await loadCredentials()
        var options = GitMirror.Options(url: source.url, directory: workDirectory + "/git")
        options.credentials = credentials
        options.knownHosts = knownHosts
        options.timeout = source.timeout
        options.readOnly = source.readonly
        options.committer = source.committer
        options.commitMessageSuffix = source.commitSuffix
        let mirror = GitMirror(options)
        self.mirror = mirror
        mirrorSource = source
        renderer = ManifestRenderer(source: mirror, workDirectory: workDirectory + "/render", sandbox: env.tenancy.generators, logger: logger)
        return mirror
    }

    /// `identity`, `known_hosts`, `username`/`password` from `spec.git.secretRef`; for an SSH remote
    /// without a Secret, the instance's own deploy key (generated once, kept in a Secret the
    /// operator owns) — its public half is shown in the status to add to the repository.
    func loadCredentials() async throws -> (GitCredentials, String) {
        let ref = settings.ref
        let ssh = Self.isSSH(settings.source.url)
        if let name = settings.source.secretName {
            let secret: Secret
            do {
                secret = try await env.client.get(Secret.self, name: name, namespace: ref.namespace)
            } catch {
                if error.isNotFound { throw InvalidSpec("Secret \(ref.namespace)/\(name) (spec.git.secretRef) not found") }
                throw error
            }
            let text = { (key: String) in secret.value(key).map { String(decoding: $0, as: UTF8.self) } }
            let knownHosts = text("known_hosts") ?? ""
            if let identity = text("identity") {
                publicKey = DeployKey.publicKey(ofPrivateKey: identity)
                return (.sshKey(privateKey: identity), knownHosts)
            }
            if let user = text("username"), let password = text("password") {
                return (.userPassword(username: user, password: password), knownHosts)
            }
            if ssh { throw InvalidSpec("Secret \(ref.namespace)/\(name) has no `identity` key for the SSH remote") }
            return (.none, knownHosts)
        }
        guard ssh else { return (.none, "") }
        let name = settings.deployKeySecretName
        if let existing = try? await env.client.get(Secret.self, name: name, namespace: ref.namespace),
           let identity = existing.value("identity").map({ String(decoding: $0, as: UTF8.self) }) {
            publicKey = DeployKey.publicKey(ofPrivateKey: identity)
            return (.sshKey(privateKey: identity), existing.value("known_hosts").map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
        let key = newDeployKey()
        _ = try await env.client.create(deployKeySecret(key))
        publicKey = DeployKey.publicKey(ofPrivateKey: key.privateKeyOpenSSH)
        logger.notice("deploy key generated", metadata: ["secret": "\(name)"])
        return (.sshKey(privateKey: key.privateKeyOpenSSH), "")
    }

    func newDeployKey() -> DeployKey {
        DeployKey.generateEd25519(comment: "flotilla-\(settings.ref.namespace)-\(settings.ref.name)")
    }

    /// The Secret `deployKeySecretName` holding `key` (labelled as the instance's).
    func deployKeySecret(_ key: DeployKey) -> Secret {
        let ref = settings.ref
        var secret = Secret(metadata: ObjectMeta(name: settings.deployKeySecretName, namespace: ref.namespace, labels: [Flotilla.instanceLabel: ref.labelValue]),
                            data: ["identity": Array(key.privateKeyOpenSSH.utf8)])
        secret.type = "Opaque"
        return secret
    }

    static func isSSH(_ url: String) -> Bool {
        if url.hasPrefix("ssh://") { return true }
        if url.contains("://") { return false }
        return url.contains("@") && url.contains(":")
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

    /// Writes the status (server-side apply on the status subresource, field manager
    /// `flotilla-status`) when it differs from what was last written.
    func writeStatus(_ outcome: Outcome, head: String?, behind: Int? = nil) async {
        let inputs = StatusInputs(outcome: outcome, head: head, behind: behind, lastApplied: lastApplied, lastSync: lastSync,
                                  syncsCompleted: syncsCompleted, settings: settings, publicKey: publicKey, images: imagesStatus, requests: requestResults)
        if inputs == lastStatusInputs { return }
        env.metrics.setReady(settings.ref, outcome.ready)
        let previous = lastWrittenStatus
        var status = previous ?? FluxInstanceStatus()
        let now = StatusBuilder.timestamp()
        status.observedGeneration = settings.generation
        status.conditions = StatusBuilder.conditions(outcome, reconciling: false, generation: settings.generation,
                                                     previous: previous?.conditions ?? [], now: now)
        if let head { status.headRevision = head }
        status.lastAppliedRevision = lastApplied
        status.shortRevision = lastApplied.map { String($0.prefix(7)) }
        status.lastSyncTime = lastSync.map { StatusBuilder.timestamp($0) }
        if let behind { status.behind = behind }
        if let result = lastCounts {
            status.counts = SyncCounts(applied: result.count(.created) + result.count(.configured), unchanged: result.count(.unchanged),
                                       pruned: result.count(.deleted), failed: result.count(.failed) + result.count(.conflict))
            status.pendingDeletions = result.pendingDeletions.isEmpty ? nil : result.pendingDeletions.map(\.description)
        }
        status.lastError = outcome.ready ? nil : outcome.message
        let host = GitURL.parse(settings.source.url)?.host
        status.identity = InstanceIdentity(publicKey: publicKey, gitHost: host?.isEmpty == false ? host : nil)
        status.images = imagesStatus
        status.requests = requestResults.isEmpty ? nil : requestResults
        guard status != previous else {
            lastStatusInputs = inputs
            return
        }
        do {
            let body: JSONValue = ["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                   "metadata": ["name": .string(settings.ref.name), "namespace": .string(settings.ref.namespace)],
                                   "status": try JSONValue.encode(status)]
            _ = try await env.client.apply(body, as: FluxInstance.resourceType, fieldManager: Flotilla.statusFieldManager, force: true, subresource: "status")
            lastWrittenStatus = status
            lastStatusInputs = inputs
            if previous.flatMap(Self.outcome(of:))?.reason != outcome.reason {
                logger.notice("status", metadata: ["ready": "\(outcome.ready)", "reason": "\(outcome.reason)", "message": "\(outcome.message)"])
            }
        } catch {
            // Shutting down cancels the write: nothing to report then.
            if !Task.isCancelled { logger.warning("status not written", metadata: ["error": "\(error)"]) }
        }
    }
}

/// Everything a status is built from (see `InstanceReconciler.writeStatus`).
struct StatusInputs: Equatable {
    var outcome: Outcome
    var head: String?
    var behind: Int?
    var lastApplied: String?
    var lastSync: Date?
    var syncsCompleted: Int
    var settings: InstanceSettings
    var publicKey: String?
    var images: ImagesStatus?
    var requests: [RequestResult]
}
