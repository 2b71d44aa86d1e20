import CLibGit2
import Foundation
@testable import GitSource
import GitTesting
import Synchronization
import Testing

@Suite("libgit2's plain TCP stream (SocketStream)", .serialized)
struct SocketStreamTests {
    @Test("libgit2 polls, fetches and pushes to a server that accepts and never answers: each times out, and its connection is closed (libgit2's own stream kept it, and a thread, until the server hung up)")
    func silentServer() async throws {
        let up = try UpstreamRepo()
        let head = try await daemonMirror(up.url).fetch()["main"]!
        let silent = try SilentServer()
        let url = "git://127.0.0.1:\(silent.port)/r.git"
        let poll = await pollError(daemonMirror(url, direct: false, timeout: .milliseconds(500)))
        #expect(poll?.kind == .timeout, "\(String(describing: poll))")

        // A fetch and a push through libgit2, in a mirror that has something to push.
        var options = GitMirror.Options(url: up.url, directory: tempDir("mirror"))
        _ = try await GitMirror(options).fetch()
        options.url = url
        options.timeout = .milliseconds(500)
        options.gitDaemonPollsDirect = false
        let mirror = GitMirror(options)
        await #expect(throws: GitError.self) { _ = try await mirror.fetch() }
        do {
            try await mirror.moveTag("flux-sync", to: head, message: "Sync pointer")
            Issue.record("a push to a silent server succeeded")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
        }
        #expect(try await within(5) { (try? establishedConnections(to: silent.port)) == 0 }, "every libgit2 socket is closed")
    }

    @Test("its sockets send small writes at once (TCP_NODELAY) and notice a peer gone silent (keepalive); a refused port is named")
    func socketOptions() throws {
        _ = LibGit2.ready
        let silent = try SilentServer()
        let stream = SocketStream.makeStream(host: "127.0.0.1", port: "\(silent.port)")
        defer { stream.pointee.free(stream) }
        #expect(stream.pointee.connect(stream) == 0)
        let fd = UnsafeMutablePointer<flotilla_socket_stream>(OpaquePointer(stream)).pointee.s
        func option(_ level: Int32, _ name: Int32) -> Int32 {
            var value: Int32 = -1
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, level, name, &value, &size)
            return value
        }
        #expect(option(Int32(IPPROTO_TCP), TCP_NODELAY) == 1)
        #expect(option(SOL_SOCKET, SO_KEEPALIVE) == 1)
        #expect(option(Int32(IPPROTO_TCP), TCP_KEEPIDLE) == 60)
        #expect(stream.pointee.write(stream, "0000", 4, 0) == 4)
        #expect(stream.pointee.close(stream) == 0)

        let closed = try freePort()
        let refused = SocketStream.makeStream(host: "127.0.0.1", port: "\(closed)")
        defer { refused.pointee.free(refused) }
        #expect(refused.pointee.connect(refused) == -1)
        #expect(git_error_last().map { String(cString: $0.pointee.message) } == "failed to connect to 127.0.0.1:\(closed): Connection refused")
    }

    @Test("a read waits for the server; a cancelled operation stops waiting within a slice")
    func cancelledRead() async throws {
        _ = LibGit2.ready
        let silent = try SilentServer()
        let context = CallbackContext(operation: "fetch", url: "git://127.0.0.1:\(silent.port)/r.git", credentials: .none, knownHosts: KnownHosts(""))
        // On a thread of its own, as libgit2 would: a read on a silent connection, then a cancel.
        let ended = Mutex<(Int, String)?>(nil)
        let port = silent.port
        let thread = Thread {
            SocketStream.running(context) {
                let stream = SocketStream.makeStream(host: "127.0.0.1", port: "\(port)")
                defer { stream.pointee.free(stream) }
                guard stream.pointee.connect(stream) == 0 else { return }
                var buffer = [UInt8](repeating: 0, count: 16)
                let count = stream.pointee.read(stream, &buffer, 16)
                ended.withLock { $0 = (count, git_error_last().map { String(cString: $0.pointee.message) } ?? "") }
            }
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(600))
        #expect(ended.withLock { $0 } == nil, "the read waits while the server is silent")
        context.cancel()
        #expect(try await within(5) { ended.withLock { $0 } != nil })
        let (count, message) = try #require(ended.withLock { $0 })
        #expect(count == -1)
        #expect(message == "could not read from 127.0.0.1:\(silent.port): the operation was cancelled or timed out")
    }
}
