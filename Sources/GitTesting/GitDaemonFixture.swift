import Foundation

/// `git daemon` on 127.0.0.1 serving every repository under `root` (`git://127.0.0.1:<port>/<path
/// under root>`), pushes allowed. `informativeErrors` makes it say why it refuses a repository
/// (an `ERR` line) instead of hanging up without a word. Its log (`--verbose`) says which service
/// every connection asked for (`requests(_:)`).
public final class TestGitDaemon {
    public let root: String
    public let port: Int
    let process: Process
    let log: String

    public init(root: String, informativeErrors: Bool = false) throws {
        self.root = root
        port = try freePort()
        log = tempDir("git-daemon") + "/daemon.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        // git-daemon itself: `git daemon` forks it and waits, so killing `git` would leave it running.
        let direct = "/usr/lib/git-core/git-daemon"
        let run = FileManager.default.isExecutableFile(atPath: direct) ? (direct, [String]()) : ("/usr/bin/git", ["daemon"])
        process.executableURL = URL(fileURLWithPath: run.0)
        process.arguments = run.1 + ["--verbose", "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--export-all", "--enable=receive-pack",
                             "--base-path=\(root)"] + (informativeErrors ? ["--informative-errors"] : []) + [root]
        process.standardError = FileHandle(forWritingAtPath: log)
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
