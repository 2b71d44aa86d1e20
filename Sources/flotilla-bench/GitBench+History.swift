import Foundation
import GitSource
import GitTesting

/// A mirror after many fetches: libgit2 keeps the pack each fetch brings, so without the folds of
/// `PackFolding` a busy repository's mirror collects one pack per commit it fetched. Times what a
/// sync does with the mirror (a fetch of one new commit, listing and reading the tree, moving the
/// sync tag) after a few fetches and after `--history` more, and what the folds cost.
extension GitBench {
    /// Over `git daemon` with `--git-daemon` (a fetch brings the new commit's objects); over
    /// file:// otherwise, where libgit2's local transport sends the whole tree with every fetch.
    func historyBench(root: String, url fileURL: String) async throws {
        let daemon = gitDaemon ? try TestGitDaemon(root: root) : nil
        defer { daemon?.stop() }
        let url = daemon?.url("up.git") ?? fileURL
        print("History over \(daemon == nil ? "file://" : "git daemon"), packs \(noPackFolding ? "never folded" : "folded"), sync tag pushed by \(libgit2Pushes || daemon == nil ? "libgit2" : "GitDaemonPush"):\n")
        let clock = ContinuousClock()
        var options = GitMirror.Options(url: url, directory: root + "/history-mirror")
        if noPackFolding { options.packFolding = nil }
        if libgit2Pushes { options.gitDaemonPollsDirect = false }
        let mirror = GitMirror(options)
        _ = try await mirror.fetch()
        var commit = 0
        var folds: [PackFold] = []
        /// One commit upstream (a changed file), fetched into the mirror: one more pack.
        func commitAndFetch() async throws -> (Duration, String) {
            commit += 1
            try shell("cd \(root)/work && echo 'n: \(commit)' > deploy/app0/history.yaml && git add -A && git commit -q -m c\(commit) && git push -q \(root)/up.git main")
            let start = clock.now
            let head = try await mirror.fetch()["main"]!
            if case .success(let fold) = mirror.takePackFold() { folds.append(fold) }
            return (clock.now - start, head)
        }
        func packs() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/history-mirror/mirror.git/objects/pack")) ?? []).filter { $0.hasSuffix(".pack") }.count
        }
        func measure(_ label: String, rounds: Int = 20) async throws {
            var fetches: [Duration] = [], reads: [Duration] = [], tags: [Duration] = [], tagCPU = Duration.zero
            for _ in 0..<rounds {
                let (fetch, head) = try await commitAndFetch()
                fetches.append(fetch)
                reads.append(try await clock.measure {
                    let files = try await mirror.files(at: head, paths: ["deploy"])
                    _ = try await mirror.blobs(files.map(\.blobID))
                })
                let before = cpuTime()
                tags.append(try await clock.measure { try await mirror.moveTag("flux-sync", to: head, message: "Sync pointer") })
                tagCPU += cpuTime() - before
            }
            let cpu = cpuTime()
            for _ in 0..<rounds { _ = try await mirror.files(at: mirror.fetch()["main"]!, paths: ["deploy"]) }
            let idleRound = (cpuTime() - cpu) / rounds
            print("| \(label) (\(packs()) packs) | \(stats(fetches).0) | \(stats(reads).0) | \(stats(tags).0) | \(ms(tagCPU / rounds)) | \(ms(idleRound)) |")
        }
        print("| mirror after N fetches of one commit | fetch of one new commit, p50 | list + read \(files) files, p50 | move the sync tag, p50 | CPU: move the sync tag | CPU: no-op fetch + tree listing |")
        print("|---|---:|---:|---:|---:|---:|")
        try await measure("few fetches")
        for _ in 0..<history { _ = try await commitAndFetch() }
        try await measure("after \(history) more")
        if !folds.isEmpty {
            let sizes = folds.map(\.objects).sorted()
            print("\nFolds of the mirror's packs (`PackFolding`, inside the fetches above): \(folds.count), \(ms(folds.reduce(.zero) { $0 + $1.duration })) in all; p50 \(stats(folds.map(\.duration)).0) (\(sizes[sizes.count / 2]) objects), the longest \(ms(folds.map(\.duration).max()!)) (\(sizes.last!) objects at most).")
        }
        print("")
    }
}
