import ArgumentParser
import Dashboard
import Foundation
import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import UnixSignals

/// `flotilla ui`: the web dashboard on this machine, with the caller's kubeconfig (like `kubectl
/// proxy`): every read and action is theirs, so their RBAC decides.
struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ui", abstract: "Serve the web dashboard on 127.0.0.1, acting with your kubeconfig.")

    @Option(help: "Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).") var kubeconfig: String?
    @Option(help: "Kubeconfig context.") var context: String?
    @Option(name: [.short, .long], help: "Only this namespace's instances (default: every namespace you may list).") var namespace: String?
    @Option(help: "Port on 127.0.0.1; 0 picks a free port.") var port = 8080
    @Option(help: "Log level (trace, debug, info, notice, warning, error).") var logLevel: Logger.Level = .notice

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        bootstrapLogging(.text)
        let logger = makeLogger(logLevel)
        let configuration: ClientConfiguration
        do {
            configuration = try ClientConfiguration.resolve(kubeconfig: kubeconfig, context: context)
        } catch {
            throw ValidationError("cannot configure the Kubernetes client: \(error)")
        }
        let client = try KubeClient(configuration: configuration, logger: logger)
        var settings = DashboardServer.Settings()
        settings.port = port
        settings.namespace = namespace
        settings.cluster = configuration.server
        settings.user = await Self.userName(client) ?? "you"
        let key = DashboardServer.randomToken()
        settings.key = key
        let server = DashboardServer(client: client, settings: settings, logger: logger) { bound in
            FileHandle.standardOutput.write(Data("Flotilla dashboard on http://127.0.0.1:\(bound)/?key=\(key) (Ctrl-C to stop)\n".utf8))
        }
        let outcome = await capture {
            try await ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        }
        try? await client.shutdown()
        try outcome.get()
    }

    /// Who the API server says the caller is (SelfSubjectReview), for the header.
    static func userName(_ client: KubeClient) async -> String? {
        let reviews = ResourceType(group: "authentication.k8s.io", version: "v1", resource: "selfsubjectreviews", kind: "SelfSubjectReview", namespaced: false)
        let review = try? await client.create(reviews, ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"])
        return review?["status"]?["userInfo"]?["username"]?.stringValue
    }
}
