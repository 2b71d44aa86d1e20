#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `git ls-remote` of a `git://` remote on a git thread, with a deadline on every wait: connect,
/// send the request, read the ref advertisement up to its flush packet, say "I want nothing" (a
/// flush, as `git ls-remote` does) and close. libgit2 1.5's own stream had no socket timeout, so a `git daemon`
/// that accepted a poll into its backlog and never served it held a git thread until it did; here
/// the socket is non-blocking and every wait is a `poll(2)` of at most `slice`, so a poll that timed
/// out or was cancelled (`CallbackContext.isCancelled`) closes its socket and frees its thread within
/// a slice. Fetches and pushes stay with libgit2.
///
/// Not SwiftNIO: a NIO channel per poll (its pipeline, promises, epoll registration and the hops
/// between the event loop and the caller) cost an idle operator with 1,000 `git://` remotes more
/// CPU than libgit2 did (2.57 against 2.00 % of a core, BENCHMARKS.md); these few system calls on
/// the thread libgit2 used cost less.
enum GitDaemonPoll {
    /// The longest single wait: how soon a cancelled or timed-out poll lets go of its thread.
    static let slice: Duration = .milliseconds(250)

    static func listRemote(_ remote: GitDaemonRemote, context: CallbackContext, timeout: Duration) async throws(GitError) -> RemoteHeads {
        let prefix = context.operation
        do {
            return try await Blocking.run(timeout: timeout, context: context) { () throws -> RemoteHeads in
                do { return try poll(remote, prefix: prefix, timeout: timeout, context: context) } catch { throw error as any Error }
            }
        } catch let error as GitError {
            throw error
        } catch {
            throw GitError(.other, "\(prefix): \(error)")
        }
    }

    /// The poll itself, blocking this thread until the heads arrive, the deadline passes or the
    /// context is cancelled.
    static func poll(_ remote: GitDaemonRemote, prefix: String, timeout: Duration, context: CallbackContext) throws(GitError) -> RemoteHeads {
        let deadline = PollDeadline(at: .now + timeout, timeout: timeout)
        let fd = try connect(remote, prefix: prefix, deadline: deadline, context: context)
        defer { close(fd) }
        try send(fd, remote.request, prefix: prefix, deadline: deadline, context: context)
        var advertisement = RefAdvertisement()
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        let heads = try readAdvertisement(fd, &advertisement, into: &buffer, refusal: "it is not exported", prefix: prefix, deadline: deadline, context: context)
        // "0000": no wants; upload-pack reads it and exits. Best effort: the answer is in.
        _ = "0000".withCString { Glibc.send(fd, $0, 4, Int32(MSG_NOSIGNAL)) }
        return heads
    }

    /// Reads the ref advertisement that answers the request sent on `fd`, up to its flush.
    /// `refusal` says why else `git daemon` may hang up without a word.
    static func readAdvertisement(_ fd: Int32, _ advertisement: inout RefAdvertisement, into buffer: inout [UInt8], refusal: String, prefix: String,
                                  deadline: PollDeadline, context: CallbackContext) throws(GitError) -> RemoteHeads {
        while true {
            let count = try receive(fd, into: &buffer, prefix: prefix, deadline: deadline, context: context)
            if count == 0 {
                // git daemon hangs up without a word on a repository it does not serve, unless
                // it runs with --informative-errors (an ERR line).
                throw advertisement.started
                    ? GitError(.unreachable, "\(prefix): the ref advertisement ended early")
                    : GitError(.notFound, "\(prefix): the server closed the connection without listing refs (no such repository, or \(refusal))")
            }
            let heads: RemoteHeads?
            do { heads = try advertisement.consume(buffer[0..<count]) } catch { throw GitError(error.kind, "\(prefix): \(error.message)") }
            if let heads { return heads }
        }
    }

    /// The next bytes from the server into `buffer` (0 when it closed), waiting with the deadline.
    static func receive(_ fd: Int32, into buffer: inout [UInt8], prefix: String, deadline: PollDeadline, context: CallbackContext) throws(GitError) -> Int {
        while true {
            try wait(fd, for: Int16(POLLIN), prefix: prefix, deadline: deadline, context: context)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return count }
            if errno == EINTR || errno == EAGAIN { continue }
            throw GitError(.unreachable, "\(prefix): the connection failed: \(String(cString: strerror(errno)))")
        }
    }

    /// A non-blocking TCP socket connected to the remote (each address in turn, as getaddrinfo
    /// gives them), or libgit2's wording for why not ("failed to connect to …: Connection refused").
    static func connect(_ remote: GitDaemonRemote, prefix: String, deadline: PollDeadline, context: CallbackContext) throws(GitError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(remote.host, String(remote.connectPort), &hints, &list)
        guard status == 0, let list else {
            throw GitError(.unreachable, "\(prefix): failed to connect to \(remote.host):\(remote.connectPort): could not resolve host \(remote.host)")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = list
        while let address = next {
            next = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { reason = String(cString: strerror(errno)); continue }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                reason = String(cString: strerror(errno))
                close(fd)
                continue
            }
            do {
                try wait(fd, for: Int16(POLLOUT), prefix: prefix, deadline: deadline, context: context)
            } catch {
                close(fd)
                throw error.kind == .timeout ? GitError(.timeout, "\(prefix): connecting to \(remote.host) timed out") : error
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return fd }
            reason = String(cString: strerror(error))
            close(fd)
        }
        throw GitError(.unreachable, "\(prefix): failed to connect to \(remote.host):\(remote.connectPort): \(reason)")
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], prefix: String, deadline: PollDeadline, context: CallbackContext) throws(GitError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                sent += count
            } else if errno == EAGAIN || errno == EINTR {
                try wait(fd, for: Int16(POLLOUT), prefix: prefix, deadline: deadline, context: context)
            } else {
                throw GitError(.unreachable, "\(prefix): the connection failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Waits until `fd` is ready for `events`, a slice at a time; throws once the deadline passed
    /// or the context was cancelled (the caller has its answer already: this only frees the thread).
    static func wait(_ fd: Int32, for events: Int16, prefix: String, deadline: PollDeadline, context: CallbackContext) throws(GitError) {
        while true {
            if context.isCancelled { throw GitError(.cancelled, "\(prefix) cancelled") }
            let left = ContinuousClock.now.duration(to: deadline.at)
            // Worded as Blocking's own timeout, whichever of the two notices first.
            guard left > .zero else { throw GitError(.timeout, "\(prefix) timed out after \(deadline.timeout)") }
            let wait = min(left, slice)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = Glibc.poll(&entry, 1, Int32(max(1, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw GitError(.unreachable, "\(prefix): the connection failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// When a poll must be done by, and the timeout it came from (for the error).
struct PollDeadline {
    let at: ContinuousClock.Instant
    let timeout: Duration
}
