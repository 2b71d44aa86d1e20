import Primitives
import CLibGit2
import Foundation
import Synchronization

/// A file in a commit's tree: its path from the repository root, blob id and mode.
public struct GitFile: Sendable, Hashable {
    public var path: String
    public var blobID: String
    public var executable: Bool

    public init(path: String, blobID: String, executable: Bool) {
        self.path = path
        self.blobID = blobID
        self.executable = executable
    }
}

/// A commit between two revisions.
public struct GitCommit: Sendable, Hashable {
    public var id: String
    public var summary: String
    public var author: String
}

/// The refs a remote advertises: a cheap "did the branch move?" check, without fetching.
public struct RemoteHeads: Sendable {
    public var refs: [String: String]
    /// The branch the remote's HEAD points at.
    public var defaultBranch: String?

    public func branch(_ name: String) -> String? { refs["refs/heads/\(name)"] }
}

/// Makes the signature of a commit object (called on a git thread; may block).
public typealias CommitSigner = @Sendable (_ commit: [UInt8]) throws -> String

/// Who commits (and, when asked, who is the author).
public struct GitSignature: Sendable, Hashable {
    public var name: String
    public var email: String
    public init(name: String, email: String) {
        self.name = name
        self.email = email
    }
}

/// One instance's git repository: a bare mirror under a directory the instance owns, cloned once
/// and then fetched. Trees are read straight from the object database (no worktree: nothing to
/// keep in sync on disk, and blob ids are free cache keys for parsed manifests). Every operation
/// runs on a git thread of its own with the configured timeout; operations on one mirror run one at
/// a time.
public final class GitMirror: Sendable {
    public struct Options: Sendable {
        public var url: String
        /// The directory the mirror lives in (owned by the instance; removed with it).
        public var directory: String
        public var credentials: GitCredentials = .none
        /// known_hosts lines for SSH remotes (host keys are always checked).
        public var knownHosts: String = ""
        public var timeout: Duration = .seconds(20)
        /// Refuse every write (commit, push, tag).
        public var readOnly = false
        public var committer = GitSignature(name: "Flotilla", email: "flotilla@localhost")
        /// Appended to every commit message (Flux v1's `--git-ci-skip`), e.g. `[ci skip]`.
        public var commitMessageSuffix: String?
        /// Where `remoteHeads(maxAge:)` shares poll results (one table per process by default).
        public var polls: SharedPolls = .shared
        /// The connections SSH polls reuse (one pool per process by default); nil: polls make a
        /// connection of their own through libgit2, like fetches. Used only with an ed25519 or
        /// ECDSA key (see `GitMirror+SSHPolls.swift`).
        public var sshConnections: SSHConnections? = .shared
        /// `git://` polls by `GitDaemonPoll` and sync tag pushes by `GitDaemonPush` (a deadline on
        /// every wait, so a hung remote frees its thread); false: through libgit2, like fetches.
        public var gitDaemonPollsDirect = true
        /// Where polls of an `http(s)://` remote keep their connections (one pool per process by
        /// default, `SmartHTTPPolls`); nil: through libgit2, like fetches.
        public var httpPolls: SmartHTTPPolls? = .shared
        /// Signs the commits this mirror makes: given the commit object, returns the armored
        /// signature (GPG or SSH) stored in its `gpgsig` header. Runs on the git thread.
        public var signer: CommitSigner?
        /// When a fetch folds the mirror's small packs and loose objects into one pack; nil: never.
        public var packFolding: PackFolding? = PackFolding()

        public init(url: String, directory: String) {
            self.url = url
            self.directory = directory
        }
    }

    public let options: Options
    let knownHosts: KnownHosts
    let gate = Gate()
    /// The local branches as the last fetch left them (nil: unknown, read the mirror). Saves a
    /// repository open per poll when the remote has not moved.
    let localBranches = Mutex<[String: String]?>(nil)
    /// How polls reach an SSH remote over a pooled connection; nil: through libgit2.
    let sshPolls: SSHHandshakeSettings?
    /// Where polls (`GitDaemonPoll`) and sync tag pushes (`GitDaemonPush`) of a `git://` remote
    /// go; nil: through libgit2.
    let gitDaemonRemote: GitDaemonRemote?
    /// Where polls of an `http(s)://` remote go by `SmartHTTPPolls`; nil: through libgit2.
    let httpPollRemote: SmartHTTPRemote?
    /// How a poll's errors begin (made once: redacting the URL per poll was 2 % of an idle operator).
    let listPrefix: String
    /// The last fold of the mirror's packs a fetch made or failed to make, until someone takes it.
    let lastFold = Mutex<Result<PackFold, GitError>?>(nil)

    public init(_ options: Options) {
        self.options = options
        self.knownHosts = KnownHosts(options.knownHosts)
        self.sshPolls = options.sshConnections == nil ? nil : Self.pooledSSH(options, knownHosts: knownHosts)
        self.gitDaemonRemote = options.gitDaemonPollsDirect ? GitDaemonRemote(url: options.url) : nil
        self.httpPollRemote = options.httpPolls == nil ? nil : SmartHTTPRemote(url: options.url, credentials: options.credentials)
        self.listPrefix = "\(Self.listOperation) \(GitURL.redacted(options.url))"
    }

    var path: String { options.directory + "/mirror.git" }

    func context(_ operation: String) -> CallbackContext {
        CallbackContext(operation: operation, url: options.url, credentials: options.credentials, knownHosts: knownHosts,
                        pooledSSH: sshPolls.flatMap { settings in options.sshConnections.map { PooledSSHTransport.Route(pool: $0, settings: settings) } },
                        timeout: options.timeout)
    }

    /// Runs a blocking libgit2 operation for this mirror (one at a time).
    func run<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (CallbackContext) throws(GitError) -> T) async throws(GitError) -> T {
        await gate.acquire()
        defer { gate.release() }
        return try await runHoldingGate(operation, body)
    }

    /// `run` for a caller that holds the gate already.
    func runHoldingGate<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (CallbackContext) throws(GitError) -> T) async throws(GitError) -> T {
        let ctx = context(operation)
        do {
            return try await Blocking.run(timeout: options.timeout, context: ctx) { () throws -> T in
                do { return try body(ctx) } catch { throw error as any Error }
            }
        } catch let e as GitError {
            throw e
        } catch {
            throw GitError(.other, "\(operation): \(error)")
        }
    }

    // MARK: the remote

    var pollKey: SharedPolls.Key { .init(url: options.url, credentials: options.credentials, knownHosts: options.knownHosts) }

    /// The remote's refs (`git ls-remote`), without touching the mirror. With `maxAge`, a result
    /// that another mirror of the same remote (same credentials and known hosts) got at most that
    /// long ago is reused, and a poll of it in flight is joined (`SharedPolls`).
    public func remoteHeads(maxAge: Duration = .zero) async throws(GitError) -> RemoteHeads {
        try await options.polls.heads(pollKey, maxAge: maxAge) { () async throws(GitError) -> RemoteHeads in
            try await self.listRemote()
        }
    }

    func listRemote() async throws(GitError) -> RemoteHeads {
        if let sshPolls, let pool = options.sshConnections { return try await listRemote(sshPolls, pool: pool) }
        if let gitDaemonRemote { return try await listRemote(gitDaemonRemote) }
        if let httpPollRemote, let pool = options.httpPolls, let heads = try await listRemote(httpPollRemote, pool: pool) { return heads }
        let url = options.url
        return try await run(Self.listOperation) { ctx throws(GitError) in
            var remote: OpaquePointer?
            try check(git_remote_create_detached(&remote, url), "open remote", remote: url)
            defer { git_remote_free(remote) }
            var callbacks = git_remote_callbacks()
            git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
            ctx.install(&callbacks)
            let code = git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nil, nil)
            guard code == 0 else { throw ctx.error(code) }
            defer { git_remote_disconnect(remote) }
            return try Self.advertisedHeads(remote!, url: url)
        }
    }

    /// The refs a connected (or fetched-from) remote advertised, as `git ls-remote` lists them.
    static func advertisedHeads(_ remote: OpaquePointer, url: String) throws(GitError) -> RemoteHeads {
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try check(git_remote_ls(&heads, &count, remote), "list remote refs", remote: url)
        var refs: [String: String] = [:]
        var defaultBranch: String?
        for i in 0..<count {
            guard let head = heads?[i]?.pointee else { continue }
            let name = String(cString: head.name)
            refs[name] = head.oid.hex
            if name == "HEAD", let target = head.symref_target {
                defaultBranch = String(String(cString: target).dropFirst("refs/heads/".count))
            }
        }
        return RemoteHeads(refs: refs, defaultBranch: defaultBranch)
    }

    /// Clones on first use, then fetches every branch and tag (pruning deleted ones). Returns
    /// branch → commit id.
    @discardableResult
    public func fetch() async throws(GitError) -> [String: String] {
        try await fetchReportingHeads().branches
    }

    /// A fetch that also returns the remote's heads as it advertised them (what a poll would
    /// have said, HEAD's branch included): for a pass that must ask the remote now, one
    /// connection (one upload-pack on the git host) instead of a poll and then a fetch. The
    /// result is shared with other mirrors of the remote like a poll's (`SharedPolls`).
    public func fetchReportingHeads() async throws(GitError) -> (branches: [String: String], heads: RemoteHeads) {
        let (url, path, folding) = (options.url, path, options.packFolding)
        localBranches.withLock { $0 = nil }
        let fetched = try await run("fetch") { ctx throws(GitError) in
            let repo = try Repository.openOrCreate(path)
            let heads = try Self.fetch(repo, url: url, ctx: ctx)
            let foldDue = folding.map { MirrorPacks(repositoryPath: path).due($0) } ?? false
            return (branches: repo.branches(), heads: heads, foldDue: foldDue)
        }
        localBranches.withLock { $0 = fetched.branches }
        if fetched.foldDue, let folding { await foldPacks(folding) }
        options.polls.record(pollKey, fetched.heads)
        return (fetched.branches, fetched.heads)
    }

    /// Fetches into `repo`; returns what the remote advertised (libgit2 keeps it after the fetch
    /// disconnects, for its own ref updates).
    @discardableResult
    static func fetch(_ repo: Repository, url: String, ctx: CallbackContext) throws(GitError) -> RemoteHeads {
        let remote = try repo.remote(url: url)
        var opts = git_fetch_options()
        git_fetch_options_init(&opts, UInt32(GIT_FETCH_OPTIONS_VERSION))
        ctx.install(&opts.callbacks)
        opts.prune = GIT_FETCH_PRUNE
        opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
        // Nobody reads FETCH_HEAD in a mirror: not rewriting it saves a file write per fetch.
        opts.update_fetchhead = 0
        let code = withStringArray(Repository.mirrorRefspecs) { git_remote_fetch(remote.pointer, &$0, &opts, "flotilla fetch") }
        guard code == 0 else { throw ctx.error(code) }
        return try advertisedHeads(remote.pointer, url: url)
    }
}
