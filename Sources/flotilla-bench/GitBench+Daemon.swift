import Foundation
import GitSource
import GitTesting

/// Polls of a `git://` remote served by `git daemon` on 127.0.0.1: by `GitDaemonPoll` (what mirrors use
/// for `git://`) and through libgit2 (a git thread per poll). CPU is this
/// process's, all threads; `git daemon` and the `upload-pack` it forks per poll are not included.
extension GitBench {
    func daemonBench(root: String) async throws {
        let daemon = try TestGitDaemon(root: root)
        defer { daemon.stop() }
        print("| no-op poll (ls-remote), git daemon on loopback (\(polls) polls) | p50 | p99 | CPU per poll |")
        print("|---|---:|---:|---:|")
        for direct in [true, false] {
            var options = GitMirror.Options(url: daemon.url("up.git"), directory: root + "/daemon-\(direct)")
            options.gitDaemonPollsDirect = direct
            print(try await pollRow(direct ? "GitDaemonPoll (deadlines)" : "libgit2", GitMirror(options)))
        }
        print("")
    }
}
