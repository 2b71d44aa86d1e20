import Logging
import NIOCore
import NIOPosix
import Synchronization

/// SSH connections kept for polls (`git ls-remote`), one per host, port, user, deploy key and
/// known_hosts: a poll runs as a new exec channel on its key's connection instead of paying a key
/// exchange and an authentication each time. A connection is shared only by mirrors with the
/// identical key (private key, passphrase and known_hosts alike), so one tenant never rides on a
/// connection another tenant's key authenticated. Connections live on NIO's shared event loops
/// (no thread per connection), close after `idleTimeout` without a poll, and are replaced after
/// `maxAge` so a deploy key revoked on the server stops working for polls too. A connection the
/// server closed, or that stopped answering, is dropped; a poll that lost its connection before any
/// byte of its channel arrived is tried once more on a fresh one. The mirror's sync tag is pushed
/// on these connections too (`git-receive-pack`, one object), and libgit2's fetches and branch
/// pushes ride them (`PooledSSHTransport`).
public final class SSHConnections: Sendable {
    /// One per process: every mirror's default.
    public static let shared = SSHConnections()

    public struct Options: Sendable {
        /// A connection without a poll for this long is closed.
        public var idleTimeout: Duration = .seconds(600)
        /// A connection this old takes no new polls (a fresh one authenticates again).
        public var maxAge: Duration = .seconds(3600)
        /// Channels in flight per connection; more polls wait their turn (sshd's default
        /// `MaxSessions` is 10).
        public var channelsPerConnection = 8
        /// Connections per key: a command that would wait for a channel on every open one opens
        /// another, up to this many (sshd's default `MaxStartups` begins refusing at 10
        /// unauthenticated connections). Instances that share one deploy key are not funnelled
        /// through one connection's channels.
        public var connectionsPerKey = 4

        public init(idleTimeout: Duration = .seconds(600), maxAge: Duration = .seconds(3600), channelsPerConnection: Int = 8, connectionsPerKey: Int = 4) {
            self.idleTimeout = idleTimeout
            self.maxAge = maxAge
            self.channelsPerConnection = max(1, channelsPerConnection)
            self.connectionsPerKey = max(1, connectionsPerKey)
        }
    }

    /// What a connection is shared by: everything that decides who it authenticated as and which
    /// server it trusted. The key is kept as a digest. Hashed once, when made.
    struct Key: Hashable, Sendable {
        let host: String
        let port: Int
        let user: String
        let keyDigest: [UInt8]
        let knownHosts: String
        private let hash: Int

        init(host: String, port: Int, user: String, keyDigest: [UInt8], knownHosts: String) {
            self.host = host
            self.port = port
            self.user = user
            self.keyDigest = keyDigest
            self.knownHosts = knownHosts
            var hasher = Hasher()
            hasher.combine(host)
            hasher.combine(port)
            hasher.combine(user)
            hasher.combine(keyDigest)
            hasher.combine(knownHosts)
            hash = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    public let options: Options
    private let group: any EventLoopGroup
    private let logger: Logger
    private let connections = Mutex<[Key: [SSHConnection]]>([:])
    private let handshakeCount = Atomic<Int>(0)

    public init(options: Options = Options(), logger: Logger = Logger(label: "flotilla.git.ssh")) {
        self.options = options
        self.group = MultiThreadedEventLoopGroup.singleton
        self.logger = logger
    }

    /// Connections open or being opened.
    public var count: Int { connections.withLock { $0.values.joined().filter { !$0.isClosed }.count } }
    /// Connections started since this pool was made (each one a key exchange and authentication).
    public var handshakes: Int { handshakeCount.load(ordering: .relaxed) }

    /// Closes every connection (polls in flight on them fail).
    public func closeAll() {
        let all = connections.withLock { map in
            defer { map.removeAll() }
            return Array(map.values.joined())
        }
        for connection in all { connection.close(nil) }
    }

    /// The refs `git-upload-pack` advertises for `remote`'s path, over this pool's connection for
    /// the key. Fails with a `GitError`; `timeout` bounds the whole poll (a handshake included).
    func listRemote(_ settings: SSHHandshakeSettings, timeout: Duration) async throws(GitError) -> RemoteHeads {
        try await run(settings.remote.uploadPackCommand, UploadPackExchange(), settings, prefix: settings.prefix, timeout: timeout)
    }

    /// Pushes `new` to `ref` of `remote`'s path with `git-receive-pack` over this pool's
    /// connection for the key, with `pack` (what the remote lacks). Returns whether the ref moved.
    /// Fails with a `GitError` (`PushRejected` with the server's reason when it refused).
    func push(_ settings: SSHHandshakeSettings, ref: String, new: String, pack: [UInt8], prefix: String, timeout: Duration) async throws(GitError) -> Bool {
        try await run(settings.remote.receivePackCommand, ReceivePackExchange(ref: ref, new: new, pack: pack), settings, prefix: prefix, timeout: timeout)
    }

    /// Opens an exec channel of `command` on the key's connection for a git thread
    /// (`PooledSSHTransport`), blocking that thread until the server accepted the command. Tried
    /// once more on a fresh connection like a poll; `timeout` bounds it, and the channel is closed
    /// `timeout` after the start whatever it is doing.
    func openPipe(_ command: String, program: String, _ settings: SSHHandshakeSettings, prefix: String, timeout: Duration) throws(GitError) -> SSHPipe {
        var attempts = Attempts(timeout: timeout)
        while true {
            let (connection, reused) = connection(for: settings.poolKey, settings, deadline: attempts.deadline)
            let pipe = SSHPipe(prefix: prefix, program: program)
            let opened = connection.eventLoop.makePromise(of: Void.self)
            connection.start(command, prefix: prefix, timeout: timeout, deadline: attempts.deadline, staleAfter: attempts.staleAfter(reused: reused),
                             result: opened) { channel in
                try channel.pipeline.syncOperations.addHandler(SSHPipeHandler(command: command, pipe: pipe, opened: opened))
            }
            do {
                try opened.futureResult.wait()
                return pipe
            } catch let failure as SSHPollFailure {
                try attempts.retry(after: failure, on: connection, prefix: prefix)
                logger.debug("SSH channel retried on a new connection", metadata: ["host": "\(settings.poolKey.host)", "port": "\(settings.poolKey.port)"])
            } catch {
                throw GitError(.other, "\(prefix): \(error)")
            }
        }
    }

    /// Runs `exchange` on a channel of the key's connection. A command that lost its connection
    /// before any byte of its channel came is tried once more on a fresh one (for a push too: it
    /// reads the advertisement again, so it sends the same update).
    private func run<Exchange: SSHGitExchange & Sendable>(_ command: String, _ exchange: Exchange, _ settings: SSHHandshakeSettings, prefix: String,
                                                          timeout: Duration) async throws(GitError) -> Exchange.Output {
        var attempts = Attempts(timeout: timeout)
        while true {
            if Task.isCancelled { throw GitError(.cancelled, "\(prefix) cancelled") }
            let (connection, reused) = connection(for: settings.poolKey, settings, deadline: attempts.deadline)
            do {
                return try await connection.run(command, exchange, prefix: prefix, timeout: timeout, deadline: attempts.deadline,
                                                staleAfter: attempts.staleAfter(reused: reused))
            } catch let failure as SSHPollFailure {
                try attempts.retry(after: failure, on: connection, prefix: prefix)
                logger.debug("SSH poll retried on a new connection", metadata: ["host": "\(settings.poolKey.host)", "port": "\(settings.poolKey.port)"])
            } catch {
                throw GitError(.other, "\(prefix): \(error)")
            }
        }
    }

    /// The attempts of one command: a second one, on a fresh connection, only after a failure
    /// that may be retried and before the deadline.
    private struct Attempts {
        let start: NIODeadline
        let deadline: NIODeadline
        let timeout: Duration
        private(set) var retried = false

        init(timeout: Duration) {
            start = .now()
            deadline = start + TimeAmount(timeout)
            self.timeout = timeout
        }

        /// On a reused connection, half the time is allowed for the server to answer a channel
        /// open; the other half is left for a retry on a fresh connection.
        func staleAfter(reused: Bool) -> NIODeadline? { reused && !retried ? start + TimeAmount(timeout / 2) : nil }

        /// After `failure` on `connection`: throws the error to report, or closes the connection
        /// so that the next attempt makes a fresh one. A handshake failure names the operation and
        /// URL of the command that started the connection; it is renamed for this one.
        mutating func retry(after failure: SSHPollFailure, on connection: SSHConnection, prefix: String) throws(GitError) {
            guard failure.retryable, !retried, NIODeadline.now() < deadline else {
                var error = failure.error
                if error.message.hasPrefix(connection.settings.prefix) {
                    error.message = prefix + error.message.dropFirst(connection.settings.prefix.count)
                }
                throw error
            }
            connection.close(nil)
            retried = true
        }
    }

    /// The connection for `key`: the least busy open one, or a new one started now when every open
    /// one would make the command wait for a channel (up to `connectionsPerKey`). Connections past
    /// `maxAge` take no new commands and close once theirs are done.
    private func connection(for key: Key, _ settings: SSHHandshakeSettings, deadline: NIODeadline) -> (SSHConnection, reused: Bool) {
        let now = NIODeadline.now()
        let (connection, retired, isNew) = connections.withLock { map -> (SSHConnection, [SSHConnection], Bool) in
            var open = map[key] ?? []
            var retired: [SSHConnection] = []
            open.removeAll { existing in
                guard existing.isClosed || now - existing.openedAt >= TimeAmount(options.maxAge) else { return false }
                if !existing.isClosed { retired.append(existing) }
                return true
            }
            if let least = open.min(by: { $0.load < $1.load }), least.load < options.channelsPerConnection || open.count >= options.connectionsPerKey {
                least.assign()
                map[key] = open
                return (least, retired, false)
            }
            let fresh = SSHConnection(settings: settings, eventLoop: group.next(), limits: options, logger: logger) { [weak self] closed in
                self?.forget(key, closed)
            }
            fresh.assign()
            map[key] = open + [fresh]
            return (fresh, retired, true)
        }
        for connection in retired { connection.retire() }
        if isNew {
            handshakeCount.add(1, ordering: .relaxed)
            connection.start(deadline: deadline)
        }
        return (connection, !isNew)
    }

    private func forget(_ key: Key, _ connection: SSHConnection) {
        connections.withLock { map in
            map[key]?.removeAll { $0 === connection }
            if map[key]?.isEmpty == true { map[key] = nil }
        }
    }
}
