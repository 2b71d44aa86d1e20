import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import Primitives
import Sync

/// The source step: the mirror for the instance's remote and credentials, the branch head, a
/// fetch when the mirror is behind.
extension InstanceReconciler {
    func behind(mirror: GitMirror, head: String) async throws -> Int {
        guard let lastApplied, lastApplied != head else { return 0 }
        return try await mirror.commits(from: lastApplied, to: head, paths: settings.paths).count
    }

    /// The branch head as the remote has it (an answer at most `maxAge` old), fetched into the
    /// mirror when the mirror is behind.
    func fetchHead(maxAge: Duration) async throws -> (mirror: GitMirror, branch: String, head: String) {
        let mirror = try await prepareMirror()
        let heads = try await mirror.remoteHeads(maxAge: maxAge)
        let branch = settings.source.branch ?? heads.defaultBranch ?? "main"
        guard let head = heads.branch(branch) else {
            throw GitError(.notFound, "branch \(branch) not found in \(GitURL.redacted(settings.source.url))")
        }
        if try await mirror.revision(branch: branch) != head {
            let started = ContinuousClock.now
            _ = try await mirror.fetch()
            metrics.fetched(duration: ContinuousClock.now - started)
        }
        return (mirror, branch, head)
    }

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
}
