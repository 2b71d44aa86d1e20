import CLibGit2
import Foundation
import Primitives
import Synchronization

/// Reads files of the commit an edit is based on.
public struct GitTreeReader {
    let repo: Repository
    let tree: Tree

    /// The contents of a file, or nil when it does not exist.
    public func read(_ path: String) throws(GitError) -> [UInt8]? {
        guard let entry = tree.entry(path: try GitMirror.normalise(path)), entry.type == GIT_OBJECT_BLOB else { return nil }
        return try repo.blob(entry.id)
    }
}

/// The result of a commit-and-push.
public struct PushedCommit: Sendable, Equatable {
    public var id: String
    /// How many attempts it took (a race with another writer costs one more).
    public var attempts: Int
}

extension GitMirror {
    /// Commits file changes (path → new contents, nil to delete) computed by `edit` from the head
    /// of `branch`, and pushes them. When the push is refused because the branch moved, it fetches
    /// and re-applies `edit` on the new head, up to `maxAttempts` times. Returns nil when `edit`
    /// changes nothing.
    public func commitAndPush(branch: String, message: String, author: GitSignature? = nil, maxAttempts: Int = 3,
                              edit: @escaping @Sendable (GitTreeReader) throws -> [String: [UInt8]?]) async throws(GitError) -> PushedCommit? {
        guard !options.readOnly else {
            throw GitError(.readOnly, "the repository \(GitURL.redacted(options.url)) is read-only for this instance: refusing to commit")
        }
        let (url, path, committer, signer) = (options.url, path, options.committer, options.signer)
        let message = options.commitMessageSuffix.map { message + "\n\n" + $0 } ?? message
        localBranches.withLock { $0 = nil }
        defer {
            localBranches.withLock { $0 = nil }
            options.polls.invalidate(pollKey)  // the next poll of this remote sees the push
        }
        for attempt in 1...max(1, maxAttempts) {
            let outcome: PushOutcome = try await run("push") { ctx throws(GitError) in
                let repo = try Repository.openOrCreate(path)
                try Self.fetch(repo, url: url, ctx: ctx)
                guard let head = repo.reference("refs/heads/\(branch)") else {
                    throw GitError(.notFound, "branch \(branch) does not exist in \(GitURL.redacted(url))")
                }
                let baseTree = try repo.commitTree(head)
                let changes: [String: [UInt8]?]
                do {
                    changes = try edit(GitTreeReader(repo: repo, tree: baseTree))
                } catch let e as GitError {
                    throw e
                } catch {
                    throw GitError(.invalid, "preparing the change failed: \(error)")
                }
                var byPath: [[String]: [UInt8]?] = [:]
                for (p, data) in changes {
                    let n = try Self.normalise(p)
                    guard !n.isEmpty else { throw GitError(.invalid, "cannot write the repository root") }
                    byPath[n.split(separator: "/").map(String.init)] = data
                }
                let newTree = try Self.write(repo, base: baseTree.id, changes: byPath)
                if git_oid_equal([newTree], [baseTree.id]) == 1 { return .unchanged }
                let commit = try Self.commit(repo, tree: newTree, parent: head, message: message, author: author ?? committer, committer: committer, signer: signer)
                let ref = "refs/heads/\(branch)"
                var out: OpaquePointer?
                try check(git_reference_create(&out, repo.pointer, ref, [commit], 1, "flotilla commit"), "update \(ref)")
                git_reference_free(out)
                try Self.push(repo, url: url, refspecs: ["\(ref):\(ref)"], ctx: ctx)
                let rejected = ctx.rejections.withLock { $0 }
                if !rejected.isEmpty { return .rejected(rejected.joined(separator: "; ")) }
                // libgit2's local (file://) transport updates refs without compare-and-swap: make
                // sure our commit is what the remote has, else treat it as a lost race.
                if url.hasPrefix("file://") || url.hasPrefix("/") {
                    try Self.fetch(repo, url: url, ctx: ctx)
                    if repo.reference(ref)?.hex != commit.hex { return .rejected("\(ref) moved during the push") }
                }
                return .pushed(commit.hex)
            }
            switch outcome {
            case .unchanged: return nil
            case .pushed(let id): return PushedCommit(id: id, attempts: attempt)
            case .rejected(let why):
                if attempt == maxAttempts {
                    throw GitError(.pushRejected, "push to \(GitURL.redacted(url)) was refused after \(attempt) attempts: \(why)")
                }
            }
        }
        return nil
    }

    enum PushOutcome: Sendable { case unchanged, pushed(String), rejected(String) }

    /// Creates or moves an annotated tag to `commit` and force-pushes it (the sync tag).
    public func moveTag(_ name: String, to commit: String, message: String) async throws(GitError) {
        guard !options.readOnly else {
            throw GitError(.readOnly, "the repository \(GitURL.redacted(options.url)) is read-only for this instance: refusing to move tag \(name)")
        }
        let (url, path, committer, timeout, daemon) = (options.url, path, options.committer, options.timeout, gitDaemonRemote)
        let prefix = "push tag \(name) to \(GitURL.redacted(url))"
        /// The tag object for `commit` in `repo`; with `ref`, refs/tags/<name> is moved to it too.
        @Sendable func makeTag(_ repo: Repository, ref: Bool) throws(GitError) -> git_oid {
            guard var id = git_oid(hex: commit) else { throw GitError(.invalid, "not a commit id: \(commit)") }
            var target: OpaquePointer?
            try check(git_object_lookup(&target, repo.pointer, &id, GIT_OBJECT_COMMIT), "look up \(commit.prefix(7))")
            defer { git_object_free(target) }
            var signature: UnsafeMutablePointer<git_signature>?
            try check(git_signature_now(&signature, committer.name, committer.email), "make a signature")
            defer { git_signature_free(signature) }
            var tag = git_oid()
            try check(ref ? git_tag_create(&tag, repo.pointer, name, target, signature, message, 1)
                          : git_tag_annotation_create(&tag, repo.pointer, name, target, signature, message), "create tag \(name)")
            return tag
        }
        /// The tag object alone and a pack of it, made in memory: the pushes that send their own
        /// pack need no tag in the mirror (the next fetch brings it along with the next commit),
        /// where `git_tag_create` wrote a loose object and rewrote the tag's ref on every move.
        @Sendable func tagInMemory() throws(GitError) -> (git_oid, [UInt8]) {
            let repo = try Repository.inMemory(over: path)
            let tag = try makeTag(repo, ref: false)
            return (tag, try Self.pack(repo, tag))
        }
        if let ssh = sshPolls, let pool = options.sshConnections {
            // Over SSH, on the pooled connection (`ReceivePackExchange`): the tag and its pack are
            // made on a git thread, the push is a channel of the connection polls use.
            await gate.acquire()
            defer { gate.release() }
            let (tag, pack) = try await runHoldingGate("push tag") { _ throws(GitError) in
                let (tag, pack) = try tagInMemory()
                return (tag.hex, pack)
            }
            _ = try await pool.push(ssh, ref: "refs/tags/\(name)", new: tag, pack: pack, prefix: prefix, timeout: timeout)
            return
        }
        try await run("push tag") { ctx throws(GitError) in
            if let daemon {
                // Over git://, one object and one command without libgit2 (`GitDaemonPush`).
                let (tag, pack) = try tagInMemory()
                try GitDaemonPush.push(daemon, ref: "refs/tags/\(name)", new: tag.hex, pack: pack, prefix: prefix, timeout: timeout, context: ctx)
                return
            }
            let repo = try Repository.openOrCreate(path)
            _ = try makeTag(repo, ref: true)
            try Self.push(repo, url: url, refspecs: ["+refs/tags/\(name):refs/tags/\(name)"], ctx: ctx)
            let rejected = ctx.rejections.withLock { $0 }
            if !rejected.isEmpty { throw GitError(.pushRejected, "pushing tag \(name) was refused: \(rejected.joined(separator: "; "))") }
        }
    }

    /// A pack of one object (not what it points at). (`git_mempack_dump` packs only the commits
    /// of its store, with their trees: not a tag.)
    static func pack(_ repo: Repository, _ id: git_oid) throws(GitError) -> [UInt8] {
        var builder: OpaquePointer?
        try check(git_packbuilder_new(&builder, repo.pointer), "pack \(id.hex)")
        defer { git_packbuilder_free(builder) }
        _ = git_packbuilder_set_threads(builder, 1)
        var id = id
        try check(git_packbuilder_insert(builder, &id, nil), "pack \(id.hex)")
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        try check(git_packbuilder_write_buf(&buffer, builder), "pack \(id.hex)")
        return Array(UnsafeRawBufferPointer(start: buffer.ptr, count: buffer.size))
    }

    static func push(_ repo: Repository, url: String, refspecs: [String], ctx: CallbackContext) throws(GitError) {
        let remote = try repo.remote(url: url)
        var opts = git_push_options()
        git_push_options_init(&opts, UInt32(GIT_PUSH_OPTIONS_VERSION))
        ctx.install(&opts.callbacks)
        let code = withStringArray(refspecs) { git_remote_push(remote.pointer, &$0, &opts) }
        if code != 0 {
            // libgit2 reports a local non-fast-forward as an error rather than a rejection.
            let e = ctx.error(code)
            if e.message.contains("fast-forward") || e.message.contains("not present locally") || e.message.contains("fetch first") {
                ctx.rejections.withLock { $0.append(e.message) }
                return
            }
            throw e
        }
    }

    static func commit(_ repo: Repository, tree: git_oid, parent: git_oid, message: String, author: GitSignature, committer: GitSignature,
                       signer: CommitSigner? = nil) throws(GitError) -> git_oid {
        var treeID = tree
        var treePointer: OpaquePointer?
        try check(git_tree_lookup(&treePointer, repo.pointer, &treeID), "read the new tree")
        defer { git_tree_free(treePointer) }
        var parentID = parent
        var parentCommit: OpaquePointer?
        try check(git_commit_lookup(&parentCommit, repo.pointer, &parentID), "read the parent commit")
        defer { git_commit_free(parentCommit) }
        var authorSig: UnsafeMutablePointer<git_signature>?
        var committerSig: UnsafeMutablePointer<git_signature>?
        try check(git_signature_now(&authorSig, author.name, author.email), "make the author signature")
        defer { git_signature_free(authorSig) }
        try check(git_signature_now(&committerSig, committer.name, committer.email), "make the committer signature")
        defer { git_signature_free(committerSig) }
        var id = git_oid()
        var parents: [OpaquePointer?] = [parentCommit]
        guard let signer else {
            try check(git_commit_create(&id, repo.pointer, nil, authorSig, committerSig, "UTF-8", message, treePointer, 1, &parents), "create the commit")
            return id
        }
        // A signed commit: the object is made, signed, then written with its gpgsig header.
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        try check(git_commit_create_buffer(&buffer, repo.pointer, authorSig, committerSig, "UTF-8", message, treePointer, 1, &parents), "make the commit")
        let object = Array(UnsafeRawBufferPointer(start: buffer.ptr, count: buffer.size))
        let signature: String
        do { signature = try signer(object) } catch {
            throw GitError(.invalid, "signing the commit failed: \(error)")
        }
        try check(git_commit_create_with_signature(&id, repo.pointer, String(decoding: object, as: UTF8.self), signature, nil), "write the signed commit")
        return id
    }

    /// Writes a tree: `base` with `changes` applied (nested paths; nil deletes; emptied
    /// directories disappear).
    static func write(_ repo: Repository, base: git_oid?, changes: [[String]: [UInt8]?]) throws(GitError) -> git_oid {
        var baseTree: Tree? = nil
        if let base { baseTree = try repo.tree(base) }
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, repo.pointer, baseTree?.pointer), "start a tree")
        defer { git_treebuilder_free(builder) }
        var nested: [String: [[String]: [UInt8]?]] = [:]
        for (path, data) in changes {
            if path.count == 1 {
                if let data {
                    var blob = git_oid()
                    try check(data.withUnsafeBytes { git_blob_create_from_buffer(&blob, repo.pointer, $0.baseAddress, $0.count) }, "write \(path[0])")
                    var existingMode = GIT_FILEMODE_BLOB
                    if let e = git_treebuilder_get(builder, path[0]), git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE { existingMode = GIT_FILEMODE_BLOB_EXECUTABLE }
                    try check(git_treebuilder_insert(nil, builder, path[0], &blob, existingMode), "add \(path[0])")
                } else if git_treebuilder_get(builder, path[0]) != nil {
                    try check(git_treebuilder_remove(builder, path[0]), "remove \(path[0])")
                }
            } else {
                nested[path[0], default: [:]][Array(path.dropFirst())] = data
            }
        }
        for (dir, sub) in nested {
            var subBase: git_oid? = nil
            if let e = git_treebuilder_get(builder, dir), git_tree_entry_type(e) == GIT_OBJECT_TREE { subBase = git_tree_entry_id(e).pointee }
            var subTree = try write(repo, base: subBase, changes: sub)
            var t: OpaquePointer?
            try check(git_tree_lookup(&t, repo.pointer, &subTree), "read a subtree")
            let empty = git_tree_entrycount(t) == 0
            git_tree_free(t)
            if empty {
                if git_treebuilder_get(builder, dir) != nil { try check(git_treebuilder_remove(builder, dir), "remove \(dir)") }
            } else {
                try check(git_treebuilder_insert(nil, builder, dir, &subTree, GIT_FILEMODE_TREE), "add \(dir)")
            }
        }
        var id = git_oid()
        try check(git_treebuilder_write(&id, builder), "write a tree")
        return id
    }
}
