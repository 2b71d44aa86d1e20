import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeEmulator
import KubeModel
import KubeTesting
import Logging
import Manifests
import Operator
import Sync
import Synchronization
import Testing

/// The operator in process against the emulator: CRD installed, namespaces created, the
/// supervisor running as `admin` (the operator's identity).
final class OperatorFixture: Sendable {
    let cluster: TestCluster
    let client: KubeClient
    let supervisor: Supervisor
    let task: Task<Void, any Error>
    /// Where the instances' mirrors and render directories are.
    let workRoot = tempDir("operator")
    /// Clients of other users, shut down by `stop()`.
    let userClients = Mutex<[KubeClient]>([])

    init(cluster: TestCluster, namespaces: [String], concurrency: Int = 4,
         tenancy: TenancyPolicy = TenancyPolicy(generators: .bubblewrap(Bubblewrap())),
         configure: (inout OperatorEnvironment) -> Void = { _ in }) async throws {
        self.cluster = cluster
        client = try cluster.client()
        for ns in namespaces {
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
        _ = try await client.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
        let client = client
        #expect(try await eventually { (try? await client.list(FluxInstance.resourceType)) != nil }, "the CRD is served")
        var logger = Logger(label: "operator-test")
        logger.logLevel = .warning
        var environment = OperatorEnvironment(client: client, workRoot: workRoot, concurrency: concurrency, tenancy: tenancy, logger: logger)
        configure(&environment)
        supervisor = Supervisor(environment: environment)
        let supervisor = supervisor
        task = Task { try await supervisor.run() }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? await client.shutdown()
        for other in userClients.withLock({ $0 }) { try? await other.shutdown() }
    }

    /// A client acting as one of the emulator's users (`alice`, `bob`).
    func client(user: String) throws -> KubeClient {
        let other = try cluster.client(user: user)
        userClients.withLock { $0.append(other) }
        return other
    }

    /// Creates a FluxInstance from its spec (JSON, as `kubectl apply` would send it).
    @discardableResult
    func apply(_ name: String, namespace: String, spec: JSONValue) async throws -> JSONValue {
        try await client.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec],
                               as: FluxInstance.resourceType, fieldManager: "kubectl", force: true)
    }

    func instance(_ name: String, namespace: String) async throws -> FluxInstance? {
        do {
            return try await client.get(FluxInstance.self, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    func ready(_ i: FluxInstance?) -> Condition? { i?.status?.conditions?.first { $0.type == "Ready" } }

    /// Waits until the instance's Ready condition has this reason (and, if given, this revision applied).
    func waitFor(_ name: String, namespace: String, reason: String, revision: String? = nil, timeout: Duration = .seconds(30)) async throws -> FluxInstance? {
        var last: FluxInstance?
        let reached = try await eventually(timeout: timeout) {
            last = try await instance(name, namespace: namespace)
            return ready(last)?.reason == reason && (revision == nil || last?.status?.lastAppliedRevision == revision)
        }
        #expect(reached, "\(namespace)/\(name) reached \(reason)\(revision.map { " at \($0.prefix(7))" } ?? ""); last: \(String(describing: ready(last)))")
        return last
    }

    /// Asks the instance (a `requests.flotilla.dev/<id>` annotation, as the CLI does).
    func request(_ instance: String, namespace: String, id: String, _ body: String) async throws {
        _ = try await client.patch(FluxInstance.resourceType, name: instance, namespace: namespace,
                                   ["metadata": ["annotations": [.init(stringLiteral: Flotilla.requestAnnotationPrefix + id): .string(body)]]])
    }

    /// The instance's answer to request `id` (nil if none came within 30 s).
    func answer(_ instance: String, namespace: String, id: String) async throws -> RequestResult? {
        var found: RequestResult?
        _ = try await eventually(timeout: .seconds(30)) {
            found = try await self.instance(instance, namespace: namespace)?.status?.requests?.first { $0.id == id }
            return found != nil
        }
        return found
    }

    func configMap(_ name: String, namespace: String) async throws -> JSONValue? {
        do {
            return try await client.get(.configMaps, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }
}

func withOperator(namespaces: [String], concurrency: Int = 4, tenancy: TenancyPolicy = TenancyPolicy(generators: .bubblewrap(Bubblewrap())),
                  configure: (inout OperatorEnvironment) -> Void = { _ in }, emulator: (inout EmulatorConfiguration) -> Void = { _ in },
                  _ body: (OperatorFixture) async throws -> Void) async throws {
    try await withTestCluster(emulator) { cluster in
        let fixture = try await OperatorFixture(cluster: cluster, namespaces: namespaces, concurrency: concurrency, tenancy: tenancy, configure: configure)
        do {
            try await body(fixture)
            await fixture.stop()
        } catch {
            await fixture.stop()
            throw error
        }
    }
}

func cm(_ name: String, namespace: String? = nil, value: String = "v") -> String {
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n" + (namespace.map { "  namespace: \($0)\n" } ?? "") + "data:\n  k: \"\(value)\"\n"
}

func gitSpec(_ url: String, poll: String = "1s", _ extra: [String: JSONValue] = [:]) -> JSONValue {
    var git: [String: JSONValue] = ["url": .string(url), "pollInterval": .string(poll)]
    for (k, v) in extra { git[k] = v }
    return .object(git)
}
