import Primitives

/// Polls of SSH remotes over pooled connections (`SSHConnections`), decided once per mirror from
/// its settings, never after a failure: with an ed25519 or ECDSA key that swift-nio-ssh can sign
/// with, polls run as exec channels on the pool's connection; RSA keys and encrypted keys keep
/// libgit2 (swift-nio-ssh has no RSA user authentication and cannot decrypt keys). The same
/// decision routes the mirror's sync tag pushes and libgit2's fetches and pushes
/// (`PooledSSHTransport`).
extension GitMirror {
    static let listOperation = "list remote refs of"

    static func pooledSSH(_ options: Options, knownHosts: KnownHosts) -> SSHHandshakeSettings? {
        guard case .sshKey(let text, let passphrase) = options.credentials,
              let remote = SSHRemote(url: options.url),
              let key = SSHClientKey(privateKey: text, passphrase: passphrase) else { return nil }
        // Which host key a server shows depends on the client's preference: swift-nio-ssh asks for
        // ed25519 first, libssh2 for ECDSA. A known_hosts that knows the host only by other key
        // types keeps libgit2, so that what is accepted stays what it was.
        let types = knownHosts.keyTypes(host: remote.host, port: remote.port)
        guard types.isEmpty || types.contains("ssh-ed25519") else { return nil }
        return SSHHandshakeSettings(remote: remote, key: key, knownHosts: knownHosts, knownHostsText: options.knownHosts,
                                    url: options.url, operation: listOperation)
    }

    /// `git ls-remote` over the pool: one poll at a time per mirror, like every mirror operation.
    func listRemote(_ settings: SSHHandshakeSettings, pool: SSHConnections) async throws(GitError) -> RemoteHeads {
        await gate.acquire()
        defer { gate.release() }
        return try await pool.listRemote(settings, timeout: options.timeout)
    }

    /// Whether this mirror's polls use pooled SSH connections (not libgit2).
    public var pollsOverPooledSSH: Bool { sshPolls != nil }
}

/// Polls of `git://` remotes with a deadline on every wait (`GitDaemonPoll`).
extension GitMirror {
    /// `git ls-remote` over a connection of its own: one poll at a time per mirror.
    func listRemote(_ remote: GitDaemonRemote) async throws(GitError) -> RemoteHeads {
        await gate.acquire()
        defer { gate.release() }
        return try await GitDaemonPoll.listRemote(remote, context: context(listPrefix), timeout: options.timeout)
    }

    /// Whether this mirror's polls of a `git://` remote use `GitDaemonPoll` (not libgit2).
    public var pollsGitDaemonDirectly: Bool { gitDaemonRemote != nil }
}

/// Polls of `http(s)://` remotes over kept connections (`SmartHTTPPolls`).
extension GitMirror {
    /// `git ls-remote` by smart HTTP discovery: one poll at a time per mirror; nil when this poll
    /// falls back to libgit2 (see `SmartHTTPPolls`).
    func listRemote(_ remote: SmartHTTPRemote, pool: SmartHTTPPolls) async throws(GitError) -> RemoteHeads? {
        await gate.acquire()
        defer { gate.release() }
        return try await pool.listRemote(remote, timeout: options.timeout, prefix: listPrefix)
    }

    /// Whether this mirror's polls of an `http(s)://` remote go over kept connections (not libgit2).
    public var pollsOverHTTPDirectly: Bool { httpPollRemote != nil }
}
