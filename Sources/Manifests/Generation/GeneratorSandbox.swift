import Foundation
import Primitives

/// Where `.flux.yaml` commands (generators and updaters) run. A command is tenant-supplied code:
/// wherever it runs, the operator's credentials (its ServiceAccount token, kubeconfig, work root)
/// and other instances' mirrors, checkouts and keys must be out of its reach, and nothing it
/// starts may outlive it. The install chooses (see docs/security.md).
public enum GeneratorSandbox: Sendable, Equatable {
    /// A bubblewrap sandbox per command (`flotilla run` and `flotilla dev`).
    case bubblewrap(Bubblewrap)
    /// The chart's generator container: a process with no ServiceAccount token, under another uid,
    /// reached over a Unix socket on a volume the two containers share (`GeneratorClient`).
    case container(socket: String)
    /// As the operator itself, with only a scrubbed environment: the install trusts every
    /// generator (`--trust-generators`). Also what library tests use where no isolation is tested.
    case unsandboxed
    /// No sandbox is usable here and the install does not trust generators: every command is
    /// refused, with this reason.
    case unavailable(String)

    public var name: String {
        switch self {
        case .bubblewrap: return "bubblewrap"
        case .container: return "container"
        case .unsandboxed: return "none"
        case .unavailable: return "unavailable"
        }
    }
}

/// A bubblewrap (`bwrap`) invocation: a fresh user, mount, PID, IPC, UTS, cgroup and (unless
/// `network`) network namespace per command. Only the system's programs and libraries (read-only),
/// a few files of `/etc`, the administrator's `toolPaths`, a private `/tmp` and the instance's
/// checkout (read-write, at `/workspace`) are visible; there is no `/var/run/secrets`, no home
/// directory and no work root. The command runs as `nobody`, with no capabilities, in a session of
/// its own; when its shell exits the PID namespace ends and the kernel kills whatever it left
/// behind, and bwrap dies with the operator.
public struct Bubblewrap: Sendable, Equatable {
    public var executable: String
    /// Share the host's network (remote kustomize bases, helm repositories). Off: only loopback
    /// of its own, so no metadata server or API server is reachable.
    public var network: Bool
    /// Extra read-only paths for tools installed outside `/usr` (for example `/opt/helm`).
    public var toolPaths: [String]

    /// Where the checkout appears inside the sandbox.
    public static let workspace = "/workspace"

    public init(executable: String = "/usr/bin/bwrap", network: Bool = false, toolPaths: [String] = []) {
        self.executable = executable
        self.network = network
        self.toolPaths = toolPaths
    }

    /// The top-level system directories, bound read-only (or recreated as the symlinks they are
    /// on a merged-/usr system).
    static let systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    /// What of `/etc` programs need (users, name resolution, CA certificates, the dynamic linker's
    /// cache); never the whole of it, which may hold a node's kubeconfig.
    static let etcFiles = ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/ssl",
                           "/etc/ca-certificates", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                           "/etc/localtime", "/etc/mime.types"]

    /// The full argument list that runs `sh -c command` in `path` (relative to `root`) of the
    /// checkout `root`.
    public func arguments(command: String, root: String, path: String) -> [String] {
        var args = [executable, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534"]
        if network { args.append("--share-net") }
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        args += Self.systemArguments
        for file in Self.etcFiles { args += ["--ro-bind-try", file, file] }
        for tool in toolPaths { args += ["--ro-bind-try", tool, tool] }
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", root, Self.workspace]
        args += ["--chdir", path.isEmpty ? Self.workspace : "\(Self.workspace)/\(path)", "--", "/bin/sh", "-c", command]
        return args
    }

    static let systemArguments: [String] = systemDirectories.flatMap { dir -> [String] in
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir) { return ["--symlink", target, dir] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        return ["--ro-bind", dir, dir]
    }

    /// Runs a trivial command in the sandbox: nil when bubblewrap works here, otherwise why not
    /// (not installed, user namespaces forbidden by the kernel or a seccomp profile).
    public func probe() async -> String? {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return "\(executable) is not installed (Debian: bubblewrap)" }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-probe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let result = try await Subprocess.run(arguments(command: "test -d /workspace && test ! -e /var/run/secrets", root: root, path: ""),
                                                  environment: ["PATH": "/usr/bin:/bin"], limits: .init(timeout: .seconds(20)))
            if result.outcome == .exited(0) { return nil }
            let detail = result.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(executable) cannot create a sandbox here (\(result.outcome))\(detail.isEmpty ? "" : ": \(detail)")"
        } catch {
            return "\(executable) cannot be started: \(error)"
        }
    }
}
