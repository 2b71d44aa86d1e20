import Foundation
import GitSource
import GitTesting

/// Polls of a `git://` remote served by `git daemon` on 127.0.0.1: by `GitDaemonPoll` (what mirrors use
/// for `git://`) and through libgit2 (a git thread per poll, no socket timeout). CPU is this
/// process's, all threads; `git daemon` and the `upload-pack` it forks per poll are not included.
extension GitBench {
    func daemonBench(root: String) async throws {
        let daemon = try TestGitDaemon(root: root)
        defer { daemon.stop() }
        let clock = ContinuousClock()
        print("| no-op poll (ls-remote), git daemon on loopback (\(polls) polls) | p50 | p99 | CPU per poll |")
        print("|---|---:|---:|---:|")
        for direct in [true, false] {
            var options = GitMirror.Options(url: daemon.url("up.git"), directory: root + "/daemon-\(direct)")
            options.gitDaemonPollsDirect = direct
            let mirror = GitMirror(options)
            _ = try await mirror.remoteHeads()  // warm: the event loop or a git thread started
            var samples: [Duration] = []
            let cpu = cpuTime()
            for _ in 0..<polls { samples.append(try await clock.measure { _ = try await mirror.remoteHeads() }) }
            let perPoll = (cpuTime() - cpu) / polls
            let (p50, p99) = stats(samples)
            print("| \(direct ? "GitDaemonPoll (deadlines)" : "libgit2") | \(p50) | \(p99) | \(ms(perPoll)) |")
        }
        print("")
    }
}
