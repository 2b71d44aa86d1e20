import CSupport
import Foundation
import GitSource
import GitTesting

/// Polls over SSH against a real sshd on 127.0.0.1 (ed25519 keys): the first poll of a pooled
/// connection (key exchange and authentication), the polls after it (an exec channel each), the
/// libgit2 poll (a handshake every time; still used with RSA or encrypted keys), and the memory of
/// open pooled connections. CPU is this process's, all threads; sshd's own is not included.
extension GitBench {
    func sshBench(root: String, url: String) async throws {
        let count = min(polls, 50)
        let key = DeployKey.generateEd25519(comment: "bench")
        let extra = (0..<sshConnections).map { i in DeployKey.generateEd25519(comment: "bench-\(i)") }
        let sshd = try TestSSHD(authorizedKeys: [key.publicKey] + extra.map(\.publicKey))
        defer { sshd.stop() }
        func mirror(_ key: DeployKey, pool: SSHConnections?, _ name: String) -> GitMirror {
            var options = GitMirror.Options(url: sshd.url(url), directory: root + "/" + name)
            options.credentials = .sshKey(privateKey: key.privateKeyOpenSSH)
            options.knownHosts = sshd.hostKeyLine
            options.sshConnections = pool
            return GitMirror(options)
        }
        let clock = ContinuousClock()

        let pool = SSHConnections()
        let pooled = mirror(key, pool: pool, "ssh-pooled")
        var cpu = cpuTime()
        let first = try await clock.measure { _ = try await pooled.remoteHeads() }
        let firstCPU = cpuTime() - cpu
        var samples: [Duration] = []
        cpu = cpuTime()
        for _ in 0..<sshPolls { samples.append(try await clock.measure { _ = try await pooled.remoteHeads() }) }
        let pooledCPU = (cpuTime() - cpu) / samples.count
        guard pool.handshakes == 1 else { throw FixtureError("the pooled polls made \(pool.handshakes) handshakes") }
        let (p50, p99) = stats(samples)

        let direct = mirror(key, pool: nil, "ssh-libgit2")
        var directSamples: [Duration] = []
        cpu = cpuTime()
        for _ in 0..<count { directSamples.append(try await clock.measure { _ = try await direct.remoteHeads() }) }
        let directCPU = (cpuTime() - cpu) / count
        let (d50, d99) = stats(directSamples)

        print("| no-op poll (ls-remote), ssh on loopback | p50 | p99 | CPU per poll |")
        print("|---|---:|---:|---:|")
        print("| pooled connection, first poll (handshake) | \(ms(first)) | – | \(ms(firstCPU)) |")
        print("| pooled connection, each poll after it (\(sshPolls) polls) | \(p50) | \(p99) | \(ms(pooledCPU)) |")
        print("| libgit2, a connection per poll (\(count) polls) | \(d50) | \(d99) | \(ms(directCPU)) |")
        print("")
        try await tagMoves(pooled: pooled, direct: direct, count: min(count, 20))
        try await sshFetches(root: root, pooled: pooled, direct: direct, count: min(count, 20))
        try await connectionMemory(extra, mirror: mirror)
    }

    /// The sync tag moved `count` times (a new tag object each time, as after every sync): on the
    /// pooled connection (an exec channel of `git-receive-pack`) and through libgit2 (a handshake
    /// per push). Each mirror fetched first, so it has the commit to tag.
    func tagMoves(pooled: GitMirror, direct: GitMirror, count: Int) async throws {
        let clock = ContinuousClock()
        print("| move the sync tag over ssh (\(count) moves) | p50 | p99 | CPU per move |")
        print("|---|---:|---:|---:|")
        for (label, mirror) in [("pooled connection", pooled), ("libgit2", direct)] {
            let head = try await mirror.fetch()["main"]!
            var samples: [Duration] = []
            let cpu = cpuTime()
            for i in 0..<count {
                samples.append(try await clock.measure { try await mirror.moveTag("flux-sync", to: head, message: "Sync pointer \(i)") })
            }
            let (p50, p99) = stats(samples)
            print("| \(label) | \(p50) | \(p99) | \(ms((cpuTime() - cpu) / count)) |")
        }
        print("")
    }

    /// A fetch of one new commit (a changed file), `count` times per mirror: on the pooled
    /// connection (`PooledSSHTransport`) and through libssh2 (a handshake per fetch). The commit
    /// is made and pushed upstream before each timed fetch.
    func sshFetches(root: String, pooled: GitMirror, direct: GitMirror, count: Int) async throws {
        let clock = ContinuousClock()
        print("| fetch of one new commit over ssh (\(count) fetches) | p50 | p99 | CPU per fetch |")
        print("|---|---:|---:|---:|")
        var commit = 0
        for (label, mirror) in [("pooled connection", pooled), ("libgit2 (libssh2)", direct)] {
            var samples: [Duration] = [], cpu = Duration.zero
            for _ in 0..<count {
                commit += 1
                try shell("cd \(root)/work && echo 'n: \(commit)' > deploy/app0/ssh.yaml && git add -A && git commit -q -m s\(commit) && git push -q \(root)/up.git main")
                let before = cpuTime()
                samples.append(try await clock.measure { _ = try await mirror.fetch() })
                cpu += cpuTime() - before
            }
            let (p50, p99) = stats(samples)
            print("| \(label) | \(p50) | \(p99) | \(ms(cpu / count)) |")
        }
        print("")
    }

    /// malloc bytes in use for `keys.count` open pooled connections (one per key).
    func connectionMemory(_ keys: [DeployKey], mirror: (DeployKey, SSHConnections?, String) -> GitMirror) async throws {
        guard !keys.isEmpty else { return }
        let pool = SSHConnections()
        let mirrors = keys.enumerated().map { i, key in mirror(key, pool, "ssh-memory-\(i)") }
        flotilla_malloc_trim()
        var before = 0, after = 0, fromSystem = 0
        flotilla_malloc_stats(&before, &fromSystem)
        let cpu = cpuTime()
        // Eight at a time: sshd drops unauthenticated connections beyond MaxStartups (10).
        for batch in stride(from: 0, to: mirrors.count, by: 8) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for m in mirrors[batch..<min(batch + 8, mirrors.count)] { group.addTask { _ = try await m.remoteHeads() } }
                try await group.waitForAll()
            }
        }
        let handshakeCPU = (cpuTime() - cpu) / keys.count
        flotilla_malloc_trim()
        flotilla_malloc_stats(&after, &fromSystem)
        guard pool.count == keys.count else { throw FixtureError("\(pool.count) connections open, not \(keys.count)") }
        let perConnection = Double(after - before) / Double(keys.count) / 1024
        print(String(format: "Pooled SSH connections: %d opened (one per key, eight at a time), %@ of CPU each (handshake and first poll); with all open, malloc in use %+.0f KiB in all, %.1f KiB per connection (sshd's side not included).",
                     keys.count, ms(handshakeCPU), Double(after - before) / 1024, perConnection))
        pool.closeAll()
    }
}
