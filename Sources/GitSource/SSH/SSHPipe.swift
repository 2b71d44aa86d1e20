import Foundation
import NIOCore
import NIOSSH

/// The bytes of one exec channel, for a git thread that reads and writes them blocking (libgit2's
/// smart transport on a pooled connection, `PooledSSHTransport`). The channel's handler
/// (`SSHPipeHandler`) appends what the command writes; the git thread takes it. Every wait is at
/// most `SocketStream.slice` long, then the operation's cancellation is checked, as on libgit2's
/// sockets. At most `highWater` bytes are held: beyond that the channel stops reading (the SSH
/// window then stops the server) until the git thread has taken them.
final class SSHPipe: @unchecked Sendable {
    // @unchecked: every mutable field is read and written only with `condition` locked.
    static let highWater = 1 << 20
    static let maxStderr = 4096

    private let condition = NSCondition()
    private var chunks = CircularBuffer<ByteBuffer>()
    private var buffered = 0
    private var ended = false
    private var failure: GitError?
    private var stderr: [UInt8] = []
    private var exitStatus: Int?
    /// Resumes the channel's reading, set while it waits for the git thread to take bytes.
    private var resume: (@Sendable () -> Void)?
    /// The channel, once open; closed when the git thread is done with it.
    private var channel: (any Channel)?
    /// How errors begin: the operation and the redacted URL.
    let prefix: String
    let program: String

    init(prefix: String, program: String) {
        self.prefix = prefix
        self.program = program
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    // MARK: the channel's side (event loop)

    func attach(_ channel: any Channel) { locked { self.channel = channel } }

    /// Whether the channel may read more now; if not, `resume` is called once the git thread
    /// has taken enough.
    func mayRead(orResume resume: @escaping @Sendable () -> Void) -> Bool {
        locked {
            if buffered < Self.highWater { return true }
            self.resume = resume
            return false
        }
    }

    func append(_ bytes: ByteBuffer) {
        locked {
            buffered += bytes.readableBytes
            chunks.append(bytes)
            condition.broadcast()
        }
    }

    func appendStderr(_ bytes: ByteBuffer) {
        locked { stderr.append(contentsOf: bytes.readableBytesView.prefix(max(0, Self.maxStderr - stderr.count))) }
    }

    func exited(_ status: Int) { locked { exitStatus = status } }

    /// The channel closed (`error`: it failed).
    func end(_ error: GitError? = nil) {
        locked {
            ended = true
            if failure == nil { failure = error }
            condition.broadcast()
        }
    }

    // MARK: the git thread's side

    /// Copies up to `count` bytes into `buffer`; 0 at the end of the command's output. Throws
    /// the server's words (stderr) when the command ended with some, a failed channel, or a
    /// cancelled operation. Errors of reads and writes are details, without `prefix` (libgit2
    /// adds the operation and URL).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, cancelled: () -> Bool) throws(GitError) -> Int {
        var resume: (@Sendable () -> Void)?
        defer { resume?() }
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty {
            if let failure { throw failure }
            if ended {
                if let words = serverWords() { throw GitError(GitError.kind(ofRemoteText: words), words) }
                return 0
            }
            if cancelled() { throw GitError(.cancelled, "the operation was cancelled or timed out") }
            condition.wait(until: Date(timeIntervalSinceNow: Double(SocketStream.slice) / 1000))
        }
        var taken = 0
        while taken < count, var chunk = chunks.first {
            let n = min(count - taken, chunk.readableBytes)
            chunk.withUnsafeReadableBytes { (buffer + taken).copyMemory(from: $0.baseAddress!, byteCount: n) }
            chunk.moveReaderIndex(forwardBy: n)
            taken += n
            if chunk.readableBytes == 0 { chunks.removeFirst() } else { chunks[chunks.startIndex] = chunk }
        }
        buffered -= taken
        if buffered < Self.highWater / 2, let waiting = self.resume {
            self.resume = nil
            resume = waiting
        }
        return taken
    }

    /// Writes `bytes` to the command's stdin and waits until the channel took them.
    func write(_ bytes: UnsafeRawBufferPointer, cancelled: () -> Bool) throws(GitError) {
        guard let channel = locked({ channel }) else { throw GitError(.other, "the ssh channel is not open") }
        let data = SSHChannelData(type: .channel, data: .byteBuffer(ByteBuffer(bytes: bytes)))
        let written = channel.writeAndFlush(data)
        let done = DispatchSemaphore(value: 0)
        written.whenComplete { _ in done.signal() }
        while done.wait(timeout: .now() + .milliseconds(Int(SocketStream.slice))) == .timedOut {
            if cancelled() {
                channel.close(promise: nil)
                throw GitError(.cancelled, "the operation was cancelled or timed out")
            }
        }
        do {
            try written.wait()
        } catch {
            throw locked { failure } ?? GitError(.unreachable, "writing to the ssh channel failed: \(error)")
        }
    }

    /// Closes the channel (the git thread is done with it).
    func close() { locked { channel }?.close(promise: nil) }

    /// What the server said on stderr, or of the command's exit, when it ended early.
    private func serverWords() -> String? {
        let text = RefAdvertisement.serverWords(stderr)
        if !text.isEmpty { return text }
        if let exitStatus, exitStatus != 0 { return "\(program) exited with status \(exitStatus)" }
        return nil
    }
}
