#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Acknowledges what a TCP connection received at once, after each burst of reads, instead of
/// after the kernel's delayed-ACK timer (about 40 ms). A server with Nagle's algorithm on holds its
/// next small write until the last is acknowledged: sshd does for sessions without a terminal,
/// which is every git command, so the ref advertisement, the end of the stream and the channel's
/// close each waited for a delayed ACK. Linux leaves quick-ACK mode by itself, so it is asked again
/// after every burst (`SocketStream` does the same for libgit2's connections).
final class QuickAckHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelReadComplete(context: ChannelHandlerContext) {
        _ = try? context.channel.syncOptions?.setOption(.tcpOption(.init(rawValue: TCP_QUICKACK)), value: 1)
        context.fireChannelReadComplete()
    }
}
