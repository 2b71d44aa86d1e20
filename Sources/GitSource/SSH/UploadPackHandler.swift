import Foundation
import NIOCore
import NIOSSH

/// How a poll on a pooled connection failed: the `GitError` to report, and whether it may be tried
/// once more on a fresh connection (the connection failed before any byte of the channel came).
struct SSHPollFailure: Error {
    var error: GitError
    var retryable: Bool
}

/// One exec channel: runs `git-upload-pack '<path>'`, reads the ref advertisement up to its flush
/// packet, completes `result`, then says "I want nothing" (a flush) and closes the channel, so
/// upload-pack exits cleanly. A failure before the advertisement is reported with what the server
/// wrote on stderr.
final class UploadPackHandler: ChannelDuplexHandler {
    typealias InboundIn = SSHChannelData
    typealias OutboundIn = Never
    typealias OutboundOut = SSHChannelData

    /// Server text kept for an error message; stderr beyond it is dropped.
    static let maxStderr = 4096

    let command: String
    let result: EventLoopPromise<RemoteHeads>
    let prefix: String
    private var advertisement = RefAdvertisement()
    private var stderr: [UInt8] = []
    private var exitStatus: Int?
    private var finished = false
    /// Whether the server has said anything on this channel (data, stderr, exit status, a reply).
    private var heardFrom = false

    init(command: String, result: EventLoopPromise<RemoteHeads>, prefix: String) {
        self.command = command
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
            guard let heads = try advertisement.consume(bytes.readableBytesView) else { return }
            finished = true
            result.succeed(heads)
            // "0000": no wants (what `git ls-remote` sends), then close: upload-pack reads the
            // flush, then EOF, and exits; the server answers the close with its own.
            let flush = SSHChannelData(type: .channel, data: .byteBuffer(ByteBuffer(string: "0000")))
            context.writeAndFlush(wrapOutboundOut(flush), promise: nil)
            context.close(promise: nil)
        } catch {
            fail(context, GitError(error.kind, "\(prefix): \(error.message)"))
        }
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
            fail(context, GitError(.other, "\(prefix): the server refused to run git-upload-pack"))
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

    /// The channel closed before the advertisement ended: the server's words if it said any (a
    /// missing repository, a refused command), else a lost connection, which may be retried.
    private func endedEarly() -> SSHPollFailure {
        let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let text = RefAdvertisement.printable(Array(lines.joined(separator: " ").utf8), limit: 400)
        if !text.isEmpty {
            return SSHPollFailure(error: GitError(GitError.kind(ofRemoteText: text), "\(prefix): \(text)"), retryable: false)
        }
        if let exitStatus {
            return SSHPollFailure(error: GitError(.other, "\(prefix): git-upload-pack exited with status \(exitStatus) before listing refs"), retryable: false)
        }
        let detail = advertisement.started ? "the ref advertisement ended early" : "the connection closed before git-upload-pack answered"
        return SSHPollFailure(error: GitError(.unreachable, "\(prefix): \(detail)"), retryable: !heardFrom)
    }
}
