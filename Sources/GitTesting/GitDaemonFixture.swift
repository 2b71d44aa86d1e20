import Foundation

/// `git daemon` on 127.0.0.1 serving every repository under `root` (`git://127.0.0.1:<port>/<path
/// under root>`), pushes allowed. `informativeErrors` makes it say why it refuses a repository
/// (an `ERR` line) instead of hanging up without a word. Its log (`--verbose`, unless `logging` is
/// off) says which service every connection asked for (`requests(_:)`).
///
/// `git daemon` listens with a backlog of 5 (hard-coded): under load (a benchmark's storm of
/// fetches, the machine busy) the kernel drops the connections past it, and each dropped SYN
/// costs its client a 1 s retransmit, then 3 s, then 7 s, a git host's limit no real one has.
/// Where systemd's `systemd-socket-activate` is installed it listens instead (backlog
/// `SOMAXCONN`) and runs `git-daemon --inetd` for each connection: the same fork and exec per
/// connection as `git daemon`'s own (it re-executes itself with `--serve` for each).
public final class TestGitDaemon {
    public let root: String
    public let port: Int
    let process: Process
    let log: String

    public init(root: String, informativeErrors: Bool = false, logging: Bool = true) throws {
        self.root = root
        port = try freePort()
        log = tempDir("git-daemon") + "/daemon.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        let serving = ["--export-all", "--enable=receive-pack", "--base-path=\(root)"] + (informativeErrors ? ["--informative-errors"] : [])
            + (logging ? ["--verbose"] : [])
        // git-daemon itself: `git daemon` forks it and waits, so killing `git` would leave it running.
        let direct = "/usr/lib/git-core/git-daemon", activate = "/usr/bin/systemd-socket-activate"
        let fm = FileManager.default
        if fm.isExecutableFile(atPath: direct), fm.isExecutableFile(atPath: activate) {
            process.executableURL = URL(fileURLWithPath: activate)
            process.arguments = ["--listen=127.0.0.1:\(port)", "--accept", "--inetd", direct, "--inetd", "--log-destination=stderr"] + serving + [root]
        } else {
            let run = fm.isExecutableFile(atPath: direct) ? (direct, [String]()) : ("/usr/bin/git", ["daemon"])
            process.executableURL = URL(fileURLWithPath: run.0)
            process.arguments = run.1 + ["--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--max-connections=0"] + serving + [root]
        }
        process.standardError = logging ? FileHandle(forWritingAtPath: log) : FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if TestSSHD.canConnect(port) { return }
            usleep(50_000)
        }
        stop()
        throw FixtureError("git daemon did not start on port \(port)")
    }

    /// The URL of `path`, a bare repository under `root` (absolute, or relative to `root`).
    public func url(_ path: String) -> String {
        let relative = path.hasPrefix(root + "/") ? String(path.dropFirst(root.count)) : "/" + path
        return "git://127.0.0.1:\(port)\(relative)"
    }

    /// Connections that asked for `service` (`upload-pack`: a poll or a fetch; `receive-pack`: a push).
    public func requests(_ service: String) -> Int {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains("Request \(service) for") }.count
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
    }

    deinit { stop() }
}
