import FlotillaAPI
import Foundation
import GitSource
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Logging
import Manifests
import Sync
import Testing

/// One instance end to end: a real upstream repository and mirror, the renderer, and a syncer
/// against the emulator (as `admin`), with the instance's live cache (lists made during each sync).
final class SyncFixture: Sendable {
    static let instance = InstanceRef(namespace: "flux-system", name: "apps")
    let cluster: TestCluster
    let client: KubeClient
    let upstream: UpstreamRepo
    let mirror: GitMirror
    let renderer: ManifestRenderer
    let live: LiveCache
    let store: ConfigMapInventoryStore

    init(cluster: TestCluster, files: [String: String]) async throws {
        self.cluster = cluster
        client = try cluster.client()
        for ns in [Self.instance.namespace, "apps", "other"] {
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
        upstream = try UpstreamRepo(files: files)
        mirror = GitMirror(GitMirror.Options(url: upstream.url, directory: tempDir("mirror")))
        renderer = ManifestRenderer(source: mirror, workDirectory: tempDir("render"), sandbox: .bubblewrap(Bubblewrap()), logger: Logger(label: "test"))
        live = LiveCache(client: client, instance: Self.instance, logger: Logger(label: "test"))
        store = ConfigMapInventoryStore(client: client, instance: Self.instance)
    }

    func options(gc: Bool = false, dryRun: Bool = false, adjust: (inout SyncOptions) -> Void = { _ in }) -> SyncOptions {
        var o = SyncOptions(instance: Self.instance, setName: GCMark.setName(url: upstream.url, branch: "main", paths: []),
                            defaultNamespace: "apps", allowedNamespaces: ["apps", "flux-system"])
        o.garbageCollection = GarbageCollectionOptions(enabled: gc, dryRun: dryRun)
        adjust(&o)
        return o
    }

    func syncer(_ options: SyncOptions) -> Syncer {
        Syncer(client: client, live: live, inventoryStore: store, options: options, logger: Logger(label: "test"))
    }

    /// Fetches, renders the head of main and syncs it (a render error stops before the syncer).
    @discardableResult
    func sync(_ syncer: Syncer, paths: [String] = []) async throws -> SyncResult {
        let head = try await mirror.fetch()["main"]!
        return try await syncer.sync(try await renderer.render(revision: head, options: RenderOptions(paths: paths)))
    }

    func configMap(_ name: String, namespace: String = "apps") async throws -> JSONValue? {
        do {
            return try await client.get(.configMaps, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    /// Waits until the instance's live view holds the server's current version of these objects
    /// (immediate now that it lists on every sync; kept so the scenarios state what they rely on).
    func waitForCache(_ objects: [(ResourceType, String?, String)]) async throws {
        for (type, namespace, name) in objects {
            let current = try await client.get(type, name: name, namespace: namespace)["metadata"]?["resourceVersion"]
            let caught = try await eventually(timeout: .seconds(10)) {
                if case .found(let o) = await live.lookup(type, scope: namespace, objectNamespace: namespace, name: name) {
                    return o["metadata"]?["resourceVersion"] == current
                }
                return false
            }
            #expect(caught, "cache caught up with \(name)")
        }
    }

    func stop() async {
        try? await client.shutdown()
        renderer.release()
    }
}

func withSyncFixture(_ files: [String: String], emulator: (inout EmulatorConfiguration) -> Void = { _ in },
                     _ body: (SyncFixture) async throws -> Void) async throws {
    try await withTestCluster(emulator) { cluster in
        let fixture = try await SyncFixture(cluster: cluster, files: files)
        do {
            try await body(fixture)
            await fixture.stop()
        } catch {
            await fixture.stop()
            throw error
        }
    }
}

func cm(_ name: String, namespace: String? = nil, data: [String: String] = ["k": "v"], annotations: [String: String] = [:]) -> String {
    var text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n"
    if let namespace { text += "  namespace: \(namespace)\n" }
    if !annotations.isEmpty {
        text += "  annotations:\n" + annotations.sorted { $0.key < $1.key }.map { "    \($0.key): \"\($0.value)\"\n" }.joined()
    }
    text += "data:\n" + data.sorted { $0.key < $1.key }.map { "  \($0.key): \"\($0.value)\"\n" }.joined()
    return text
}
