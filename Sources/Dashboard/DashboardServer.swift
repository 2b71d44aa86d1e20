import FlotillaAPI
import Foundation
import HTTPTypes
import Hummingbird
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The dashboard. `flotilla ui` serves it on a local port, reading and acting with the user's
/// kubeconfig, like `kubectl proxy` (`.local`): only loopback Host names are served (no DNS
/// rebinding). The operator serves it in the cluster (`--ui-address`, `.cluster`): each person signs
/// in with a bearer token and reads and acts with it (see `Sessions`). Either way every write
/// carries this process's random form token (no cross-site request can act as anyone).
public struct DashboardServer: Service {
    public enum Mode: Sendable { case local, cluster }

    public struct Settings: Sendable {
        public var mode = Mode.local
        public var host = "127.0.0.1"
        public var port = 8080
        /// Only this namespace's instances (nil: every namespace the user may list).
        public var namespace: String?
        /// How the header names the user and the cluster.
        public var user = ""
        public var cluster = ""
        /// `.local`: the secret the printed URL carries; nil serves any loopback request (benchmarks).
        public var key: String?
        public init() {}
    }

    let client: KubeClient
    let settings: Settings
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void
    let feed: LiveFeed
    let csrf: String
    /// `.cluster` only.
    let sessions: Sessions?

    public init(client: KubeClient, settings: Settings, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.onListening = onListening
        feed = LiveFeed(informer: Informer(client: client, type: FluxInstance.resourceType, namespace: settings.namespace, logger: logger))
        csrf = Self.randomToken()
        sessions = settings.mode == .cluster ? Sessions(operatorClient: client) : nil
    }

    /// 256 random bits as hex (the form token, session ids, `flotilla ui`'s key).
    public static func randomToken() -> String {
        (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
    }

    public func run() async throws {
        let port = BoundPort(settings.port)
        let app = Application(router: router(port: port),
                              configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "flotilla-ui"),
                              onServerRunning: { channel in
                                  let bound = channel.localAddress?.port ?? 0
                                  port.value.withLock { $0 = bound }
                                  await onListening(bound)
                              }, logger: logger)
        // The application follows this service's graceful shutdown; then the informer is cancelled
        // (its CancellationError is the expected end, not a failure).
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.informer.run() }
            group.addTask { try await app.run() }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(15))
                    feed.ping()
                }
            }
            do { try await group.next() } catch is CancellationError {}
            group.cancelAll()
        }
        await sessions?.shutdown()
    }

    func router(port: BoundPort) -> Router<BasicRequestContext> {
        let router = Router()
        if let sessions {
            router.middlewares.add(SignedIn(sessions: sessions))
            router.get("/login") { request, _ in self.loginPage(request, problem: nil) }
            router.post("/login") { request, _ in try await self.signIn(request, sessions: sessions) }
            router.post("/logout") { request, _ in try await self.signOut(request, sessions: sessions) }
        } else {
            router.middlewares.add(LoopbackOnly(port: port, key: settings.key))
        }
        router.get("/") { request, _ in try await self.overview(request) }
        router.get("/instances/:namespace/:name") { request, context in
            let (namespace, name) = (try context.parameters.require("namespace"), try context.parameters.require("name"))
            guard Self.isObjectRef(namespace: namespace, name: name) else { return Self.notAnInstance }
            return try await self.instance(request, namespace: namespace, name: name)
        }
        router.post("/instances/:namespace/:name/:action") { request, context in
            let (namespace, name) = (try context.parameters.require("namespace"), try context.parameters.require("name"))
            guard Self.isObjectRef(namespace: namespace, name: name) else { return Self.notAnInstance }
            return try await self.act(request, namespace: namespace, name: name, action: context.parameters.require("action"))
        }
        router.get("/events") { request, _ in self.events(request) }
        router.get("/assets/dashboard.css") { _, _ in Self.text(Assets.css, type: "text/css; charset=utf-8") }
        router.get("/assets/dashboard.js") { _, _ in Self.text(Assets.js, type: "text/javascript; charset=utf-8") }
        return router
    }
}
