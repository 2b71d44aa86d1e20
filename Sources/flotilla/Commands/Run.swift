import ArgumentParser
import CSupport
import Dashboard
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import Operator
import ServiceLifecycle
import UnixSignals

/// `flotilla run`: the operator against a cluster.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator: one reconciler per FluxInstance, in this process.")

    @OptionGroup var options: OperatorOptions

    func run() async throws {
        // Two malloc arenas: a thousand instances' work spread over many threads otherwise leaves
        // freed memory in arenas other threads do not reuse (BENCHMARKS.md: 36 MiB less RSS).
        flotilla_limit_malloc_arenas(2)
        bootstrapLogging(options.logFormat)
        let logger = makeLogger(options.logLevel)
        let client: KubeClient
        do {
            var configuration = try ClientConfiguration.resolve(kubeconfig: options.kubeconfig, context: options.context)
            configuration.qps = options.qps
            configuration.burst = options.burst
            configuration.maxConnectionsPerHost = options.maxConnections
            client = try KubeClient(configuration: configuration, logger: logger)
        } catch {
            throw ValidationError("cannot configure the Kubernetes client: \(error)")
        }
        var configuration = ServiceGroupConfiguration(services: await operatorServices(client: client, options: options, logger: logger),
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Within the chart's 60 s termination grace: what has not stopped by then is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(45)
        let group = ServiceGroup(configuration: configuration)
        let outcome = await capture { try await group.run() }
        try await client.shutdown()
        try outcome.get()
    }
}

/// Options shared by `run` and `dev`.
struct OperatorOptions: ParsableArguments {
    @Option(help: "Kubeconfig file (default: KUBECONFIG, else in-cluster, else ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context.")
    var context: String?

    @Option(name: .customLong("namespace"), help: "Serve FluxInstances in this namespace (repeatable; default: all namespaces).")
    var namespaces: [String] = []

    @Option(help: "Serve only FluxInstances matching this label selector (how replicas shard the work).")
    var selector: String?

    @Option(help: "Syncs running at once across all instances.")
    var concurrency = 8

    @Option(help: "Directory for the instances' git mirrors and work files.")
    var workDir = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla").path

    @Flag(inversion: .prefixedNo, help: "Elect a leader through a Lease, so only one replica reconciles.")
    var leaderElect = false

    @Option(help: "Namespace of the leader-election Lease.")
    var leaderElectionNamespace = "default"

    @Option(help: "Client-side request rate limit (queries per second).")
    var qps: Double = 50

    @Option(help: "Client-side request burst.")
    var burst = 100

    @Option(help: "HTTP/1.1 connections to the API server at most (over HTTP/2 all requests share a few).")
    var maxConnections = 256

    @Option(help: "Address (HOST:PORT, or :PORT for all interfaces) serving /metrics, /healthz and /readyz; empty to turn off.")
    var metricsAddress = ":8080"

    @Option(help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text (one line per event, key=value) or json (one object per line).")
    var logFormat: LogFormat = .text

    @Option(help: "Name of the leader-election Lease (one per shard when several Deployments share a namespace).")
    var leaderElectionId = "flotilla-leader"

    @Option(name: .customLong("cluster-scope-namespace"),
            help: "Instances in this namespace may use allowedNamespaces [\"*\"] and clusterScoped (repeatable; default: none).")
    var clusterScopeNamespaces: [String] = []

    @Option(help: "Lockdown: an instance without serviceAccountName acts as this ServiceAccount of its own namespace, and the operator manages no RBAC.")
    var defaultServiceAccount: String?

    @Option(help: "Namespaces whose instances may use manifest generation, comma-separated; * for all, empty for none.")
    var generationNamespaces = "*"

    @Option(help: "Unix socket of the generator container (the chart's): .flux.yaml commands run there, not in bubblewrap.")
    var generatorSocket: String?

    @Flag(help: "Run .flux.yaml commands as the operator when no sandbox is usable (every generator is trusted).")
    var trustGenerators = false

    @Flag(help: "Give sandboxed .flux.yaml commands the host's network (remote bases, chart repositories).")
    var generatorNetwork = false

    @Option(name: .customLong("generator-tool-path"), help: "A path outside /usr that sandboxed commands may read, for tools (repeatable).")
    var generatorToolPaths: [String] = []

    @Flag(help: "Let notifications go to loopback, link-local and private addresses (off: a tenant's notification cannot reach the pod's network neighbours).")
    var notificationsPrivateNetworks = false

    @Option(help: "Address (HOST:PORT, or :PORT) serving push webhooks at POST /hooks/<namespace>/<secret>; empty to turn off.")
    var receiverAddress = ""

    @Option(help: "Address (HOST:PORT, or :PORT) serving the web dashboard; each person signs in with a Kubernetes bearer token and sees and does what it may; empty to turn off.")
    var uiAddress = ""

    @Option(help: "Cloud registries whose logins come from the operator pod's platform identity, comma-separated: aws (ECR), gcp (GCR, Artifact Registry), azure (ACR); empty for none.")
    var registryPlatformCredentials = ""

    @Option(help: "Namespaces whose instances may use those logins, comma-separated; * for all, empty for none.")
    var registryPlatformNamespaces = ""

    @Option(help: "SSH connections kept for polls close after this long without one (a duration such as 10m); longer than the instances' pollInterval, each deploy key keeps one connection open to its git host.")
    var sshPollIdleTimeout = "10m"

    func validate() throws {
        _ = try platformCredentialPolicy()
        _ = try sshConnectionOptions()
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if !uiAddress.isEmpty && OperatorHTTP.parse(uiAddress) == nil {
            throw ValidationError("--ui-address: \"\(uiAddress)\" is not HOST:PORT or :PORT")
        }
        if !receiverAddress.isEmpty && OperatorHTTP.parse(receiverAddress) == nil {
            throw ValidationError("--receiver-address: \"\(receiverAddress)\" is not HOST:PORT or :PORT")
        }
        if !metricsAddress.isEmpty && OperatorHTTP.parse(metricsAddress) == nil {
            throw ValidationError("--metrics-address: \"\(metricsAddress)\" is not HOST:PORT or :PORT")
        }
    }
}

extension OperatorOptions {
    /// `--ssh-poll-idle-timeout`: how the pool of SSH connections for polls is kept.
    func sshConnectionOptions() throws -> SSHConnections.Options {
        guard let idle = DurationParser.parse(sshPollIdleTimeout), idle > .zero else {
            throw ValidationError("--ssh-poll-idle-timeout: \"\(sshPollIdleTimeout)\" is not a positive duration such as 90s or 10m")
        }
        return SSHConnections.Options(idleTimeout: idle)
    }

    /// `--registry-platform-credentials` and `--registry-platform-namespaces`.
    func platformCredentialPolicy() throws -> PlatformCredentialPolicy {
        func list(_ text: String) -> [String] {
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var providers: Set<PlatformProvider> = []
        for name in list(registryPlatformCredentials) {
            guard let provider = PlatformProvider(rawValue: name.lowercased()) else {
                throw ValidationError("--registry-platform-credentials: \"\(name)\" is not aws, gcp or azure")
            }
            providers.insert(provider)
        }
        return PlatformCredentialPolicy(providers: providers, namespaces: Set(list(registryPlatformNamespaces)))
    }

    /// The install's tenancy decisions; where `.flux.yaml` commands run is found out here, once:
    /// the generator container when there is a socket, else bubblewrap if it works on this host,
    /// else (only when generators are trusted) the operator itself.
    func tenancyPolicy(logger: Logger) async -> TenancyPolicy {
        let generators: GeneratorSandbox
        if let generatorSocket {
            generators = .container(socket: generatorSocket)
        } else {
            let bwrap = Bubblewrap(network: generatorNetwork, toolPaths: generatorToolPaths)
            if let problem = await bwrap.probe() {
                generators = trustGenerators ? .unsandboxed : .unavailable(problem)
                logger.warning("no sandbox for .flux.yaml commands", metadata: ["problem": "\(problem)", "generators": "\(generators.name)"])
            } else {
                generators = .bubblewrap(bwrap)
            }
        }
        return TenancyPolicy(clusterScopeNamespaces: Set(clusterScopeNamespaces), defaultServiceAccount: defaultServiceAccount,
                             generationNamespaces: NamespaceSet(parsing: generationNamespaces), generators: generators)
    }
}

func makeLogger(_ level: Logger.Level) -> Logger {
    var logger = Logger(label: "flotilla")
    logger.logLevel = level
    return logger
}

/// The operator's long-lived work as services of one group: the metrics and health endpoint (when
/// it has an address), then the supervisor, behind the leader elector when asked. On graceful
/// shutdown (SIGTERM, SIGINT) the group stops them last first: the supervisor stops its
/// reconcilers and the elector gives the lease back, then the endpoint closes. Either ending by
/// itself shuts the whole group down.
func operatorServices(client: KubeClient, options: OperatorOptions, logger: Logger) async -> [ServiceGroupConfiguration.ServiceConfiguration] {
    // The metrics backend first: metrics made before it would go nowhere.
    let address = OperatorHTTP.parse(options.metricsAddress)
    let registry = address.map { _ in OperatorHTTP.bootstrapMetrics() }
    var environment = OperatorEnvironment(client: client, workRoot: options.workDir, concurrency: options.concurrency,
                                          tenancy: await options.tenancyPolicy(logger: logger), logger: logger)
    if let policy = try? options.platformCredentialPolicy(), !policy.providers.isEmpty {
        environment.platformCredentials = PlatformCredentials(policy: policy)
        logger.notice("platform registry credentials", metadata: ["providers": "\(policy.providers.sorted().map(\.rawValue).joined(separator: ","))",
                                                                  "namespaces": "\(policy.namespaces.sorted().joined(separator: ","))"])
    }
    environment.notifications = NotificationDispatcher(allowPrivateNetworks: options.notificationsPrivateNetworks, logger: logger)
    if let ssh = try? options.sshConnectionOptions() { environment.sshConnections = SSHConnections(options: ssh) }
    let supervisor = Supervisor(environment: environment, scope: Scope(namespaces: options.namespaces, labelSelector: options.selector))
    var services: [any Service] = []
    if let (host, port) = address, let registry {
        services.append(OperatorHTTP(host: host, port: port, registry: registry, ready: { supervisor.isReady }, logger: logger))
    }
    if let (host, port) = OperatorHTTP.parse(options.receiverAddress) {
        services.append(ReceiverHTTP(host: host, port: port, supervisor: supervisor, logger: logger))
    }
    if let (host, port) = OperatorHTTP.parse(options.uiAddress) {
        var settings = DashboardServer.Settings()
        (settings.mode, settings.host, settings.port, settings.cluster) = (.cluster, host, port, "this cluster")
        services.append(DashboardServer(client: client, settings: settings, logger: logger) { bound in
            logger.notice("serving the dashboard", metadata: ["address": "\(host):\(bound)"])
        })
    }
    if options.leaderElect {
        let identity = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        services.append(LeaderElector(client: client, configuration: .init(namespace: options.leaderElectionNamespace, name: options.leaderElectionId, identity: identity),
                                      logger: logger) {
            try? await supervisor.run()
        })
    } else {
        services.append(supervisor)
    }
    return services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) }
}
