import Foundation

/// `git daemon` on 127.0.0.1 serving every repository under `root` (`git://127.0.0.1:<port>/<path
/// under root>`), pushes allowed. `informativeErrors` makes it say why it refuses a repository
/// (an `ERR` line) instead of hanging up without a word.
public final class TestGitDaemon {
    public let root: String
    public let port: Int
    let process: Process

    public init(root: String, informativeErrors: Bool = false) throws {
        self.root = root
        port = try freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["daemon", "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--export-all", "--enable=receive-pack",
                             "--base-path=\(root)"] + (informativeErrors ? ["--informative-errors"] : []) + [root]
        process.standardError = FileHandle.nullDevice
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

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
    }

    deinit { stop() }
}
