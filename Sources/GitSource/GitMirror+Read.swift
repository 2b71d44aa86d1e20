import CLibGit2
import Foundation
import Primitives
import Synchronization

/// The mirror's read side: local branches, trees and files at a commit, blobs, the paths a range
/// of commits changed, and the commits themselves. Each runs as one operation on a git thread.
extension GitMirror {
    /// The commit a local branch points at (after a fetch), if any.
    public func revision(branch: String) async throws(GitError) -> String? {
        if let known = localBranches.withLock({ $0 }) { return known[branch] }
        let path = path
        return try await run("read branch") { _ throws(GitError) in
            try Repository.openOrCreate(path).reference("refs/heads/\(branch)")?.hex
        }
    }

    /// Every file under `paths` (the root when empty) at a commit. A path that does not exist, is
    /// not a directory, or escapes the repository is an error. Symlinks and submodules are skipped.
    public func files(at commit: String, paths: [String] = []) async throws(GitError) -> [GitFile] {
        let path = path
        return try await run("read tree") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            guard let id = git_oid(hex: commit) else { throw GitError(.invalid, "not a commit id: \(commit)") }
            let root = try repo.commitTree(id)
            var out: [GitFile] = []
            for raw in paths.isEmpty ? [""] : paths {
                let p = try Self.normalise(raw)
                let tree: Tree
                if p.isEmpty {
                    tree = root
                } else {
                    guard let entry = root.entry(path: p) else { throw GitError(.notFound, "path \(raw) does not exist at \(commit.prefix(7))") }
                    guard entry.type == GIT_OBJECT_TREE else { throw GitError(.invalid, "path \(raw) is not a directory at \(commit.prefix(7))") }
                    tree = try repo.tree(entry.id)
                }
                try Self.walk(repo, tree, prefix: p, into: &out)
            }
            var seen = Set<String>()
            return out.filter { seen.insert($0.path).inserted }
        }
    }

    /// A path from the repository root without `.`, empty components or `..` (one that would leave
    /// the repository is an error); "" is the root.
    public static func normalise(_ path: String) throws(GitError) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/") where component != "." && !component.isEmpty {
            if component == ".." {
                guard !parts.isEmpty else { throw GitError(.invalid, "path \(path) escapes the repository") }
                parts.removeLast()
            } else {
                parts.append(component)
            }
        }
        return parts.joined(separator: "/")
    }

    static func walk(_ repo: Repository, _ tree: Tree, prefix: String, into out: inout [GitFile]) throws(GitError) {
        for e in tree.entries {
            let p = prefix.isEmpty ? e.name : "\(prefix)/\(e.name)"
            if e.type == GIT_OBJECT_TREE {
                try walk(repo, try repo.tree(e.id), prefix: p, into: &out)
            } else if e.type == GIT_OBJECT_BLOB && e.mode != GIT_FILEMODE_LINK {
                out.append(GitFile(path: p, blobID: e.id.hex, executable: e.mode == GIT_FILEMODE_BLOB_EXECUTABLE))
            }
        }
    }

    /// The contents of blobs, by id.
    public func blobs(_ ids: [String]) async throws(GitError) -> [String: [UInt8]] {
        try await blobs(ids, maxSize: .max).contents
    }

    /// The contents of blobs of at most `maxSize` bytes; the larger ones are not read, only
    /// their sizes returned (a hostile gigabyte file costs a header read, not a gigabyte).
    public func blobs(_ ids: [String], maxSize: Int) async throws(GitError) -> (contents: [String: [UInt8]], oversized: [String: Int]) {
        let path = path
        return try await run("read blobs") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            var out: [String: [UInt8]] = [:]
            var oversized: [String: Int] = [:]
            for id in ids {
                guard let oid = git_oid(hex: id) else { throw GitError(.invalid, "not a blob id: \(id)") }
                if maxSize < .max {
                    let size = try repo.blobSize(oid)
                    if size > maxSize {
                        oversized[id] = size
                        continue
                    }
                }
                out[id] = try repo.blob(oid)
            }
            return (out, oversized)
        }
    }

    /// Paths changed between two commits (`from` nil: everything in `to`), limited to `paths`.
    public func changedPaths(from: String?, to: String, paths: [String] = []) async throws(GitError) -> [String] {
        let path = path
        return try await run("diff") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            return try Self.diff(repo, from: from, to: to, paths: paths)
        }
    }

    static func diff(_ repo: Repository, from: String?, to: String, paths: [String]) throws(GitError) -> [String] {
        guard let toID = git_oid(hex: to) else { throw GitError(.invalid, "not a commit id: \(to)") }
        let newTree = try repo.commitTree(toID)
        let oldTree: Tree? = try from.flatMap { f throws(GitError) in
            guard let id = git_oid(hex: f) else { throw GitError(.invalid, "not a commit id: \(f)") }
            return try repo.commitTree(id)
        }
        var opts = git_diff_options()
        git_diff_options_init(&opts, UInt32(GIT_DIFF_OPTIONS_VERSION))
        let specs = try paths.map { p throws(GitError) in try normalise(p) }.filter { !$0.isEmpty }
        var diff: OpaquePointer?
        let code = withStringArray(specs) { array in
            opts.pathspec = array
            return git_diff_tree_to_tree(&diff, repo.pointer, oldTree?.pointer, newTree.pointer, &opts)
        }
        try check(code, "diff \(from?.prefix(7) ?? "nothing")..\(to.prefix(7))")
        defer { git_diff_free(diff) }
        var out: [String] = []
        for i in 0..<git_diff_num_deltas(diff) {
            guard let delta = git_diff_get_delta(diff, i)?.pointee else { continue }
            if let p = delta.new_file.path { out.append(String(cString: p)) }
            if let p = delta.old_file.path, out.last != String(cString: p) { out.append(String(cString: p)) }
        }
        return Array(Set(out)).sorted()
    }

    /// One commit's subject and author; nil when the mirror does not have it.
    public func commit(_ id: String) async throws(GitError) -> GitCommit? {
        let path = path
        return try await run("read a commit") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            guard var oid = git_oid(hex: id) else { throw GitError(.invalid, "not a commit id: \(id)") }
            var commit: OpaquePointer?
            guard git_commit_lookup(&commit, repo.pointer, &oid) == 0 else { return nil }
            defer { git_commit_free(commit) }
            return GitCommit(id: id, summary: git_commit_summary(commit).map { String(cString: $0) } ?? "",
                             author: git_commit_author(commit).map { String(cString: $0.pointee.name) } ?? "")
        }
    }

    /// Commits reachable from `to` but not from `from` that touch `paths`, newest first.
    public func commits(from: String?, to: String, paths: [String] = []) async throws(GitError) -> [GitCommit] {
        let path = path
        return try await run("walk history") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            var walk: OpaquePointer?
            try check(git_revwalk_new(&walk, repo.pointer), "walk history")
            defer { git_revwalk_free(walk) }
            git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue)
            guard var toID = git_oid(hex: to) else { throw GitError(.invalid, "not a commit id: \(to)") }
            try check(git_revwalk_push(walk, &toID), "walk from \(to.prefix(7))")
            if let from, var fromID = git_oid(hex: from) { try check(git_revwalk_hide(walk, &fromID), "walk to \(from.prefix(7))") }
            var out: [GitCommit] = []
            var oid = git_oid()
            while git_revwalk_next(&oid, walk) == 0 {
                var commit: OpaquePointer?
                guard git_commit_lookup(&commit, repo.pointer, &oid) == 0 else { continue }
                defer { git_commit_free(commit) }
                if !paths.isEmpty {
                    let parent = git_commit_parentcount(commit) > 0 ? git_commit_parent_id(commit, 0)?.pointee.hex : nil
                    if try Self.diff(repo, from: parent, to: oid.hex, paths: paths).isEmpty { continue }
                }
                let summary = git_commit_summary(commit).map { String(cString: $0) } ?? ""
                let author = git_commit_author(commit).map { String(cString: $0.pointee.name) } ?? ""
                out.append(GitCommit(id: oid.hex, summary: summary, author: author))
            }
            return out
        }
    }
}
