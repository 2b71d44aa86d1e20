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
    /// mirror when the mirror is behind. With `maxAge` zero (a reconcile request, a push, new
    /// settings, a retry) the remote is asked now: a fetch asks it anyway, so it goes first and
    /// its ref advertisement is the poll (one connection, one upload-pack on the git host, where
    /// a poll and then a fetch made two; in a storm of requests, every sync fetches).
    func fetchHead(maxAge: Duration) async throws -> (mirror: GitMirror, branch: String, head: String) {
        let mirror = try await prepareMirror()
        if maxAge == .zero {
            let started = ContinuousClock.now
            let (branches, heads) = try await mirror.fetchReportingHeads()
            metrics.fetched(duration: ContinuousClock.now - started)
            logPackFold(mirror)
            let branch = settings.source.branch ?? heads.defaultBranch ?? "main"
            guard let head = branches[branch] else { throw Self.missingBranch(branch, settings.source.url) }
            return (mirror, branch, head)
        }
        let heads = try await mirror.remoteHeads(maxAge: maxAge)
        let branch = settings.source.branch ?? heads.defaultBranch ?? "main"
        guard let head = heads.branch(branch) else { throw Self.missingBranch(branch, settings.source.url) }
        if try await mirror.revision(branch: branch) != head {
            let started = ContinuousClock.now
            _ = try await mirror.fetch()
            metrics.fetched(duration: ContinuousClock.now - started)
            logPackFold(mirror)
        }
        return (mirror, branch, head)
    }

    /// A fold of the mirror's packs after a fetch is rare (every dozen fetches or so) and worth a
    /// line; a failed one leaves the mirror as the fetch left it, to be tried at the next fetch.
    func logPackFold(_ mirror: GitMirror) {
        switch mirror.takePackFold() {
        case .success(let fold):
            logger.info("mirror packs folded", metadata: [
                "packsBefore": "\(fold.packsBefore)", "packsFolded": "\(fold.packsFolded)", "looseFolded": "\(fold.looseFolded)",
                "objects": "\(fold.objects)", "bytesBefore": "\(fold.bytesBefore)", "bytesAfter": "\(fold.bytesAfter)",
                "durationMs": "\(fold.duration.nanoseconds / 1_000_000)",
            ])
        case .failure(let error):
            logger.warning("mirror packs not folded", metadata: ["error": "\(error.message)"])
        case nil:
            break
        }
    }

    static func missingBranch(_ branch: String, _ url: String) -> GitError {
        GitError(.notFound, "branch \(branch) not found in \(GitURL.redacted(url))")
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
        options.signer = try await signingKey()?.signer
        options.sshConnections = env.sshConnections
        let mirror = GitMirror(options)
        self.mirror = mirror
        mirrorSource = source
        renderer = ManifestRenderer(source: mirror, workDirectory: workDirectory + "/render", sandbox: env.tenancy.generators, logger: logger)
        return mirror
    }

    /// Credentials and known hosts as `GitCredentialPlan` decides: `identity`, `known_hosts`,
    /// `username`/`password` from `spec.git.secretRef`; for an SSH remote without a key, the
    /// instance's own deploy key (generated once, kept where `spec.git.generatedKey` says), whose
    /// public half is shown in the status to add to the repository.
    func loadCredentials() async throws -> (GitCredentials, String) {
        let ref = settings.ref
        let secret = try await userSecret()
        let fields = secret.map(Self.credentialFields)
        let plan = try GitCredentialPlan.plan(ssh: Self.isSSH(settings.source.url), secret: fields, store: settings.source.generatedKey,
                                              secretName: settings.source.secretName.map { "\(ref.namespace)/\($0)" })
        switch plan {
        case .anonymous(let knownHosts):
            return (.none, knownHosts)
        case .secretKey(let knownHosts):
            let identity = fields?["identity"] ?? ""
            publicKey = DeployKey.publicKey(ofPrivateKey: identity)
            return (.sshKey(privateKey: identity), knownHosts)
        case .password(let knownHosts):
            return (.userPassword(username: fields?["username"] ?? "", password: fields?["password"] ?? ""), knownHosts)
        case .generated(.managed, let knownHosts):
            let (identity, managedKnownHosts) = try await managedDeployKey()
            publicKey = DeployKey.publicKey(ofPrivateKey: identity)
            return (.sshKey(privateKey: identity), knownHosts ?? managedKnownHosts)
        case .generated(.secretRef, let knownHosts):
            let identity = try await writeDeployKey(into: secret!)
            publicKey = DeployKey.publicKey(ofPrivateKey: identity)
            return (.sshKey(privateKey: identity), knownHosts ?? "")
        }
    }

    /// The Secret `spec.git.secretRef` names (nil when none is named).
    func userSecret() async throws -> Secret? {
        guard let name = settings.source.secretName else { return nil }
        return try await namedSecret(name, field: "spec.git.secretRef")
    }

    static func credentialFields(_ secret: Secret) -> [String: String] {
        var fields: [String: String] = [:]
        for key in ["identity", "known_hosts", "username", "password"] {
            fields[key] = secret.value(key).map { String(decoding: $0, as: UTF8.self) }
        }
        return fields
    }

    /// The managed deploy key and the known hosts kept beside it, generated on first use.
    func managedDeployKey() async throws -> (identity: String, knownHosts: String) {
        let name = settings.deployKeySecretName
        if let existing = try? await env.client.get(Secret.self, name: name, namespace: settings.ref.namespace),
           let identity = existing.value("identity").map({ String(decoding: $0, as: UTF8.self) }) {
            return (identity, existing.value("known_hosts").map { String(decoding: $0, as: UTF8.self) } ?? "")
        }
        let key = newDeployKey()
        _ = try await env.client.create(deployKeySecret(key))
        logger.notice("deploy key generated", metadata: ["secret": "\(name)"])
        return (key.privateKeyOpenSSH, "")
    }

    /// Writes a new deploy key as `identity` into the user's Secret (`generatedKey: SecretRef`),
    /// marked as generated; every other key of the Secret is left as it is. The write carries
    /// the Secret's resourceVersion: a Secret changed meanwhile is read again at the next pass.
    func writeDeployKey(into secret: Secret) async throws -> String {
        let key = newDeployKey()
        let name = secret.metadata.name ?? ""
        let patch: JSONValue = [
            "metadata": ["resourceVersion": secret.metadata.resourceVersion.map(JSONValue.string) ?? .null,
                         "annotations": [.init(stringLiteral: GitCredentialPlan.generatedAnnotation): "true"]],
            "data": ["identity": .string(Data(key.privateKeyOpenSSH.utf8).base64EncodedString())],
        ]
        _ = try await env.client.patch(.secrets, name: name, namespace: settings.ref.namespace, patch)
        logger.notice("deploy key generated", metadata: ["secret": "\(name)"])
        return key.privateKeyOpenSSH
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
