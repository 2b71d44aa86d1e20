import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Manifests

/// `flotilla generator-server`: the chart's generator container. It runs `.flux.yaml` commands
/// that `flotilla run --generator-socket` sends it, one at a time, and holds no credential.
struct GeneratorServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generator-server",
        abstract: "Run .flux.yaml commands for an operator, over a Unix socket (the chart's generator container).")

    @Option(help: "The Unix socket to listen on (on a volume shared with the operator's container).")
    var socket: String

    @Option(help: "Where each request's checkout is unpacked (removed after its command).")
    var workDir = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-generator").path

    @Option(help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    func run() throws {
        bootstrapLogging(logFormat)
        // As a container's PID 1, SIGTERM has no default action: end at once (a command in
        // flight dies with the container).
        signal(SIGTERM) { _ in Glibc.exit(0) }
        signal(SIGINT) { _ in Glibc.exit(0) }
        try GeneratorServer(socket: socket, workDirectory: workDir, logger: makeLogger(logLevel)).serveBlocking()
    }
}
