import ArgumentParser
import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import Logging
import Manifests
import Operator
import Sync

/// What `flotilla build` and `flotilla diff` render: an instance's repository at a branch or
/// commit, or a local working copy, with the instance's paths, generators (in the sandbox) and
/// decryption keys; everything read as the caller, with their kubeconfig.
struct PreviewOptions: ParsableArguments {
    @Option(name: [.short, .customLong("instance")], help: "The FluxInstance.") var instance: String
    @Option(help: "A branch or full commit id of the instance's repository (default: the head of its branch).") var ref: String?
    @Option(help: "A local working copy to render instead of the repository (e.g. a pull request's checkout in CI).") var dir: String?

    func validate() throws {
        if ref != nil && dir != nil { throw ValidationError("give --ref or --dir, not both") }
    }
}

struct InstancePreview {
    let client: KubeClient
    let object: FluxInstance
    let settings: InstanceSettings
    /// The inventory the instance last saved (nil when the caller may not read it, or none yet).
    let inventory: Inventory?
    var target: String { "FluxInstance \(settings.ref)" }

    static func load(client: KubeClient, namespace: String, name: String) async throws -> InstancePreview {
        let target = "FluxInstance \(namespace)/\(name)"
        let object: FluxInstance
        do { object = try await client.get(FluxInstance.self, name: name, namespace: namespace) } catch {
            if error.code == 403 { throw CLIError("you may not read \(target): \(error.message)") }
            if error.isNotFound { throw CLIError("\(target) not found") }
            throw CLIError("cannot read \(target): \(error)")
        }
        let settings: InstanceSettings
        do { settings = try InstanceSettings.resolve(object) } catch { throw CLIError("\(target): \(error.message)") }
        let inventory = try? await ConfigMapInventoryStore(client: client, instance: settings.ref).load()
        return InstancePreview(client: client, object: object, settings: settings, inventory: inventory)
    }

    /// Renders the revision asked for: `(revision, branch, manifests)`.
    func render(_ options: PreviewOptions, work: String) async throws -> (String, String?, RenderedSet) {
        let tree: any TreeReader
        var revision = "working-copy"
        var branch = settings.source.branch
        if let dir = options.dir {
            tree = DirectoryTree(root: dir)
        } else {
            var git = GitMirror.Options(url: settings.source.url, directory: work + "/git")
            (git.credentials, git.knownHosts) = try await credentials()
            git.timeout = settings.source.timeout
            git.readOnly = true
            let mirror = GitMirror(git)
            let heads: [String: String]
            do {
                heads = try await mirror.fetch()
            } catch {
                throw CLIError("cannot fetch \(GitURL.redacted(settings.source.url)): \(error.message)")
            }
            let remote = try? await mirror.remoteHeads(maxAge: .zero)
            branch = branch ?? remote?.defaultBranch ?? "main"
            let wanted = options.ref ?? branch!
            if let head = heads[wanted] {
                revision = head
                if options.ref != nil { branch = settings.source.branch ?? branch }
            } else if wanted.count == 40, wanted.allSatisfy(\.isHexDigit) {
                revision = wanted.lowercased()
            } else {
                throw CLIError("\(wanted) is neither a branch of \(GitURL.redacted(settings.source.url)) nor a full commit id")
            }
            tree = mirror
        }
        var render = RenderOptions(paths: settings.paths, manifestGeneration: settings.manifestGeneration)
        render.decryptor = try await decryptor(scratch: work + "/decrypt")
        let renderer = ManifestRenderer(source: tree, workDirectory: work + "/render", sandbox: .bubblewrap(Bubblewrap()), logger: Logger(label: "flotilla"))
        do {
            return (revision, branch, try await renderer.render(revision: revision, options: render))
        } catch {
            throw CLIError("\(target): \(error.message)")
        }
    }

    /// The sync options the instance syncs with (its sync set name from its inventory, when known).
    func syncOptions(branch: String?) -> SyncOptions {
        var options = settings.syncOptions(branch: branch ?? "main")
        if let set = inventory?.setName { options.setName = set }
        return options
    }

    /// Plans the objects as the instance would (discovery decides scopes; the allow-list is checked).
    func plan(_ rendered: RenderedSet, options: SyncOptions, client: KubeClient) async throws -> [DesiredObject] {
        var cache: [String: CachedPlan] = [:]
        do {
            return try await Planner(options: options).plan(rendered.manifests, client: client, cache: &cache)
        } catch {
            throw CLIError("\(target): the revision would be refused (\(error.reason.rawValue)):\n  " + error.problems.joined(separator: "\n  "))
        }
    }

    /// The ServiceAccount the instance acts as, as its spec says. (The status names the one the
    /// operator used, but whoever may write the status subresource can write it: it only informs.)
    var serviceAccount: String {
        settings.serviceAccountName ?? settings.managedServiceAccountName
    }

    /// The ServiceAccount the status reports, when it is not the one the spec implies (an
    /// install-wide default ServiceAccount, or a status written by someone else).
    var reportedOtherServiceAccount: String? {
        guard let reported = object.status?.identity?.serviceAccount, reported != serviceAccount else { return nil }
        return reported
    }

    func secret(_ name: String, field: String) async throws -> [String: [UInt8]] {
        do {
            return try await client.get(Secret.self, name: name, namespace: settings.ref.namespace).values
        } catch {
            throw CLIError("cannot read Secret \(settings.ref.namespace)/\(name) (\(field)) as you: \(error.message)")
        }
    }

    /// Git credentials from the instance's Secret, else its managed deploy key, else none.
    func credentials() async throws -> (GitCredentials, String) {
        var fields: [String: [UInt8]] = [:]
        if let name = settings.source.secretName { fields = try await secret(name, field: "spec.git.secretRef") }
        let text = { (key: String) in fields[key].map { String(decoding: $0, as: UTF8.self) } }
        if text("identity") == nil, settings.source.url.contains("@") || settings.source.url.hasPrefix("ssh://"),
           let managed = try? await client.get(Secret.self, name: settings.deployKeySecretName, namespace: settings.ref.namespace).values {
            for (k, v) in managed where fields[k] == nil { fields[k] = v }
        }
        let knownHosts = text("known_hosts") ?? ""
        if let identity = text("identity"), !identity.isEmpty { return (.sshKey(privateKey: identity), knownHosts) }
        if let user = text("username"), let password = text("password") { return (.userPassword(username: user, password: password), knownHosts) }
        return (.none, knownHosts)
    }

    func decryptor(scratch: String) async throws -> SopsDecryptor? {
        guard let name = settings.decryptionSecretName else { return nil }
        guard let decryptor = SopsDecryptor(secretValues: try await secret(name, field: "spec.decryption.secretRef"), scratch: scratch) else {
            throw CLIError("Secret \(settings.ref.namespace)/\(name) (spec.decryption.secretRef) has no age identity (.agekey) or PGP key (.asc)")
        }
        return decryptor
    }
}

/// A scratch directory removed when the command ends.
func withScratch<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = NSTemporaryDirectory() + "flotilla-" + UUID().uuidString.prefix(8).lowercased()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
