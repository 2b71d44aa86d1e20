import Foundation
import GitSource

/// A mirror after many fetches: libgit2 keeps the pack each fetch brings (nothing repacks a
/// mirror), so a busy repository's mirror collects one pack per commit it fetched. Times what a
/// sync does with the mirror (a fetch of one new commit, listing and reading the tree, moving the
/// sync tag) with few packs and with `--history` of them.
extension GitBench {
    func historyBench(root: String, url: String) async throws {
        let clock = ContinuousClock()
        let mirror = GitMirror(GitMirror.Options(url: url, directory: root + "/history-mirror"))
        _ = try await mirror.fetch()
        var commit = 0
        /// One commit upstream (a changed file), fetched into the mirror: one more pack.
        func commitAndFetch() async throws -> (Duration, String) {
            commit += 1
            try shell("cd \(root)/work && echo 'n: \(commit)' > deploy/app0/history.yaml && git add -A && git commit -q -m c\(commit) && git push -q \(root)/up.git main")
            let start = clock.now
            let head = try await mirror.fetch()["main"]!
            return (clock.now - start, head)
        }
        func packs() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/history-mirror/mirror.git/objects/pack")) ?? []).filter { $0.hasSuffix(".pack") }.count
        }
        func measure(_ label: String, rounds: Int = 20) async throws {
            var fetches: [Duration] = [], reads: [Duration] = [], tags: [Duration] = []
            for _ in 0..<rounds {
                let (fetch, head) = try await commitAndFetch()
                fetches.append(fetch)
                reads.append(try await clock.measure {
                    let files = try await mirror.files(at: head, paths: ["deploy"])
                    _ = try await mirror.blobs(files.map(\.blobID))
                })
                tags.append(try await clock.measure { try await mirror.moveTag("flux-sync", to: head, message: "Sync pointer") })
            }
            let cpu = cpuTime()
            for _ in 0..<rounds { _ = try await mirror.files(at: mirror.fetch()["main"]!, paths: ["deploy"]) }
            let idleRound = (cpuTime() - cpu) / rounds
            print("| \(label) (\(packs()) packs) | \(stats(fetches).0) | \(stats(reads).0) | \(stats(tags).0) | \(ms(idleRound)) |")
        }
        print("| mirror after N fetches of one commit | fetch of one new commit, p50 | list + read \(files) files, p50 | move the sync tag, p50 | CPU: no-op fetch + tree listing |")
        print("|---|---:|---:|---:|---:|")
        try await measure("few fetches")
        for _ in 0..<history { _ = try await commitAndFetch() }
        try await measure("after \(history) more")
        print("")
    }
}
