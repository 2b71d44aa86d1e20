import ArgumentParser
import Dispatch
import Foundation
import KubeClient
import KubeRuntime
import Logging
import Manifests
import Operator

/// `flotilla run`: the operator against a cluster.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator: one reconciler per FluxInstance, in this process.")

    @OptionGroup var options: OperatorOptions

    func run() async throws {
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
        let work = Task { try await runOperatorUntilCancelled(client: client, options: options, logger: logger) }
        await untilSignalledOrDone(work)
        try? await client.shutdown()
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

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if !metricsAddress.isEmpty && OperatorHTTP.parse(metricsAddress) == nil {
            throw ValidationError("--metrics-address: \"\(metricsAddress)\" is not HOST:PORT or :PORT")
        }
    }
}

extension OperatorOptions {
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

/// Runs the supervisor (behind leader election when asked), and the metrics and health endpoint
/// when it has an address, until the task is cancelled.
func runOperatorUntilCancelled(client: KubeClient, options: OperatorOptions, logger: Logger) async throws {
    // The metrics backend first: metrics made before it would go nowhere.
    let address = OperatorHTTP.parse(options.metricsAddress)
    let registry = address.map { _ in OperatorHTTP.bootstrapMetrics() }
    let environment = OperatorEnvironment(client: client, workRoot: options.workDir, concurrency: options.concurrency,
                                          tenancy: await options.tenancyPolicy(logger: logger), logger: logger)
    let supervisor = Supervisor(environment: environment, scope: Scope(namespaces: options.namespaces, labelSelector: options.selector))
    guard let (host, port) = address, let registry else {
        return try await runSupervisor(supervisor, client: client, options: options, logger: logger)
    }
    let http = OperatorHTTP(host: host, port: port, registry: registry, ready: { supervisor.isReady }, logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await http.run { port in
                logger.notice("serving /metrics, /healthz and /readyz", metadata: ["address": "\(host):\(port)"])
            }
        }
        group.addTask { try await runSupervisor(supervisor, client: client, options: options, logger: logger) }
        // Either ending (normally on cancellation) ends both.
        _ = try await group.next()
        group.cancelAll()
    }
}

func runSupervisor(_ supervisor: Supervisor, client: KubeClient, options: OperatorOptions, logger: Logger) async throws {
    if options.leaderElect {
        let identity = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let elector = LeaderElector(client: client, configuration: .init(namespace: options.leaderElectionNamespace, name: options.leaderElectionId, identity: identity),
                                    logger: logger) {
            try? await supervisor.run()
        }
        try await elector.run()
    } else {
        try await supervisor.run()
    }
}

/// Waits for SIGINT or SIGTERM (then cancels `work` and waits for it to wind down), or for `work`
/// to end by itself.
func untilSignalledOrDone(_ work: Task<Void, any Error>) async {
    let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
    let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig)
        source.setEventHandler { continuation.yield(sig) }
        source.resume()
        return source
    }
    await withTaskGroup(of: Void.self) { group in
        group.addTask {
            for await _ in signals { break }
        }
        group.addTask { _ = try? await work.value }
        await group.next()
        // Awaiting a task's value is not ended by cancelling the waiter: cancel the work itself.
        work.cancel()
        continuation.finish()
        group.cancelAll()
    }
    sources.forEach { $0.cancel() }
    work.cancel()
    _ = try? await work.value
}
