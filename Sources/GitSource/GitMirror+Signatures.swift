import CLibGit2
import Foundation

/// A commit's signature as git stores it (the `gpgsig` header), with the bytes it signs: what a
/// verifier needs, extracted by libgit2 (`git_commit_extract_signature`), never parsed here.
public struct CommitSignature: Sendable, Hashable {
    public var id: String
    public var summary: String
    /// The armored signature (`-----BEGIN PGP SIGNATURE-----` or `-----BEGIN SSH SIGNATURE-----`),
    /// nil for an unsigned commit.
    public var signature: String?
    /// The commit object without its signature header: what was signed (empty when unsigned).
    public var signedData: [UInt8]
}

extension GitMirror {
    /// Which commits a verification looks at.
    public enum SignatureRange: Sendable, Equatable {
        /// The head commit alone.
        case head
        /// Every commit reachable from the head and not from the base (merges and their
        /// second parents included).
        case all
        /// The chain of first parents from the head down to the base.
        case firstParent
    }

    /// The signatures of the commits `range` selects between `from` (excluded; nil: the head only)
    /// and `to`, newest first.
    public func signatures(from: String?, to: String, range: SignatureRange) async throws(GitError) -> [CommitSignature] {
        let path = path
        return try await run("read commit signatures") { _ throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            guard var toID = git_oid(hex: to) else { throw GitError(.invalid, "not a commit id: \(to)") }
            guard range != .head, let from, var fromID = git_oid(hex: from) else {
                return [try Self.signature(repo, &toID)]
            }
            var walk: OpaquePointer?
            try check(git_revwalk_new(&walk, repo.pointer), "walk history")
            defer { git_revwalk_free(walk) }
            git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue)
            if range == .firstParent { try check(git_revwalk_simplify_first_parent(walk), "walk first parents") }
            try check(git_revwalk_push(walk, &toID), "walk from \(to.prefix(7))")
            try check(git_revwalk_hide(walk, &fromID), "walk to \(from.prefix(7))")
            var out: [CommitSignature] = []
            var oid = git_oid()
            while git_revwalk_next(&oid, walk) == 0 {
                out.append(try Self.signature(repo, &oid))
            }
            return out
        }
    }

    static func signature(_ repo: Repository, _ oid: inout git_oid) throws(GitError) -> CommitSignature {
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, repo.pointer, &oid), "read commit \(oid.hex.prefix(7))")
        defer { git_commit_free(commit) }
        let summary = git_commit_summary(commit).map { String(cString: $0) } ?? ""
        var signature = git_buf()
        var signed = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signed)
        }
        let rc = git_commit_extract_signature(&signature, &signed, repo.pointer, &oid, nil)
        if rc == GIT_ENOTFOUND.rawValue {
            return CommitSignature(id: oid.hex, summary: summary, signature: nil, signedData: [])
        }
        try check(rc, "read the signature of \(oid.hex.prefix(7))")
        return CommitSignature(id: oid.hex, summary: summary,
                               signature: String(decoding: UnsafeRawBufferPointer(start: signature.ptr, count: signature.size), as: UTF8.self),
                               signedData: Array(UnsafeRawBufferPointer(start: signed.ptr, count: signed.size)))
    }
}
