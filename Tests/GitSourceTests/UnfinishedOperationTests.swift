import Foundation
import GitSource
import GitTesting
import Testing

@Suite("An operation that outlives its timeout", .serialized)
struct UnfinishedOperationTests {
    @Test("a fetch that timed out on a server that never answers keeps its thread; the next operation waits for it up to its own timeout, is Busy instead of hanging a second thread, and goes ahead as soon as the first ends")
    func busyUntilTheServerHangsUp() async throws {
        var silent: SilentServer? = try SilentServer()
        let port = silent!.port
        var options = GitMirror.Options(url: "git://127.0.0.1:\(port)/repo.git", directory: tempDir("unfinished"))
        options.timeout = .seconds(2)
        let mirror = GitMirror(options)
        do {
            try await mirror.fetch()
            Issue.record("a silent server answered")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
        }
        #expect(try establishedConnections(to: port) == 1, "libgit2's fetch still holds its connection (and thread)")

        do {
            try await mirror.fetch()
            Issue.record("a second fetch started beside the first")
        } catch {
            #expect(error.kind == .busy, "\(error)")
            #expect(error.message == "fetch git://127.0.0.1:\(port)/repo.git: an earlier operation on this remote timed out and still waits for the server; not starting another until it ends")
        }
        #expect(try establishedConnections(to: port) == 1, "no second connection, no second thread")
        do {
            _ = try await mirror.revision(branch: "main")
            Issue.record("a read of the mirror ran while the fetch may still write it")
        } catch {
            #expect(error.kind == .busy)
        }

        // The next fetch waits for the first; the listener closes while it waits (the kernel resets
        // the connection it queued), the first fetch ends, and the next goes ahead at once.
        let next = Task { () -> GitError? in
            do { try await mirror.fetch() } catch { return error as? GitError }
            return nil
        }
        try await Task.sleep(for: .milliseconds(300))
        silent = nil
        let error = await next.value
        #expect(error?.kind == .unreachable, "it ran and found the port closed: \(String(describing: error))")
    }
}
