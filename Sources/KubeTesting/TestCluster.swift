import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import Logging
import Synchronization

/// A Kubernetes API emulator served over HTTPS on 127.0.0.1 for tests, with clients for its users.
/// Use `withTestCluster { cluster in … }`, which stops the server and the clients afterwards.
public final class TestCluster: Sendable {
    public let api: KubeAPIServer
    public let tls: TLSMaterial
    public let port: Int
    let serving: Task<Void, any Error>
    /// Every client made by `client(user:adjust:)`, shut down by `stop()`: a test that fails
    /// half-way (a fixture's init that throws) never drops a client that was not shut down, which
    /// AsyncHTTPClient treats as a fatal error in debug builds.
    private let clients = Mutex<[KubeClient]>([])

    init(api: KubeAPIServer, tls: TLSMaterial, port: Int, serving: Task<Void, any Error>) {
        self.api = api
        self.tls = tls
        self.port = port
        self.serving = serving
    }

    public var server: String { "https://127.0.0.1:\(port)" }

    /// Starts an emulator on a free port and waits until it listens.
    public static func start(_ adjust: (inout EmulatorConfiguration) -> Void = { _ in }) async throws -> TestCluster {
        let tls = try TLSMaterial.generate()
        var configuration = EmulatorConfiguration.withDefaultUsers()
        configuration.caBundlePEM = tls.caCertificatePEM
        configuration.namespaceDeletionDelay = .zero
        adjust(&configuration)
        let api = KubeAPIServer(configuration: configuration)
        var logger = Logger(label: "test-cluster")
        logger.logLevel = .critical
        let server = EmulatorHTTPServer(api: api, tls: tls, port: 0, logger: logger)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let serving = Task { try await server.run { sink.yield($0); sink.finish() } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw KubeConfigError("the emulator did not start") }
        return TestCluster(api: api, tls: tls, port: port, serving: serving)
    }

    public func stop() async {
        for client in clients.withLock({ $0 }) { try? await client.shutdown() }  // already shut down: fine
        serving.cancel()
        _ = try? await serving.value
    }

    /// A client configuration for one of the emulator's static users (`admin`, `alice`, `bob`).
    public func configuration(user: String = "admin") -> ClientConfiguration {
        var c = ClientConfiguration(server: server, credentials: .token(api.token(for: user) ?? ""), caCertificatePEM: Array(tls.caCertificatePEM.utf8))
        c.maxRetries = 5
        return c
    }

    public func client(user: String = "admin", adjust: (inout ClientConfiguration) -> Void = { _ in }) throws -> KubeClient {
        var c = configuration(user: user)
        adjust(&c)
        let client = try KubeClient(configuration: c)
        clients.withLock { $0.append(client) }
        return client
    }

    /// A kubeconfig YAML for this cluster with the given users' tokens.
    public func kubeconfig(users: [String] = ["admin", "alice", "bob"]) -> String {
        Kubeconfig.yaml(server: server, caPEM: tls.caCertificatePEM,
                        users: api.configuration.users.filter { users.contains($0.name) })
    }
}

/// Runs `body` with a fresh emulator, stopping it afterwards (also when `body` throws).
public func withTestCluster<T>(_ adjust: (inout EmulatorConfiguration) -> Void = { _ in }, _ body: (TestCluster) async throws -> T) async throws -> T {
    let cluster = try await TestCluster.start(adjust)
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}
