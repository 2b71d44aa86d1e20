import NIOCore
import NIOSSH

/// An exec channel whose bytes a git thread reads and writes through `SSHPipe`: it runs `command`,
/// completes `opened` once the server accepted it, and hands stdout, stderr, the exit status and
/// the end to the pipe. It reads only while the pipe has room.
final class SSHPipeHandler: ChannelDuplexHandler {
    typealias InboundIn = SSHChannelData
    typealias OutboundIn = SSHChannelData
    typealias OutboundOut = SSHChannelData

    let command: String
    let pipe: SSHPipe
    let opened: EventLoopPromise<Void>
    private var isOpen = false
    /// Whether the server has said anything on this channel.
    private var heardFrom = false
    private var context: ChannelHandlerContext?

    init(command: String, pipe: SSHPipe, opened: EventLoopPromise<Void>) {
        self.command = command
        self.pipe = pipe
        self.opened = opened
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pipe.attach(context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        let exec = SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true)
        context.triggerUserOutboundEvent(exec, promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(let bytes) = message.data else { return }
        heardFrom = true
        switch message.type {
        case .channel: pipe.append(bytes)
        case .stdErr: pipe.appendStderr(bytes)
        default: break
        }
    }

    func read(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let resume: @Sendable () -> Void = {
            loop.execute { handler.value.context?.read() }
        }
        if pipe.mayRead(orResume: resume) { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let status as SSHChannelRequestEvent.ExitStatus:
            heardFrom = true
            pipe.exited(status.exitStatus)
        case is ChannelSuccessEvent:
            heardFrom = true
            isOpen = true
            opened.succeed(())
        case is ChannelFailureEvent:
            heardFrom = true
            let detail = "the server refused to run \(pipe.program)"
            opened.fail(SSHPollFailure(error: GitError(.other, "\(pipe.prefix): \(detail)"), retryable: false))
            pipe.end(GitError(.other, detail))
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isOpen {
            let error = GitError(.unreachable, "\(pipe.prefix): the connection closed before \(pipe.program) started")
            opened.fail(SSHPollFailure(error: error, retryable: !heardFrom))
        }
        pipe.end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let detail = "the ssh channel failed: \(error)"
        if !isOpen { opened.fail(SSHPollFailure(error: GitError(.unreachable, "\(pipe.prefix): \(detail)"), retryable: !heardFrom)) }
        pipe.end(GitError(.unreachable, detail))
        context.close(promise: nil)
    }
}
