#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSH
import Synchronization

/// One authenticated SSH connection of `SSHConnections`: polls run on it as exec channels, at most
/// `channelsPerConnection` at once (sshd's `MaxSessions` is 10 by default), the rest queued in
/// arrival order. All its state lives on its event loop. It closes itself after `idleTimeout`
/// without a channel, and when retired (too old) once its channels are done; the pool forgets it
/// when it closes, whatever the reason.
final class SSHConnection: Sendable {
    /// A command waiting for, or holding, a channel. Lives on the event loop.
    private final class Pending {
        let command: String
        /// How the command's errors begin: its operation and (redacted) URL.
        let prefix: String
        /// Fails the command's result (once; later calls do nothing).
        let fail: (SSHPollFailure) -> Void
        /// Adds the command's handler to its channel's pipeline.
        let install: @Sendable (any Channel) throws -> Void
        let timeout: Duration
        let deadline: NIODeadline
        /// On a reused connection: when an unanswered channel open means the connection is dead.
        let staleAfter: NIODeadline?
        var done = false
        var failed = false
        /// The channel open was sent and not yet answered.
        var opening = false
        var channel: (any Channel)?
        var timer: Scheduled<Void>?

        init(command: String, prefix: String, fail: @escaping (SSHPollFailure) -> Void, install: @escaping @Sendable (any Channel) throws -> Void,
             timeout: Duration, deadline: NIODeadline, staleAfter: NIODeadline?) {
            self.command = command
            self.prefix = prefix
            self.fail = fail
            self.install = install
            self.timeout = timeout
            self.deadline = deadline
            self.staleAfter = staleAfter
        }
    }

    private enum Phase {
        case connecting
        case ready
        case closed(SSHPollFailure)
    }

    private struct State {
        var phase = Phase.connecting
        var channel: (any Channel)?
        var channelClosed = false
        var handler: NIOSSHHandler?
        var inFlight = 0
        var queue = CircularBuffer<Pending>()
        var idleTimer: Scheduled<Void>?
        var retiring = false
    }

    let eventLoop: any EventLoop
    let openedAt = NIODeadline.now()
    let settings: SSHHandshakeSettings
    private let limits: SSHConnections.Options
    private let state: NIOLoopBoundBox<State>
    private let closedFlag = Atomic<Bool>(false)
    /// Commands in flight or queued, as the event loop last counted them.
    private let busy = Atomic<Int>(0)
    /// Commands the pool gave this connection that have not reached its queue yet.
    private let arriving = Atomic<Int>(0)
    private let logger: Logger
    private let onClose: @Sendable (SSHConnection) -> Void

    init(settings: SSHHandshakeSettings, eventLoop: any EventLoop, limits: SSHConnections.Options, logger: Logger,
         onClose: @escaping @Sendable (SSHConnection) -> Void) {
        self.settings = settings
        self.eventLoop = eventLoop
        self.limits = limits
        self.logger = logger
        self.onClose = onClose
        state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    /// Closed, or closing: no new poll goes to it.
    var isClosed: Bool { closedFlag.load(ordering: .relaxed) }

    /// Commands on this connection, running or waiting for a channel (the pool's measure of how
    /// busy it is).
    var load: Int { busy.load(ordering: .relaxed) + arriving.load(ordering: .relaxed) }

    /// The pool gave this connection a command (counted in `load` until it is queued).
    func assign() { arriving.add(1, ordering: .relaxed) }

    // MARK: connecting

    /// Connects, checks the host key and authenticates; `deadline` bounds the whole handshake.
    func start(deadline: NIODeadline) {
        let settings = settings
        let authenticated = eventLoop.makePromise(of: Void.self)
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            authenticated.fail(GitError(.timeout, "\(settings.prefix): the ssh handshake with \(settings.remote.host) timed out"))
        }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(max(.milliseconds(1), deadline - .now()))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // A peer gone without a word (a NAT entry dropped) is noticed within about two minutes
            // of silence, not the kernel's two hours.
            .channelOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: 60)
            .channelOption(.tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: 15)
            .channelOption(.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: 4)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let config = SSHClientConfiguration(userAuthDelegate: DeployKeyOffer(settings), serverAuthDelegate: KnownHostsValidator(settings))
                    let ssh = NIOSSHHandler(role: .client(config), allocator: channel.allocator, inboundChildChannelInitializer: nil)
                    try channel.pipeline.syncOperations.addHandler(QuickAckHandler())
                    try channel.pipeline.syncOperations.addHandler(ssh)
                    try channel.pipeline.syncOperations.addHandler(SSHHandshakeHandler(authenticated: authenticated, settings: settings))
                    state.value.channel = channel
                    state.value.handler = ssh
                    channel.closeFuture.whenComplete { _ in self.closed() }
                }
            }
            .connect(host: settings.remote.host, port: settings.remote.connectPort)
            .whenFailure { authenticated.fail($0) }
        authenticated.futureResult.whenComplete { [self] result in
            timer.cancel()
            switch result {
            case .success:
                ready()
            case .failure(let error):
                let failure = SSHHandshakeHandler.gitError(error, settings)
                logger.debug("SSH handshake failed", metadata: ["host": "\(settings.remote.host)", "kind": "\(failure.kind.rawValue)"])
                close(SSHPollFailure(error: failure, retryable: false))
            }
        }
    }

    private func ready() {
        guard case .connecting = state.value.phase else {
            state.value.channel?.close(promise: nil)  // closed while connecting
            return
        }
        state.value.phase = .ready
        logger.debug("SSH connection opened", metadata: ["host": "\(settings.remote.host)", "port": "\(settings.remote.connectPort)"])
        pump()
    }

    // MARK: polls

    /// Runs `exchange`'s command on a channel of its own and returns its output. Fails with an
    /// `SSHPollFailure`. `deadline` (the command's `timeout` from its start) bounds it, queueing
    /// included, and the wait for the server to close the channel after the outcome; cancelling
    /// the task fails it at once and closes its channel.
    func run<Exchange: SSHGitExchange & Sendable>(_ command: String, _ exchange: Exchange, prefix: String, timeout: Duration, deadline: NIODeadline,
                                                  staleAfter: NIODeadline?) async throws -> Exchange.Output {
        let result = eventLoop.makePromise(of: Exchange.Output.self)
        start(command, prefix: prefix, timeout: timeout, deadline: deadline, staleAfter: staleAfter, result: result) { channel in
            let handler = GitExecHandler(command: command, exchange: exchange, result: result, prefix: prefix)
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        return try await withTaskCancellationHandler {
            try await result.futureResult.get()
        } onCancel: {
            result.fail(SSHPollFailure(error: GitError(.cancelled, "\(prefix) cancelled"), retryable: false))
        }
    }

    /// Queues `command` for a channel whose handler `install` adds, and which completes `result`
    /// (with `SSHPollFailure` on failure). The channel holds its slot until it closes, and is
    /// closed at `deadline` if it is still open then; a failed `result` closes it at once.
    func start<T>(_ command: String, prefix: String, timeout: Duration, deadline: NIODeadline, staleAfter: NIODeadline?,
                  result: EventLoopPromise<T>, install: @escaping @Sendable (any Channel) throws -> Void) {
        eventLoop.execute { [self] in
            arriving.subtract(1, ordering: .relaxed)
            let pending = Pending(command: command, prefix: prefix, fail: { result.fail($0) }, install: install,
                                  timeout: timeout, deadline: deadline, staleAfter: staleAfter)
            result.futureResult.assumeIsolated().whenComplete { outcome in
                pending.done = true
                guard case .failure = outcome else { return }
                pending.failed = true
                pending.channel?.close(promise: nil)  // timed out or cancelled: stop the command
                if pending.channel == nil { pending.timer?.cancel() }
            }
            enqueue(pending)
        }
    }

    private func enqueue(_ pending: Pending) {
        arm(pending, at: pending.staleAfter ?? pending.deadline)
        if case .closed(let failure) = state.value.phase {
            pending.fail(failure)
            return
        }
        state.value.idleTimer?.cancel()
        state.value.idleTimer = nil
        state.value.queue.append(pending)
        pump()
    }

    /// One timer per poll, cancelled when its channel closes. At `staleAfter` (reused connections
    /// only): a channel open still unanswered means the connection is dead (a peer gone silently),
    /// so it is dropped and the poll may try once more on a fresh one. At the deadline: the poll
    /// fails if still waiting, and a channel the server has not closed by then is closed.
    private func arm(_ pending: Pending, at when: NIODeadline) {
        pending.timer = eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            if when < pending.deadline {
                guard pending.opening && !pending.done else { return arm(pending, at: pending.deadline) }
                let failure = SSHPollFailure(error: GitError(.unreachable, "\(pending.prefix): the ssh connection stopped answering"), retryable: true)
                pending.fail(failure)
                return close(failure)
            }
            pending.fail(SSHPollFailure(error: GitError(.timeout, "\(pending.prefix) timed out after \(pending.timeout)"), retryable: false))
            pending.channel?.close(promise: nil)
        }
    }

    /// Opens channels for queued polls while there is room.
    private func pump() {
        defer { busy.store(state.value.inFlight + state.value.queue.count, ordering: .relaxed) }
        guard case .ready = state.value.phase, let handler = state.value.handler else { return }
        while state.value.inFlight < limits.channelsPerConnection, let next = state.value.queue.popFirst() {
            if next.done { continue }
            state.value.inFlight += 1
            open(next, on: handler)
        }
        idleIfQuiet()
    }

    private func open(_ pending: Pending, on handler: NIOSSHHandler) {
        let opened = eventLoop.makePromise(of: (any Channel).self)
        let (install, prefix) = (pending.install, pending.prefix)
        handler.createChannel(opened, channelType: .session) { child, _ in
            child.eventLoop.makeCompletedFuture { try install(child) }
        }
        pending.opening = true
        opened.futureResult.assumeIsolated().whenComplete { [self] outcome in
            pending.opening = false
            switch outcome {
            case .success(let child):
                pending.channel = child
                if pending.failed { child.close(promise: nil) }
                child.closeFuture.assumeIsolated().whenComplete { _ in
                    pending.timer?.cancel()
                    pending.channel = nil
                    self.channelEnded()
                }
            case .failure(let error as NIOSSHError) where error.type == .channelSetupRejected:
                // The server said no (a lower MaxSessions, a policy): the connection is fine.
                pending.fail(SSHPollFailure(error: GitError(.other, "\(prefix): the server refused an ssh channel: \(error)"), retryable: false))
                pending.timer?.cancel()
                channelEnded()
            case .failure(let error):
                pending.fail(SSHPollFailure(error: GitError(.unreachable, "\(prefix): the ssh connection failed before a channel opened: \(error)"), retryable: true))
                pending.timer?.cancel()
                channelEnded()
            }
        }
    }

    private func channelEnded() {
        state.value.inFlight -= 1
        pump()
    }

    /// With nothing in flight: close if retired, else start the idle countdown.
    private func idleIfQuiet() {
        guard state.value.inFlight == 0, state.value.queue.isEmpty, case .ready = state.value.phase else { return }
        if state.value.retiring { return close(nil) }
        guard state.value.idleTimer == nil else { return }
        state.value.idleTimer = eventLoop.scheduleTask(in: TimeAmount(limits.idleTimeout)) { [self] in
            state.value.idleTimer = nil
            if state.value.inFlight == 0 && state.value.queue.isEmpty { close(nil) }
        }
    }

    // MARK: closing

    /// Takes no new polls; closes once the ones in flight are done.
    func retire() {
        closedFlag.store(true, ordering: .relaxed)
        eventLoop.execute { [self] in
            state.value.retiring = true
            idleIfQuiet()
        }
    }

    /// Closes the connection (from any thread); polls still queued fail with `failure`.
    func close(_ failure: SSHPollFailure?) {
        closedFlag.store(true, ordering: .relaxed)
        // At once when on the loop: a handshake failure must be the queued polls' error, before
        // the channel's close reports a plain lost connection.
        if eventLoop.inEventLoop { return closeOnLoop(failure) }
        eventLoop.execute { [self] in closeOnLoop(failure) }
    }

    private func closeOnLoop(_ failure: SSHPollFailure?) {
        markClosed(failure ?? lost)
        failQueued()
        if let channel = state.value.channel, !state.value.channelClosed {
            channel.close(promise: nil)  // `closed()` follows
        } else {
            finished()
        }
    }

    /// What queued polls fail with when the connection goes away without a diagnosis: retryable
    /// once it had authenticated, not during the handshake.
    private var lost: SSHPollFailure {
        if case .connecting = state.value.phase {
            return SSHPollFailure(error: GitError(.unreachable, "\(settings.prefix): failed to start ssh session: the connection closed"), retryable: false)
        }
        return SSHPollFailure(error: GitError(.unreachable, "\(settings.prefix): the ssh connection closed"), retryable: true)
    }

    private func markClosed(_ failure: SSHPollFailure) {
        if case .closed = state.value.phase { return }
        state.value.phase = .closed(failure)
    }

    /// The TCP connection closed, whoever closed it.
    private func closed() {
        closedFlag.store(true, ordering: .relaxed)
        state.value.channelClosed = true
        // During the handshake, its failure (which always follows) says why, and closes us.
        if case .connecting = state.value.phase { return }
        markClosed(lost)
        failQueued()
        finished()
    }

    private func finished() {
        state.value.idleTimer?.cancel()
        state.value.idleTimer = nil
        logger.debug("SSH connection closed", metadata: ["host": "\(settings.remote.host)", "port": "\(settings.remote.connectPort)"])
        onClose(self)
    }

    private func failQueued() {
        guard case .closed(let failure) = state.value.phase else { return }
        while let pending = state.value.queue.popFirst() { pending.fail(failure) }
        busy.store(state.value.inFlight, ordering: .relaxed)
    }
}
