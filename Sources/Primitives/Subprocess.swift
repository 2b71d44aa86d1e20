import CSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a command ended.
public struct SubprocessResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case outputTooLarge
    }
    public var outcome: Outcome
    public var stdout: [UInt8]
    /// The last bytes of stderr (bounded).
    public var stderrTail: String

    public init(outcome: Outcome, stdout: [UInt8], stderrTail: String) {
        self.outcome = outcome
        self.stdout = stdout
        self.stderrTail = stderrTail
    }
}

/// Runs `sh -c COMMAND` in a directory with exactly the given environment, a deadline and bounded
/// output. The command gets its own process group, so a timeout kills everything it started.
/// Blocking work (spawn, poll, wait) runs on a thread of its own, never on the cooperative pool.
public enum Subprocess {
    public struct Limits: Sendable {
        public var timeout: Duration
        public var maxStdout: Int
        public var stderrTail: Int
        public init(timeout: Duration, maxStdout: Int = 64 << 20, stderrTail: Int = 2048) {
            self.timeout = timeout
            self.maxStdout = maxStdout
            self.stderrTail = stderrTail
        }
    }

    public static func shell(_ command: String, in directory: String, environment: [String: String],
                             limits: Limits) async throws -> SubprocessResult {
        try await run(shellArguments(command, in: directory), environment: environment, limits: limits)
    }

    /// `sh -c` that changes to `directory` and evaluates `command` (glibc's
    /// posix_spawn_file_actions_addchdir_np is not visible to Swift, so `cd` is the shell's).
    public static func shellArguments(_ command: String, in directory: String) -> [String] {
        ["/bin/sh", "-c", "cd -- \"$1\" && eval \"$2\"", "sh", directory, command]
    }

    /// Runs `arguments` (the first is the program's absolute path) with exactly `environment`.
    public static func run(_ arguments: [String], environment: [String: String], limits: Limits) async throws -> SubprocessResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try runBlocking(arguments, environment, limits) })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// `run` on the calling thread: for callers already on a thread of their own that may block
    /// (a git thread signing the commit it is making).
    public static func runSync(_ arguments: [String], environment: [String: String], limits: Limits) throws -> SubprocessResult {
        try runBlocking(arguments, environment, limits)
    }

    /// A close-on-exec pipe (internal for tests).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        fds.withUnsafeMutableBufferPointer { flotilla_pipe_cloexec($0.baseAddress) == 0 }
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    static func runBlocking(_ words: [String], _ environment: [String: String], _ limits: Limits) throws -> SubprocessResult {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Close-on-exec from creation, so no process spawned concurrently (another instance's
        // command) inherits these pipes and holds them open; dup2 in the child clears the flag on
        // its 1 and 2.
        guard makePipe(&outPipe), makePipe(&errPipe) else { throw SpawnError(description: "cannot create pipes: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, words[0], &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard spawned == 0 else { throw SpawnError(description: "cannot start \(words[0]): \(String(cString: strerror(spawned)))") }

        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var outcome: SubprocessResult.Outcome? = nil
        let deadline = ContinuousClock.now + limits.timeout
        var open = [outPipe[0], errPipe[0]]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty && outcome == nil {
            let left = deadline - ContinuousClock.now
            if left <= .zero {
                outcome = .timedOut
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let millis = Int32(min(1_000, max(1, left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000)))
            let ready = poll(&fds, nfds_t(fds.count), millis)
            if ready < 0 && errno != EINTR { break }
            for fd in fds where fd.revents != 0 {
                let n = read(fd.fd, &buffer, buffer.count)
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 {
                    open.removeAll { $0 == fd.fd }
                } else if fd.fd == outPipe[0] {
                    stdout.append(contentsOf: buffer[0..<n])
                    if stdout.count > limits.maxStdout { outcome = .outputTooLarge }
                } else {
                    stderr.append(contentsOf: buffer[0..<n])
                    if stderr.count > 4 * limits.stderrTail { stderr.removeFirst(stderr.count - limits.stderrTail) }
                }
            }
        }
        // The command may close its output and keep running: the deadline holds for the wait too.
        var status: Int32 = 0
        var reaped = false
        while !reaped {
            if outcome != nil { kill(-pid, SIGKILL) }
            let r = waitpid(pid, &status, outcome == nil ? WNOHANG : 0)
            if r == pid {
                reaped = true
            } else if r < 0 && errno != EINTR {
                break
            } else if outcome == nil {
                if ContinuousClock.now >= deadline { outcome = .timedOut } else { usleep(10_000) }
            }
        }
        // Children that outlived sh (daemonised helpers) must not outlive the command.
        kill(-pid, SIGKILL)
        if outcome == nil {
            let signal = status & 0x7f
            outcome = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }
        let tail = String(decoding: stderr.suffix(limits.stderrTail), as: UTF8.self)
        return SubprocessResult(outcome: outcome!, stdout: stdout, stderrTail: tail)
    }
}
