import CLibGit2
import Foundation

/// What a fold of a mirror's packs did (see `PackFolding`).
public struct PackFold: Sendable, Equatable {
    public var packsBefore: Int
    public var packsFolded: Int
    public var looseFolded: Int
    /// Objects written to the new pack.
    public var objects: Int
    public var bytesBefore: Int
    public var bytesAfter: Int
    public var duration: Duration
}

/// A mirror's object directory: counting its packs and loose objects, and folding them as
/// `PackFolding` decides. Runs on a git thread with the mirror's gate held, so no other operation
/// of this mirror reads the packs while they are replaced.
struct MirrorPacks {
    let objects: String
    var packDirectory: String { objects + "/pack" }

    init(repositoryPath: String) { objects = repositoryPath + "/objects" }

    /// Pack names (`pack-<hash>`, no extension) and the loose objects in git's sample fan-out
    /// directory: two directory reads, no stat.
    func census() -> (packs: [String], looseInSample: Int) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: packDirectory)) ?? []
        let packs = files.filter { $0.hasSuffix(".pack") }.map { String($0.dropLast(".pack".count)) }
        let loose = (try? FileManager.default.contentsOfDirectory(atPath: objects + "/17"))?.count ?? 0
        return (packs, loose)
    }

    func sizes(_ names: [String]) -> [PackFolding.Pack] {
        names.map { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(packDirectory)/\(name).pack")
            return PackFolding.Pack(name: name, bytes: (attributes?[.size] as? Int) ?? 0)
        }
    }

    /// Whether `policy` wants a fold (what every fetch asks; two directory reads).
    func due(_ policy: PackFolding) -> Bool {
        let (names, looseInSample) = census()
        return policy.due(packCount: names.count, looseInSample: looseInSample)
    }

    /// Folds when `policy` says the mirror is due; nil when it is not.
    func foldIfDue(_ repo: Repository, policy: PackFolding) throws(GitError) -> PackFold? {
        let (names, looseInSample) = census()
        guard policy.due(packCount: names.count, looseInSample: looseInSample) else { return nil }
        let packs = sizes(names)
        guard let plan = policy.plan(packs: packs, looseInSample: looseInSample) else { return nil }
        return try fold(repo, plan: plan, packs: packs)
    }

    /// Writes every object of `plan`'s packs and every loose object into one new pack, then removes
    /// what it replaced. The new pack (with its index) is in place before anything is removed, so an
    /// interruption leaves objects twice, never missing.
    func fold(_ repo: Repository, plan: PackFolding.Plan, packs: [PackFolding.Pack]) throws(GitError) -> PackFold {
        let started = ContinuousClock.now
        // An object both packed and loose is added twice: the pack builder keeps one.
        let loose = try collect(packs: [], loose: true)
        let ids = try collect(packs: plan.packs, loose: false) + loose
        let total = packs.reduce(0) { $0 + $1.bytes }
        guard !ids.isEmpty else {
            return PackFold(packsBefore: packs.count, packsFolded: 0, looseFolded: 0, objects: 0, bytesBefore: total, bytesAfter: total, duration: ContinuousClock.now - started)
        }
        var builder: OpaquePointer?
        try check(git_packbuilder_new(&builder, repo.pointer), "fold the mirror's packs")
        defer { git_packbuilder_free(builder) }
        _ = git_packbuilder_set_threads(builder, 1)
        for var id in ids {
            try check(git_packbuilder_insert(builder, &id, nil), "fold the mirror's packs: add \(id.hex)")
        }
        try check(git_packbuilder_write(builder, packDirectory, 0, nil, nil), "fold the mirror's packs: write")
        let written = git_packbuilder_name(builder).map { String(cString: $0) }.map { "pack-\($0)" }
        let fm = FileManager.default
        for name in plan.packs where name != written {
            // The index first: a pack without one is ignored, an index without its pack is an error.
            try? fm.removeItem(atPath: "\(packDirectory)/\(name).idx")
            try? fm.removeItem(atPath: "\(packDirectory)/\(name).pack")
        }
        for id in loose {
            let hex = id.hex
            try? fm.removeItem(atPath: "\(objects)/\(hex.prefix(2))/\(hex.dropFirst(2))")
        }
        let foldedBytes = packs.filter { plan.packs.contains($0.name) }.reduce(0) { $0 + $1.bytes }
        let newBytes = written.flatMap { (try? fm.attributesOfItem(atPath: "\(packDirectory)/\($0).pack"))?[.size] as? Int } ?? 0
        return PackFold(packsBefore: packs.count, packsFolded: plan.packs.count, looseFolded: loose.count,
                        objects: git_packbuilder_object_count(builder), bytesBefore: total, bytesAfter: total - foldedBytes + newBytes,
                        duration: ContinuousClock.now - started)
    }

    /// Objects of an object database made of only these packs (or only the loose objects).
    private func collect(packs: [String], loose: Bool) throws(GitError) -> [git_oid] {
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "fold the mirror's packs: open")
        defer { git_odb_free(odb) }
        for name in packs {
            var backend: UnsafeMutablePointer<git_odb_backend>?
            try check(git_odb_backend_one_pack(&backend, "\(packDirectory)/\(name).idx"), "fold the mirror's packs: read \(name)")
            try check(git_odb_add_backend(odb, backend, 1), "fold the mirror's packs: read \(name)")
        }
        if loose {
            var backend: UnsafeMutablePointer<git_odb_backend>?
            try check(git_odb_backend_loose(&backend, objects, -1, 0, 0, 0), "fold the mirror's loose objects")
            try check(git_odb_add_backend(odb, backend, 1), "fold the mirror's loose objects")
        }
        final class Box { var ids: [git_oid] = [] }
        let box = Box()
        let code = withExtendedLifetime(box) {
            git_odb_foreach(odb, { id, payload in
                Unmanaged<Box>.fromOpaque(payload!).takeUnretainedValue().ids.append(id!.pointee)
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        try check(code, "fold the mirror's packs: list objects")
        return box.ids
    }
}
