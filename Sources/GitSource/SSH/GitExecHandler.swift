import Foundation
import NIOCore
import NIOSSH

/// How a command on a pooled connection failed: the `GitError` to report, and whether it may be
/// tried once more on a fresh connection (the connection failed before any byte of the channel came).
struct SSHPollFailure: Error {
    var error: GitError
    var retryable: Bool
}

/// One git command's exchange on an exec channel, as a value type without I/O: what it does with
/// the bytes the command writes to stdout, and what to send back.
protocol SSHGitExchange {
    associatedtype Output: Sendable
    /// The program, as errors name it (`git-upload-pack`).
    static var program: String { get }
    /// Where the command was, for an error when it exited early ("before listing refs").
    var stage: String { get }
    /// Why the channel ended early when the server said nothing about it.
    var endedEarly: String { get }
    mutating func consume(_ bytes: ByteBufferView) throws(GitError) -> SSHExchangeStep<Output>
}

enum SSHExchangeStep<Output> {
    /// More bytes are needed.
    case more
    /// Send these, then keep reading.
    case send([UInt8])
    /// Finished: send these (possibly nothing) and close the channel.
    case done(Output, send: [UInt8])
}

/// One exec channel: runs `command` (`git-upload-pack '<path>'` or `git-receive-pack '<path>'`),
/// feeds what it writes to `exchange`, sends what the exchange answers, completes `result` with
/// its output, then closes the channel, so the command exits cleanly. A failure before the
/// outcome is reported with what the server wrote on stderr.
final class GitExecHandler<Exchange: SSHGitExchange>: ChannelDuplexHandler {
    typealias InboundIn = SSHChannelData
    typealias OutboundIn = Never
    typealias OutboundOut = SSHChannelData

    /// Server text kept for an error message; stderr beyond it is dropped.
    static var maxStderr: Int { 4096 }

    let command: String
    let result: EventLoopPromise<Exchange.Output>
    let prefix: String
    private var exchange: Exchange
    private var stderr: [UInt8] = []
    private var exitStatus: Int?
    private var finished = false
    /// Whether the server has said anything on this channel (data, stderr, exit status, a reply).
    private var heardFrom = false

    init(command: String, exchange: Exchange, result: EventLoopPromise<Exchange.Output>, prefix: String) {
        self.command = command
        self.exchange = exchange
        self.result = result
        self.prefix = prefix
    }

    func channelActive(context: ChannelHandlerContext) {
        let exec = SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true)
        context.triggerUserOutboundEvent(exec, promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(let bytes) = message.data else { return }
        heardFrom = true
        if message.type == .stdErr {
            stderr.append(contentsOf: bytes.readableBytesView.prefix(max(0, Self.maxStderr - stderr.count)))
            return
        }
        guard message.type == .channel, !finished else { return }
        do {
            switch try exchange.consume(bytes.readableBytesView) {
            case .more:
                return
            case .send(let reply):
                context.writeAndFlush(wrapOutboundOut(Self.data(reply)), promise: nil)
            case .done(let output, let reply):
                finished = true
                result.succeed(output)
                // Upload-pack reads a flush ("I want nothing", what `git ls-remote` sends), then
                // EOF, and exits; the server answers the close with its own.
                if !reply.isEmpty { context.writeAndFlush(wrapOutboundOut(Self.data(reply)), promise: nil) }
                context.close(promise: nil)
            }
        } catch {
            fail(context, GitError(error.kind, "\(prefix): \(error.message)"))
        }
    }

    private static func data(_ bytes: [UInt8]) -> SSHChannelData {
        SSHChannelData(type: .channel, data: .byteBuffer(ByteBuffer(bytes: bytes)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let status as SSHChannelRequestEvent.ExitStatus:
            heardFrom = true
            exitStatus = status.exitStatus
        case is ChannelSuccessEvent:
            heardFrom = true
        case is ChannelFailureEvent:
            heardFrom = true
            fail(context, GitError(.other, "\(prefix): the server refused to run \(Exchange.program)"))
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            result.fail(endedEarly())
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let retryable = !heardFrom
        fail(context, GitError(.unreachable, "\(prefix): the ssh channel failed: \(error)"), retryable: retryable)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: GitError, retryable: Bool = false) {
        guard !finished else { return }
        finished = true
        result.fail(SSHPollFailure(error: error, retryable: retryable))
        context.close(promise: nil)
    }

    /// The channel closed before the outcome: the server's words if it said any (a missing
    /// repository, a refused command), else a lost connection, which may be retried.
    private func endedEarly() -> SSHPollFailure {
        let text = RefAdvertisement.serverWords(stderr)
        if !text.isEmpty {
            return SSHPollFailure(error: GitError(GitError.kind(ofRemoteText: text), "\(prefix): \(text)"), retryable: false)
        }
        if let exitStatus {
            return SSHPollFailure(error: GitError(.other, "\(prefix): \(Exchange.program) exited with status \(exitStatus) \(exchange.stage)"), retryable: false)
        }
        return SSHPollFailure(error: GitError(.unreachable, "\(prefix): \(exchange.endedEarly)"), retryable: !heardFrom)
    }
}
