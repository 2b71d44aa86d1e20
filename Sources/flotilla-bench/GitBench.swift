import ArgumentParser
import Foundation
import GitSource
import GitTesting
import KubeModel
import Primitives

/// Git operations through libgit2: the no-op poll, a no-op fetch, and clone + reading every file of
/// a 1,000-file repository. With `--ssh`, polls also run against a real sshd on loopback
/// (`GitBench+SSH.swift`); with `--git-daemon`, against `git daemon` (`GitBench+Daemon.swift`).
struct GitBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "git", abstract: "libgit2 poll, fetch and clone figures.")

    @Option(help: "Files in the test repository.") var files = 1000
    @Option(help: "Polls to time (median and p99 are reported).") var polls = 200
    @Flag(help: "Also poll over SSH (starts sshd on 127.0.0.1).") var ssh = false
    @Flag(help: "Also poll over git:// (starts git daemon on 127.0.0.1), by GitDaemonPoll and through libgit2.") var gitDaemon = false
    @Flag(help: "Also poll over smart HTTP (starts git http-backend behind basic auth on 127.0.0.1), over a kept connection and through libgit2.") var http = false
    @Option(help: "With --ssh: polls over a pooled connection to time (after the first).") var sshPolls = 200
    @Option(help: "With --ssh: pooled connections opened to measure their memory.") var sshConnections = 100
    @Option(help: "Fetches of one commit each to make before timing a mirror again (one pack each; 0: skip).") var history = 0
    @Flag(help: "With --history: never fold the mirror's packs (a mirror as it was before PackFolding).") var noPackFolding = false
    @Flag(help: "With --history --git-daemon: push the sync tag through libgit2, not GitDaemonPush (the reference).") var libgit2Pushes = false

    /// Runs `command` with `sh -c` (posix_spawn: Foundation's `Process.waitUntilExit` never saw
    /// one of these exit in the SSH bench, with sshd's sessions beside it).
    func shell(_ command: String) throws {
        let environment = ["GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b",
                           "PATH": "/usr/bin:/bin:/usr/sbin"]
        let result = try Subprocess.runSync(Subprocess.shellArguments(command, in: "/"), environment: environment, limits: .init(timeout: .seconds(60)))
        guard result.outcome == .exited(0) else { throw ValidationError("failed (\(result.outcome)): \(command): \(result.stderrTail)") }
    }

    /// One table row: `polls` no-op polls of `mirror` after a warm-up (the connection or a git
    /// thread started), their p50 and p99 and this process's CPU per poll.
    func pollRow(_ label: String, _ mirror: GitMirror) async throws -> String {
        let clock = ContinuousClock()
        _ = try await mirror.remoteHeads()
        var samples: [Duration] = []
        let cpu = cpuTime()
        for _ in 0..<polls { samples.append(try await clock.measure { _ = try await mirror.remoteHeads() }) }
        let perPoll = (cpuTime() - cpu) / polls
        let (p50, p99) = stats(samples)
        return "| \(label) | \(p50) | \(p99) | \(ms(perPoll)) |"
    }

    func stats(_ samples: [Duration]) -> (String, String) {
        let s = samples.sorted()
        func ms(_ d: Duration) -> String { String(format: "%.2f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15) }
        return (ms(s[s.count / 2]), ms(s[min(s.count - 1, Int(Double(s.count) * 0.99))]))
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flotilla-gitbench-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: root + "/work/deploy", withIntermediateDirectories: true)
        for i in 0..<files {
            let dir = root + "/work/deploy/app\(i / 50)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try SampleManifests.make(i).jsonString().write(toFile: dir + "/m\(i).yaml", atomically: false, encoding: .utf8)
        }
        try shell("cd \(root)/work && git init -q -b main && git add . && git commit -q -m init && git clone -q --bare . \(root)/up.git")
        let url = "file://\(root)/up.git"
        let clock = ContinuousClock()
        let mirror = GitMirror(GitMirror.Options(url: url, directory: root + "/mirror"))
        let t0 = clock.now
        let head = try await mirror.fetch()["main"]!
        let cloneTime = clock.now - t0
        let t1 = clock.now
        let listed = try await mirror.files(at: head, paths: ["deploy"])
        let blobs = try await mirror.blobs(listed.map(\.blobID))
        let readTime = clock.now - t1
        var pollSamples: [Duration] = []
        let pollCPU0 = cpuTime()
        for _ in 0..<polls { pollSamples.append(try await clock.measure { _ = try await mirror.remoteHeads() }) }
        let pollCPU = (cpuTime() - pollCPU0) / polls
        var fetchSamples: [Duration] = []
        for _ in 0..<min(polls, 50) { fetchSamples.append(try await clock.measure { _ = try await mirror.fetch() }) }
        let (pollP50, pollP99) = stats(pollSamples)
        let (fetchP50, fetchP99) = stats(fetchSamples)
        let bytes = blobs.values.reduce(0) { $0 + $1.count }
        func ms(_ d: Duration) -> String { String(format: "%.0f ms", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15) }
        print("| operation | p50 | p99 |")
        print("|---|---:|---:|")
        print("| no-op poll (ls-remote), file:// | \(pollP50) | \(pollP99) |")
        print("| no-op fetch, file:// | \(fetchP50) | \(fetchP99) |")
        print("\nCPU per no-op poll (file://, all threads): \(pollCPU)\n")
        print("")
        if ssh { try await sshBench(root: root, url: "\(root)/up.git") }
        if gitDaemon { try await daemonBench(root: root) }
        if http { try await httpBench(root: root) }
        if history > 0 { try await historyBench(root: root, url: url) }
        print("Clone (fetch into an empty mirror) of \(files) files: \(ms(cloneTime)); listing the tree and reading all \(blobs.count) blobs (\(bytes / 1024) KiB) from the object database: \(ms(readTime)).")
        try? FileManager.default.removeItem(atPath: root)
    }
}
