import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// `flotilla dev --from-repo`: one FluxInstance syncing the user's own repository with what `fluxd`
/// had, a cluster administrator's rights: it lives in `flotilla-dev`, which this dev install makes a
/// cluster-scope namespace, acts as a ServiceAccount bound to `cluster-admin`, may write every
/// namespace and cluster-scoped kinds. These are administrator's objects, made by `flotilla dev`.
/// The instance is read-only: it never writes to the repository.
enum UserRepository {
    static let namespace = "flotilla-dev"
    static let name = "repo"

    /// A URL as given; a local path (a work tree or a bare repository) as a `file://` URL.
    static func url(_ source: String) throws -> String {
        if source.contains("://") || source.hasPrefix("git@") { return source }
        let path = URL(fileURLWithPath: source).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DevError("--from-repo \(source): no such directory")
        }
        let workTree = FileManager.default.fileExists(atPath: path + "/.git")
        let bare = FileManager.default.fileExists(atPath: path + "/HEAD") && FileManager.default.fileExists(atPath: path + "/objects")
        guard workTree || bare else { throw DevError("--from-repo \(source): not a git repository (commit your manifests first: git init && git add . && git commit)") }
        return "file://" + path
    }

    static func install(client: KubeClient, url: String, branch: String?, paths: [String]) async throws {
        try await DemoRepository.installCRD(client: client)
        let ns = JSONValue.string(namespace)
        _ = try await client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": ns]],
                                   as: .namespaces, fieldManager: "flotilla-dev", force: true)
        _ = try await client.apply(["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "flotilla-dev", "namespace": ns]],
                                   as: .serviceAccounts, fieldManager: "flotilla-dev", force: true)
        _ = try await client.apply([
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "flotilla-dev-repo"],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"],
            "subjects": [["kind": "ServiceAccount", "name": "flotilla-dev", "namespace": ns]],
        ], as: .clusterRoleBindings, fieldManager: "flotilla-dev", force: true)
        // Read-only: trying Flotilla on your repository writes nothing to it (no sync tag, no image updates).
        var git: JSONValue = ["url": .string(url), "pollInterval": "1m", "readonly": true]
        if let branch { git["branch"] = .string(branch) }
        if !paths.isEmpty { git["paths"] = .array(paths.map { .string($0) }) }
        let instance: JSONValue = [
            "apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
            "metadata": ["name": .string(name), "namespace": ns],
            "spec": ["git": git, "serviceAccountName": "flotilla-dev", "allowedNamespaces": ["*"], "clusterScoped": true,
                     "sync": ["interval": "1m", "garbageCollection": ["enabled": true]]],
        ]
        _ = try await client.apply(instance, as: FluxInstance.resourceType, fieldManager: "flotilla-dev", force: true)
    }
}

struct DevError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
