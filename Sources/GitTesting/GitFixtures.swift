import Foundation
import Primitives

/// Runs a command, returning stdout; throws on a non-zero exit. Uses posix_spawn and waitpid
/// directly: Foundation's Process waits through a run loop, which can starve under parallel tests.
@discardableResult
public func sh(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_AUTHOR_NAME"] = "Test"; environment["GIT_AUTHOR_EMAIL"] = "test@example.com"
    environment["GIT_COMMITTER_NAME"] = "Test"; environment["GIT_COMMITTER_EMAIL"] = "test@example.com"
    for (k, v) in env { environment[k] = v }
    let dir = tempDir("sh")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outPath = dir + "/out", errPath = dir + "/err"
    var command = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    if let cwd { command = "cd '\(cwd)' && " + command }
    command += " </dev/null >'\(outPath)' 2>'\(errPath)'"
    var pid: pid_t = 0
    let words: [String] = ["/bin/sh", "-c", command]
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp) == 0 else { throw FixtureError("cannot run \(args)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    guard status == 0 else { throw FixtureError("\(args.joined(separator: " ")) failed (\(status)): \(err)") }
    return out.trimmingCharacters(in: .whitespacesAndNewlines)
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

public func tempDir(_ name: String = "git") -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-\(name)-\(UUID().uuidString.prefix(8))").path
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Test fixtures for git: a shell runner, temporary directories, upstream repositories, a real
/// sshd on 127.0.0.1 and a hung remote. Shared by every test target that needs real git.

/// A bare repository with an initial commit, plus a scratch clone to make upstream changes.
public struct UpstreamRepo: Sendable {
    public let root: String
    public var bare: String { root + "/upstream.git" }
    public var work: String { root + "/work" }
    public var url: String { "file://" + bare }

    public init(files: [String: String] = ["deploy/app.yaml": "kind: ConfigMap\n", "README.md": "hello\n"]) throws {
        root = tempDir("upstream")
        try sh(["git", "init", "-q", "--bare", "-b", "main", bare])
        try sh(["git", "clone", "-q", bare, work])
        try sh(["git", "checkout", "-q", "-b", "main"], cwd: work)
        try commit(files, message: "initial")
    }

    /// A commit of `files` pushed to the bare repository; `config` adds `git -c` settings and
    /// `signingArguments` flags of `git commit` (`-S`), `environment` the signer's (`GNUPGHOME`).
    @discardableResult
    public func commit(_ files: [String: String?], message: String, config: [String: String] = [:], signingArguments: [String] = [],
                       environment: [String: String] = [:], force: Bool = false) throws -> String {
        for (path, contents) in files {
            let full = work + "/" + path
            if let contents {
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try contents.write(toFile: full, atomically: true, encoding: .utf8)
                try sh(["git", "add", path], cwd: work)
            } else {
                try sh(["git", "rm", "-q", path], cwd: work)
            }
        }
        let options = config.sorted { $0.key < $1.key }.flatMap { ["-c", "\($0.key)=\($0.value)"] }
        try sh(["git"] + options + ["commit", "-q", "-m", message] + signingArguments, cwd: work, env: environment)
        try sh(["git", "push", "-q"] + (force ? ["--force"] : []) + ["origin", "main"], cwd: work)
        return try head()
    }

    public func head() throws -> String { try sh(["git", "--git-dir", bare, "rev-parse", "main"]) }
    public func show(_ spec: String) throws -> String { try sh(["git", "--git-dir", bare, "show", spec]) }
}

/// A real sshd on 127.0.0.1 with a temporary host key and the given authorized keys.
public final class TestSSHD {
    public let dir: String
    public let port: Int
    private(set) var process: Process
    public let hostKeyLine: String

    public init(authorizedKeys: [String]) throws {
        dir = tempDir("sshd")
        try sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/host_key"])
        try authorizedKeys.joined(separator: "\n").appending("\n").write(toFile: dir + "/authorized_keys", atomically: true, encoding: .utf8)
        chmod(dir + "/authorized_keys", 0o600)
        port = try freePort()
        let config = """
            ListenAddress 127.0.0.1:\(port)
            HostKey \(dir)/host_key
            AuthorizedKeysFile \(dir)/authorized_keys
            StrictModes no
            UsePAM no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            PidFile \(dir)/sshd.pid
            LogLevel INFO
            SetEnv HOME=\(dir)
            """
        try config.write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        process = try Self.launch(dir: dir, port: port)
        let publicKey = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        hostKeyLine = "[127.0.0.1]:\(port) \(publicKey)"
    }

    /// Starts sshd with the configuration in `dir` and waits until it accepts connections.
    static func launch(dir: String, port: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
        process.arguments = ["-D", "-E", dir + "/sshd.log", "-f", dir + "/sshd_config"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if Self.canConnect(port) { return process }
            usleep(50_000)
        }
        throw FixtureError("sshd did not start on port \(port)")
    }

    /// Kills sshd and every session it serves (what a host restart does), then starts it again on
    /// the same port with the same host key.
    public func restart() throws {
        stop()
        var waited = 0
        while (process.isRunning || Self.canConnect(port)) && waited < 100 {
            usleep(50_000)
            waited += 1
        }
        process = try Self.launch(dir: dir, port: port)
    }

    public static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
    }

    public func url(_ path: String) -> String { "ssh://root@127.0.0.1:\(port)\(path)" }

    /// Connections that authenticated so far (each a key exchange and a login: what a pooled
    /// connection saves), from sshd's log.
    public var logins: Int {
        let log = (try? String(contentsOfFile: dir + "/sshd.log", encoding: .utf8)) ?? ""
        return log.components(separatedBy: "Accepted publickey").count - 1  // its lines end in \r\n
    }

    /// Accepts `publicKey` from now on (sshd reads authorized_keys at each connection): what a
    /// user does when adding a deploy key to the git host.
    public func authorize(_ publicKey: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/authorized_keys"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((publicKey + "\n").utf8))
    }

    /// Stops sshd and the sessions it serves (SIGKILL; not waiting: Foundation reaps the child).
    public func stop() {
        signalSessions(SIGKILL)
        kill(process.processIdentifier, SIGKILL)
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// A TCP listener that accepts connections and never answers (a hung remote).
public final class SilentServer {
    let fd: Int32
    public let port: Int

    public init() throws {
        (fd, port) = try loopbackListener()
    }

    deinit { close(fd) }
}

/// A TCP socket listening on 127.0.0.1 on a port of the kernel's choice, and that port.
public func loopbackListener() throws -> (fd: Int32, port: Int) {
    guard let listener = loopbackSocket(listening: true) else { throw FixtureError("cannot listen on 127.0.0.1") }
    return listener
}

extension UpstreamRepo {
    /// A `feature` branch one commit ahead, tagged `v1` (annotated) and `light` (lightweight),
    /// pushed, with HEAD pointing at it: what a ref listing must get right (peeled tags, HEAD's
    /// branch).
    public func addTaggedFeatureBranch() throws {
        try sh(["git", "checkout", "-q", "-b", "feature"], cwd: work)
        try "f\n".write(toFile: work + "/f.txt", atomically: true, encoding: .utf8)
        try sh(["git", "add", "f.txt"], cwd: work)
        try sh(["git", "commit", "-q", "-m", "feature"], cwd: work)
        try sh(["git", "tag", "-a", "v1", "-m", "release 1"], cwd: work)
        try sh(["git", "tag", "light"], cwd: work)
        try sh(["git", "push", "-q", "origin", "feature", "v1", "light"], cwd: work)
        try sh(["git", "--git-dir", bare, "symbolic-ref", "HEAD", "refs/heads/feature"])
    }
}
