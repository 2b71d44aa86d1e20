import Foundation
import Primitives

/// Runs `.flux.yaml` commands (generators and updaters) with Flux v1's contract: `sh -c` in the
/// target path's directory of a checkout, a deadline, bounded output, and a scrubbed environment:
/// the operator's own environment (its credentials, `KUBERNETES_*`, tokens) never reaches a
/// command. Where the command runs is the install's `sandbox`.
public struct CommandRunner: Sendable {
    public var sandbox: GeneratorSandbox
    public var defaultTimeout: Duration
    public var maxOutput: Int
    /// `HOME` for unsandboxed commands (a directory the instance owns); a sandboxed command's home
    /// is its private `/tmp`.
    public var home: String

    public init(sandbox: GeneratorSandbox, defaultTimeout: Duration = .seconds(60), maxOutput: Int = 64 << 20, home: String) {
        self.sandbox = sandbox
        self.defaultTimeout = defaultTimeout
        self.maxOutput = maxOutput
        self.home = home
    }

    /// The whole environment a command sees (plus the `FLUX_*` variables of an updater).
    public func environment(_ extra: [String: String] = [:]) -> [String: String] {
        let home = sandbox == .unsandboxed ? self.home : "/tmp"
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8"]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs one command in `path` (relative, "" for the root) of the checkout `root`; returns its
    /// stdout or a generation error that names the command, where it ran, and the tail of its
    /// stderr. With `keepChanges`, what the command changed in the checkout is in `root`
    /// afterwards (updaters); otherwise the checkout may or may not keep them.
    public func run(_ command: FluxConfig.Command, root: String, path: String, describedAs place: String,
                    extraEnvironment: [String: String] = [:], keepChanges: Bool = false) async throws(RenderError) -> [UInt8] {
        let timeout = command.timeout ?? defaultTimeout
        let limits = Subprocess.Limits(timeout: timeout, maxStdout: maxOutput)
        let environment = environment(extraEnvironment)
        if case .unavailable(let why) = sandbox {
            throw RenderError(.generation, "command `\(command.command)` in \(place) refused: no sandbox for .flux.yaml commands (\(why))")
        }
        let result: SubprocessResult
        do {
            switch sandbox {
            case .unsandboxed:
                result = try await Subprocess.shell(command.command, in: path.isEmpty ? root : "\(root)/\(path)", environment: environment, limits: limits)
            case .bubblewrap(let bwrap):
                result = try await Subprocess.run(bwrap.arguments(command: command.command, root: root, path: path), environment: environment, limits: limits)
            case .unavailable:
                preconditionFailure("refused above")
            case .container(let socket):
                result = try await GeneratorClient(socket: socket).run(GeneratorRequest(command: command.command, path: path, environment: environment,
                                                                                        limits: limits, returnTree: keepChanges), root: root)
            }
        } catch {
            throw RenderError(.generation, "command `\(command.command)` in \(place): \(error)")
        }
        let stderr = result.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = stderr.isEmpty ? "" : ": \(stderr)"
        switch result.outcome {
        case .exited(0):
            return result.stdout
        case .exited(let code):
            throw RenderError(.generation, "command `\(command.command)` in \(place) exited with status \(code)\(detail)")
        case .signalled(let signal):
            throw RenderError(.generation, "command `\(command.command)` in \(place) was killed by signal \(signal)\(detail)")
        case .timedOut:
            throw RenderError(.generation, "command `\(command.command)` in \(place) did not finish within \(timeout) and was killed\(detail)")
        case .outputTooLarge:
            throw RenderError(.generation, "command `\(command.command)` in \(place) printed more than \(maxOutput) bytes and was killed")
        }
    }
}

/// What an updater is asked to change, and the `FLUX_*` variables Flux v1 passed for it.
public enum UpdaterRequest: Sendable, Equatable {
    public struct Workload: Sendable, Equatable {
        public var namespace: String
        public var kind: String
        public var name: String
        public init(namespace: String, kind: String, name: String) {
            self.namespace = namespace
            self.kind = kind
            self.name = name
        }
        /// Flux v1's workload id: `namespace:kind/name` (kind in lower case).
        public var id: String { "\(namespace):\(kind.lowercased())/\(name)" }
    }

    /// Set a container's image (`FLUX_CONTAINER`, `FLUX_IMG`, `FLUX_TAG`).
    case containerImage(Workload, container: String, image: String, tag: String)
    /// Set (or, with nil, remove) a policy annotation (`FLUX_POLICY`, `FLUX_POLICY_VALUE`).
    case policy(Workload, policy: String, value: String?)

    public var environment: [String: String] {
        func base(_ w: Workload) -> [String: String] {
            ["FLUX_WORKLOAD": w.id, "FLUX_WL_NS": w.namespace, "FLUX_WL_KIND": w.kind, "FLUX_WL_NAME": w.name]
        }
        switch self {
        case .containerImage(let w, let container, let image, let tag):
            return base(w).merging(["FLUX_CONTAINER": container, "FLUX_IMG": image, "FLUX_TAG": tag]) { $1 }
        case .policy(let w, let policy, let value):
            var env = base(w)
            env["FLUX_POLICY"] = policy
            if let value { env["FLUX_POLICY_VALUE"] = value }
            return env
        }
    }
}
