import Foundation
@testable import GitSource
import GitTesting
import Testing

@Suite("PackFolding: which packs a mirror folds")
struct PackFoldingTests {
    func packs(_ sizes: [Int]) -> [PackFolding.Pack] {
        sizes.enumerated().map { PackFolding.Pack(name: "pack-\($0.offset)", bytes: $0.element) }
    }

    @Test("no fold at or under the limits")
    func notDue() {
        let policy = PackFolding()
        #expect(policy.plan(packs: packs(Array(repeating: 10, count: 16)), looseInSample: 2) == nil)
        #expect(policy.due(packCount: 17, looseInSample: 0))
        #expect(policy.due(packCount: 1, looseInSample: 3), "3 × 256 loose objects is over 512")
    }

    @Test("a clone's pack stays; the small packs of later fetches are folded")
    func smallFetchesBesideTheClone() {
        let plan = PackFolding().plan(packs: packs([100_000] + Array(repeating: 2_000, count: 16)), looseInSample: 0)
        #expect(plan?.packs.count == 16)
        #expect(plan?.packs.contains("pack-0") == false)
    }

    @Test("packs already in a progression of two stay; only what is below them folds")
    func keepsTheProgression() {
        // 1,000, 300 and 50 each at least twice the next smaller; fourteen of 1 below them.
        let plan = PackFolding().plan(packs: packs([1_000, 300, 50] + Array(repeating: 1, count: 14)), looseInSample: 0)
        #expect(Set(plan?.packs ?? []) == Set((3..<17).map { "pack-\($0)" }))
    }

    @Test("a kept pack smaller than twice the fold joins it")
    func absorbs() {
        // Fifteen of 5 fold (75): 20 < 150 joins (95), then 100 < 190 joins too.
        let plan = PackFolding().plan(packs: packs([100, 20] + Array(repeating: 5, count: 15)), looseInSample: 0)
        #expect(plan?.packs.count == 17)
    }

    @Test("loose objects alone make a fold, with the smallest pack")
    func looseOnly() {
        let plan = PackFolding().plan(packs: packs([1_000, 10, 1]), looseInSample: 3)
        #expect(plan?.packs == ["pack-2"])
    }

    @Test("nothing to gain: one pack to fold and no loose object seen")
    func nothingToGain() {
        var policy = PackFolding()
        policy.maxPacks = 2
        #expect(policy.plan(packs: packs([1_000, 100, 10]), looseInSample: 0) == nil)
        #expect(policy.plan(packs: packs([10, 10, 10]), looseInSample: 0)?.packs.count == 3, "equal sizes all fold")
    }
}

@Suite("Mirror pack folds over file://", .serialized)
struct MirrorPackFoldTests {
    func mirror(_ up: UpstreamRepo, maxPacks: Int) -> GitMirror {
        var o = GitMirror.Options(url: up.url, directory: tempDir("mirror"))
        var policy = PackFolding()
        policy.maxPacks = maxPacks
        o.packFolding = policy
        return GitMirror(o)
    }

    func packFiles(_ m: GitMirror) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: m.path + "/objects/pack")) ?? []).filter { $0.hasSuffix(".pack") }
    }

    func looseObjects(_ m: GitMirror) -> [String] {
        let objects = m.path + "/objects"
        let fanout = ((try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? []).filter { $0.count == 2 }
        return fanout.flatMap { d in ((try? FileManager.default.contentsOfDirectory(atPath: objects + "/" + d)) ?? []).map { d + $0 } }
    }

    @Test("more packs than the limit: the next fetch folds them and the loose tag objects into one; every commit, file and tag reads as before")
    func foldAfterFetches() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up, maxPacks: 4)
        try await m.fetch()
        var commits: [(id: String, n: Int)] = []
        var folds: [PackFold] = []
        var automated = ""
        for n in 1...6 {
            let id = try up.commit(["deploy/n.yaml": "n: \(n)\n"], message: "c\(n)")
            let looseBefore = looseObjects(m)
            #expect(try await m.fetch()["main"] == id)
            switch m.takePackFold() {
            case .success(let fold):
                folds.append(fold)
                #expect(fold.looseFolded == looseBefore.count && looseObjects(m).isEmpty, "every loose object packed and removed: \(looseObjects(m))")
                // The tag object the last move wrote was loose until now.
                #expect(try sh(["git", "--git-dir", m.path, "cat-file", "-p", "refs/tags/flux-sync"]).contains("Sync pointer"))
            case .failure(let error): Issue.record("fold failed: \(error)")
            case nil: break
            }
            try await m.moveTag("flux-sync", to: id, message: "Sync pointer")
            commits.append((id, n))
            if n == 1 {
                // A commit the mirror makes (as image automation does): its objects are loose here
                // and no later fetch brings them again.
                let pushed = try await m.commitAndPush(branch: "main", message: "automation") { _ in ["deploy/auto.yaml": Array("auto: 1\n".utf8)] }
                try sh(["git", "pull", "-q", "origin", "main"], cwd: up.work)
                let auto = try await m.files(at: try #require(pushed?.id), paths: ["deploy"]).first { $0.path == "deploy/auto.yaml" }
                automated = try #require(auto?.blobID)
            }
        }
        let fold = try #require(folds.first, "a fold happened")
        #expect(folds.count == 1, "one fold in six fetches at a limit of 4: \(folds)")
        // The clone's pack and four fetches': five, over the limit of 4 at the fourth fetch.
        #expect(fold.packsBefore == 5 && fold.packsFolded >= 4, "\(fold)")
        #expect(fold.looseFolded == 7, "three sync tag objects, and the automation commit's commit, two trees and blob: \(fold)")
        #expect(fold.bytesAfter < fold.bytesBefore, "\(fold)")
        #expect(packFiles(m).count <= 4, "the fold's pack and the two fetched after it: \(packFiles(m))")
        #expect(m.takePackFold() == nil, "taken once")

        for (id, n) in commits {
            let files = try await m.files(at: id, paths: ["deploy"])
            let blob = try #require(files.first { $0.path == "deploy/n.yaml" })
            #expect(try await m.blobs([blob.blobID])[blob.blobID] == Array("n: \(n)\n".utf8))
        }
        #expect(try await m.blobs([automated])[automated] == Array("auto: 1\n".utf8), "the automation commit's blob, loose before the fold")
        let fsck = try sh(["git", "--git-dir", m.path, "fsck", "--full", "--strict", "--no-dangling"])
        #expect(!fsck.contains("missing"), "\(fsck)")
        #expect(try sh(["git", "--git-dir", m.path, "cat-file", "-t", "refs/tags/flux-sync"]) == "tag")
        #expect(try sh(["git", "--git-dir", m.path, "rev-parse", "refs/tags/flux-sync^{commit}"]) == commits.last?.id)
        #expect(try sh(["git", "--git-dir", m.path, "rev-list", "--objects", "--all"]).split(separator: "\n").count
                == (try sh(["git", "--git-dir", up.bare, "rev-list", "--objects", "--all"])).split(separator: "\n").count)
    }

    @Test("a fold that fails is reported; the fetch stands and nothing is removed")
    func failedFold() async throws {
        let up = try UpstreamRepo()
        let m = mirror(up, maxPacks: 1)
        try await m.fetch()
        // A pack without its index: the fold cannot read it.
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: m.path + "/objects/pack/pack-0000000000000000000000000000000000000000.pack"))
        let before = Set(packFiles(m))
        let next = try up.commit(["deploy/y.yaml": "y: 1\n"], message: "y")
        #expect(try await m.fetch()["main"] == next)
        guard case .failure(let error) = m.takePackFold() else { Issue.record("the fold did not fail"); return }
        #expect(error.message.contains("pack-0000000000000000000000000000000000000000"), "names the pack: \(error)")
        #expect(before.isSubset(of: Set(packFiles(m))) && packFiles(m).count == before.count + 1)
        #expect(try await m.files(at: next).contains { $0.path == "deploy/y.yaml" })
    }
}
