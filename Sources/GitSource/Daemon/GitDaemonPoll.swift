#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// `git ls-remote` of a `git://` remote over SwiftNIO: connect, send the request, read the ref
/// advertisement up to its flush packet, say "I want nothing" (a flush, as `git ls-remote` does) and
/// close. No git thread is held: the poll is a few callbacks on NIO's shared event loops, and every
/// wait has a deadline (libgit2 1.5 has no socket timeout, so a `git daemon` that accepted a
/// connection into its backlog and never served it held a git thread until it did). Fetches and
/// pushes stay with libgit2.
enum GitDaemonPoll {
    static func listRemote(_ remote: GitDaemonRemote, prefix: String, timeout: Duration,
                           group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws(GitError) -> RemoteHeads {
        let eventLoop = group.next()
        let result = eventLoop.makePromise(of: RemoteHeads.self)
        let request = remote.request
        // Everything is set up on the loop in one hop (the timer, the connect and the wait for the
        // answer would each wake it from here).
        let start = { @Sendable (answer: @escaping @Sendable (Result<RemoteHeads, any Error>) -> Void) in eventLoop.execute {
            let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                result.fail(GitError(.timeout, "\(prefix) timed out after \(timeout)"))
            }
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(GitDaemonHandler(request: request, result: result, prefix: prefix))
                    }
                }
            // An IP address is connected to directly: no resolver round trip, no Happy Eyeballs timers.
            let connected = if let address = try? SocketAddress(ipAddress: remote.host, port: remote.connectPort) {
                bootstrap.connect(to: address)
            } else {
                bootstrap.connect(host: remote.host, port: remote.connectPort)
            }
            connected.whenFailure { result.fail(connectError($0, remote, prefix)) }
            result.futureResult.whenComplete { outcome in
                timer.cancel()
                // Timed out or cancelled: stop waiting on the server.
                if case .failure = outcome { connected.whenSuccess { $0.close(promise: nil) } }
                answer(outcome)
            }
        } }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in start { continuation.resume(with: $0) } }
            } onCancel: {
                result.fail(GitError(.cancelled, "\(prefix) cancelled"))
            }
        } catch let error as GitError {
            throw error
        } catch {
            throw GitError(.other, "\(prefix): \(error)")
        }
    }

    /// libgit2's wording and class for a failed connect ("failed to connect to …: Connection refused").
    static func connectError(_ error: any Error, _ remote: GitDaemonRemote, _ prefix: String) -> GitError {
        if error is ChannelError, case .connectTimeout = error as? ChannelError {
            return GitError(.timeout, "\(prefix): connecting to \(remote.host) timed out")
        }
        var reason = "\(error)"
        if let io = error as? IOError {
            reason = String(cString: strerror(io.errnoCode))
        } else if let connection = error as? NIOConnectionError {
            if let io = connection.connectionErrors.lazy.compactMap({ $0.error as? IOError }).first {
                reason = String(cString: strerror(io.errnoCode))
            } else if connection.dnsAError != nil || connection.dnsAAAAError != nil {
                reason = "could not resolve host \(remote.host)"
            }
        }
        return GitError(.unreachable, "\(prefix): failed to connect to \(remote.host):\(remote.connectPort): \(reason)")
    }
}

/// The channel of one `git://` poll: writes the request when connected, feeds what arrives to a
/// `RefAdvertisement`, and completes `result` once with the heads or the failure.
final class GitDaemonHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let request: ByteBuffer
    let result: EventLoopPromise<RemoteHeads>
    let prefix: String
    private var advertisement = RefAdvertisement()
    private var finished = false

    init(request: ByteBuffer, result: EventLoopPromise<RemoteHeads>, prefix: String) {
        self.request = request
        self.result = result
        self.prefix = prefix
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let bytes = unwrapInboundIn(data)
        do {
            guard let heads = try advertisement.consume(bytes.readableBytesView) else { return }
            finished = true
            result.succeed(heads)
            // "0000": no wants; upload-pack reads it and exits without a word.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "0000"))).whenComplete { _ in channel.close(promise: nil) }
        } catch {
            fail(context, GitError(error.kind, "\(prefix): \(error.message)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            // git daemon hangs up without a word on a repository it does not serve (missing, or
            // not exported), unless it runs with --informative-errors, which sends an ERR line.
            let detail = advertisement.started
                ? "the ref advertisement ended early"
                : "the server closed the connection without listing refs (no such repository, or it is not exported)"
            result.fail(GitError(advertisement.started ? .unreachable : .notFound, "\(prefix): \(detail)"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, GitError(.unreachable, "\(prefix): the connection failed: \(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: GitError) {
        guard !finished else { return }
        finished = true
        result.fail(error)
        context.close(promise: nil)
    }
}
