import ArgumentParser
import CSupport
import FlotillaAPI
import Foundation
import KubeClient
import KubeEmulator
import KubeModel
import Logging
import Manifests
import Operator
import Primitives
import ServiceLifecycle
import UnixSignals

/// `flotilla dev`: the embedded development environment — the Kubernetes API emulator, a demo git
/// repository with sample manifests, the FluxInstance CRD and two FluxInstances, and the operator
/// running in this process. `--api-only` serves the emulator alone.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Flotilla on the embedded default: API emulator, demo repository, two FluxInstances, the operator.")

    @Flag(name: .long, help: "Serve only the Kubernetes API emulator.")
    var apiOnly = false

    @Option(name: .long, help: "Port to listen on (127.0.0.1); 0 picks a free port.")
    var port = 6443

    @Option(name: .long, help: "Where to write the kubeconfig for kubectl.")
    var kubeconfig: String = ".state/kubeconfig"

    @Option(name: .long, help: "Where to create the demo repository (bare repository and a clone to commit in).")
    var demoDir: String = ".state/demo"

    @Option(name: .long, help: "Port of the push webhook receiver (127.0.0.1); 0 picks a free port.")
    var receiverPort = 9292

    @Option(name: .long, help: "How many changes the watch cache keeps before a watch from an older resourceVersion gets 410 Gone.")
    var watchWindow = 10_000

    @Option(name: .long, help: "Seconds an Event lives after its last write, like kube-apiserver's --event-ttl.")
    var eventTTLSeconds = 3600

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel: Logger.Level = .notice

    @Option(name: .long, help: "Minimal workload controllers (Deployments roll out, Jobs complete, claims bind): on by default, off with --api-only unless asked.")
    var workloads: Bool?

    @Option(name: .long, help: "Seconds a Pod takes to turn Ready (and a Job to complete, a claim to bind).")
    var workloadStartSeconds = 3.0

    @Option(name: .long, help: "Keep an object from ever getting healthy: KIND/NAMESPACE/NAME (e.g. Deployment/demo/podinfo). Repeatable.")
    var unhealthy: [String] = []

    @Option(name: .long, help: "Sync your own repository instead of the demo: a git URL or a local repository's path (one FluxInstance, flotilla-dev/repo, with cluster-admin rights).")
    var fromRepo: String?

    @Option(name: .long, help: "With --from-repo: the branch (default the repository's default branch).")
    var branch: String?

    @Option(name: .long, help: "With --from-repo: a directory to sync (default the root). Repeatable.")
    var path: [String] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard eventTTLSeconds > 0 else { throw ValidationError("--event-ttl-seconds must be positive") }
        guard workloadStartSeconds >= 0 else { throw ValidationError("--workload-start-seconds must not be negative") }
        if fromRepo == nil, branch != nil || !path.isEmpty { throw ValidationError("--branch and --path go with --from-repo") }
        if let fromRepo {
            if apiOnly { throw ValidationError("--from-repo needs the operator: drop --api-only") }
            do { _ = try UserRepository.url(fromRepo) } catch { throw ValidationError("\(error)") }
        }
        for object in unhealthy where object.split(separator: "/").count != 3 {
            throw ValidationError("--unhealthy \(object): expected KIND/NAMESPACE/NAME, e.g. Deployment/demo/podinfo")
        }
    }

    /// A line on stdout, unbuffered (scripts and tests read it while the process runs).
    func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func progress(_ text: String) {
        FileHandle.standardError.write(Data("flotilla dev: \(text)\n".utf8))
    }

    func run() async throws {
        // Two malloc arenas: a thousand instances' work spread over many threads otherwise leaves
        // freed memory in arenas other threads do not reuse (BENCHMARKS.md: 36 MiB less RSS).
        flotilla_limit_malloc_arenas(2)
        bootstrapLogging(.text)
        let logger = makeLogger(logLevel)
        Self.progress("generating a certificate authority and serving certificate…")
        let tls = try TLSMaterial.generate()
        var configuration = EmulatorConfiguration.withDefaultUsers()
        configuration.watchWindow = watchWindow
        configuration.eventTTL = .seconds(eventTTLSeconds)
        configuration.caBundlePEM = tls.caCertificatePEM
        let path = URL(fileURLWithPath: kubeconfig).standardizedFileURL.path
        configuration.workloadControllers = workloads ?? !apiOnly
        configuration.workloadStartDelay = .milliseconds(Int64(workloadStartSeconds * 1000))
        let api = KubeAPIServer(configuration: configuration)
        for object in unhealthy {
            let parts = object.split(separator: "/").map(String.init)
            api.keepUnhealthy(kind: parts[0], namespace: parts[1], name: parts[2])
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let emulator = EmulatorService(server: EmulatorHTTPServer(api: api, tls: tls, port: port, logger: logger)) { port in
            portSink.yield(port)
            portSink.finish()
        }
        let session = DevSession(dev: self, api: api, tls: tls, users: configuration.users, kubeconfig: path, ports: ports, logger: logger)
        // Shut down last first: the operator stops (its reconcilers, its client), then the emulator.
        var group = ServiceGroupConfiguration(
            services: ([emulator, session] as [any Service]).map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: group).run()
    }
}

/// The emulator's HTTPS server as a service (its Hummingbird application honours graceful shutdown).
struct EmulatorService: Service {
    let server: EmulatorHTTPServer
    let onListening: @Sendable (Int) async -> Void

    func run() async throws {
        try await server.run(onListening: onListening)
    }
}

/// What `flotilla dev` does once the emulator listens: the kubeconfig, then (unless `--api-only`)
/// the demo repository, the CRD and FluxInstances, and the operator, until graceful shutdown.
struct DevSession: Service {
    let dev: Dev
    let api: KubeAPIServer
    let tls: TLSMaterial
    let users: [StaticUser]
    let kubeconfig: String
    let ports: AsyncStream<Int>
    let logger: Logger

    func run() async throws {
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw ValidationError("the emulator did not start") }
        try FileManager.default.createDirectory(atPath: (kubeconfig as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let yaml = Kubeconfig.yaml(server: "https://127.0.0.1:\(bound)", caPEM: tls.caCertificatePEM, users: users)
        _ = FileManager.default.createFile(atPath: kubeconfig, contents: Data(yaml.utf8), attributes: [.posixPermissions: 0o600])
        dev.say("Kubernetes API emulator listening on https://127.0.0.1:\(bound)")
        if dev.apiOnly {
            dev.say("KUBECONFIG=\(kubeconfig)\nTry: KUBECONFIG=\(kubeconfig) kubectl get namespaces\n")
            try? await gracefulShutdown()
            return
        }
        var clientConfiguration = ClientConfiguration(server: "https://127.0.0.1:\(bound)", credentials: .token(api.token(for: "admin") ?? ""),
                                                      caCertificatePEM: Array(tls.caCertificatePEM.utf8))
        clientConfiguration.qps = 1000
        clientConfiguration.burst = 1000
        clientConfiguration.maxConnectionsPerHost = 4096
        let client = try KubeClient(configuration: clientConfiguration, logger: logger)
        let outcome = await capture {
            if let source = dev.fromRepo {
                try await runUserRepository(source, client: client)
                return
            }
            let demo = URL(fileURLWithPath: dev.demoDir).standardizedFileURL.path
            Dev.progress("creating the demo repository in \(demo)…")
            let url = try await DemoRepository.create(at: demo)
            let receiver = "http://127.0.0.1:\(dev.receiverPort == 0 ? try Dev.freePort() : dev.receiverPort)"
            let token = try DemoRepository.webhookToken(in: demo)
            try DemoRepository.installHook(bare: demo + "/repo.git", receiver: receiver, token: token)
            Dev.progress("installing the FluxInstance CRD and two FluxInstances…")
            try await DemoRepository.install(client: client, repositoryURL: url, webhookToken: token)
            var options = try OperatorOptions.parse([])
            options.workDir = demo + "/work-dir"
            options.metricsAddress = ""
            options.receiverAddress = String(receiver.dropFirst("http://".count))
            options.logLevel = dev.logLevel
            let services = await operatorServices(client: client, options: options, logger: logger)
            dev.say("""
                KUBECONFIG=\(kubeconfig)
                Demo repository: \(url) (commit in \(demo)/checkout, then `git push`: its hook posts to \(receiver)/hooks/…)
                Try: KUBECONFIG=\(kubeconfig) kubectl get fluxinstances -A

                """)
            // A group of its own: it follows this service's graceful shutdown.
            try await ServiceGroup(configuration: .init(services: services, logger: logger)).run()
        }
        try await client.shutdown()
        try outcome.get()
    }
}

extension DevSession {
    /// `--from-repo`: the user's repository in place of the demo, synced with an administrator's rights.
    func runUserRepository(_ source: String, client: KubeClient) async throws {
        let url = try UserRepository.url(source)
        Dev.progress("installing the FluxInstance CRD and a FluxInstance for \(url)…")
        try await UserRepository.install(client: client, url: url, branch: dev.branch, paths: dev.path)
        var options = try OperatorOptions.parse([])
        options.workDir = URL(fileURLWithPath: dev.demoDir).standardizedFileURL.path + "/work-dir"
        options.metricsAddress = ""
        options.clusterScopeNamespaces = [UserRepository.namespace]
        options.logLevel = dev.logLevel
        let services = await operatorServices(client: client, options: options, logger: logger)
        dev.say("""
            KUBECONFIG=\(kubeconfig)
            Syncing \(url) as FluxInstance \(UserRepository.namespace)/\(UserRepository.name)
            Try: KUBECONFIG=\(kubeconfig) kubectl describe fluxinstance -n \(UserRepository.namespace) \(UserRepository.name)

            """)
        try await ServiceGroup(configuration: .init(services: services, logger: logger)).run()
    }
}

extension Dev {
    static func freePort() throws -> Int {
        guard let port = freeLoopbackPort() else { throw ValidationError("no free port on 127.0.0.1 for the webhook receiver") }
        return port
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
