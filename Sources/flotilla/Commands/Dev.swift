import ArgumentParser
import Dispatch
import Foundation
import KubeEmulator
import Logging

/// `flotilla dev`: the embedded development environment. For now it serves the Kubernetes API
/// emulator (`--api-only`); the operator, the demo repository and the FluxInstances join it later.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Flotilla's embedded development environment (Kubernetes API emulator).")

    @Flag(name: .long, help: "Serve only the Kubernetes API emulator.")
    var apiOnly = false

    @Option(name: .long, help: "Port to listen on (127.0.0.1); 0 picks a free port.")
    var port = 6443

    @Option(name: .long, help: "Where to write the kubeconfig for kubectl.")
    var kubeconfig: String = ".state/kubeconfig"

    @Option(name: .long, help: "How many changes the watch cache keeps before a watch from an older resourceVersion gets 410 Gone.")
    var watchWindow = 10_000

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel: Logger.Level = .notice

    func validate() throws {
        guard apiOnly else {
            throw ValidationError("only `flotilla dev --api-only` is available in this version: the operator is not part of the build yet")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        var logger = Logger(label: "flotilla.dev")
        logger.logLevel = logLevel
        FileHandle.standardError.write(Data("flotilla dev: generating a certificate authority and serving certificate…\n".utf8))
        let tls = try TLSMaterial.generate()
        var configuration = EmulatorConfiguration.withDefaultUsers()
        configuration.watchWindow = watchWindow
        configuration.caBundlePEM = tls.caCertificatePEM
        let path = URL(fileURLWithPath: kubeconfig).standardizedFileURL.path
        let users = configuration.users
        let work = Task {
            let api = KubeAPIServer(configuration: configuration)
            let server = EmulatorHTTPServer(api: api, tls: tls, port: port, logger: logger)
            try await server.run { bound in
                do {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    let yaml = Kubeconfig.yaml(server: "https://127.0.0.1:\(bound)", caPEM: tls.caCertificatePEM, users: users)
                    _ = FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8), attributes: [.posixPermissions: 0o600])
                } catch {
                    FileHandle.standardError.write(Data("flotilla dev: cannot write kubeconfig \(path): \(error)\n".utf8))
                }
                let banner = """
                    Kubernetes API emulator listening on https://127.0.0.1:\(bound)
                    KUBECONFIG=\(path)
                    Try: KUBECONFIG=\(path) kubectl get namespaces

                    """
                FileHandle.standardOutput.write(Data(banner.utf8))
            }
        }
        let signals = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler { work.cancel() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await work.value
        } catch is CancellationError {
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
