import CLibGit2
#if canImport(Glibc)
import Glibc
#endif

/// libgit2's plain TCP stream, replaced for the whole process (`git_stream_register`): every
/// libgit2 connection (`git://`, `http://`, the socket under https and under libssh2) is one of
/// these. libgit2 1.5's own stream has two faults this one fixes:
/// - It never sets `TCP_NODELAY`, nor acknowledges at once. A push's command and pack go out as
///   separate small writes, and a fetch's negotiation answers each `have` with a small `ACK` line:
///   the second small write of either side then waited for the other's delayed ACK, about 40 ms.
/// - It waits on a silent server forever. `Blocking.run` answers its caller at the timeout, but the
///   git thread stayed blocked in `recv` (and the connection open) until the server spoke or the
///   kernel gave up. Here every wait is a `poll(2)` of at most `slice`, after which the operation's
///   `CallbackContext` is asked whether it was cancelled (a timeout cancels it): a hung operation
///   then fails, closes its connection and frees its thread within `slice` of its timeout.
///
/// The socket is non-blocking from the start; libssh2 sets that itself anyway.
enum SocketStream {
    /// The longest a wait lasts before the operation's cancellation is checked again, in ms.
    static let slice: Int32 = 250

    /// Makes libgit2 open its plain TCP connections with this stream. Once per process.
    static func register() -> Int32 {
        var registration = git_stream_registration()
        registration.version = GIT_STREAM_VERSION
        registration.`init` = { out, host, port in
            guard let out, let host, let port else { return -1 }
            out.pointee = SocketStream.makeStream(host: host, port: port)
            return 0
        }
        return git_stream_register(GIT_STREAM_STANDARD, &registration)  // copied by libgit2
    }

    // MARK: the operation a thread runs

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` (blocking libgit2 work) with `context` as the calling thread's operation: its
    /// streams stop waiting once `context` is cancelled.
    static func running<T>(_ context: CallbackContext, _ body: () throws -> T) rethrows -> T {
        // Unretained: `context` outlives `body`, and the key is cleared before it returns.
        pthread_setspecific(key, Unmanaged.passUnretained(context).toOpaque())
        defer { pthread_setspecific(key, nil) }
        return try body()
    }

    /// The operation the calling thread runs, if any.
    static var currentContext: CallbackContext? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<CallbackContext>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Whether the calling thread's operation was cancelled (or timed out).
    static var cancelled: Bool { currentContext?.isCancelled ?? false }

    // MARK: the stream

    static func makeStream(host: UnsafePointer<CChar>, port: UnsafePointer<CChar>) -> UnsafeMutablePointer<git_stream> {
        let stream = UnsafeMutablePointer<flotilla_socket_stream>.allocate(capacity: 1)
        stream.initialize(to: flotilla_socket_stream())
        stream.pointee.host = strdup(host)
        stream.pointee.port = strdup(port)
        stream.pointee.s = -1
        stream.pointee.parent.version = GIT_STREAM_VERSION
        stream.pointee.parent.connect = { SocketStream.connect(SocketStream.own($0)) }
        stream.pointee.parent.read = { SocketStream.read(SocketStream.own($0), $1, $2) }
        stream.pointee.parent.write = { raw, data, length, _ in SocketStream.write(SocketStream.own(raw), data, length) }
        stream.pointee.parent.close = { raw in
            let stream = SocketStream.own(raw)
            if stream.pointee.s >= 0 { Glibc.close(stream.pointee.s) }
            stream.pointee.s = -1
            return 0
        }
        stream.pointee.parent.free = { raw in
            let stream = SocketStream.own(raw)
            if stream.pointee.s >= 0 { Glibc.close(stream.pointee.s) }
            free(stream.pointee.host)
            free(stream.pointee.port)
            stream.deallocate()
        }
        return UnsafeMutablePointer<git_stream>(OpaquePointer(stream))
    }

    /// The stream behind libgit2's pointer to its first member.
    private static func own(_ raw: UnsafeMutablePointer<git_stream>?) -> UnsafeMutablePointer<flotilla_socket_stream> {
        UnsafeMutablePointer<flotilla_socket_stream>(OpaquePointer(raw!))
    }

    private static func name(_ stream: UnsafeMutablePointer<flotilla_socket_stream>) -> String {
        "\(String(cString: stream.pointee.host)):\(String(cString: stream.pointee.port))"
    }

    /// Sets libgit2's error and returns its failure code.
    private static func fail(_ message: String) -> Int32 {
        git_error_set_str(Int32(GIT_ERROR_NET.rawValue), message)
        return -1
    }

    private static func describe(_ error: Int32) -> String {
        error == ECANCELED ? "the operation was cancelled or timed out" : String(cString: strerror(error))
    }

    private static func connect(_ stream: UnsafeMutablePointer<flotilla_socket_stream>) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var info: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(stream.pointee.host, stream.pointee.port, &hints, &info)
        guard resolved == 0 else {
            return fail("could not resolve \(String(cString: stream.pointee.host)): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(info) }
        var error = ECONNREFUSED
        var next = info
        while let address = next, error != ECANCELED {
            next = address.pointee.ai_next
            let flags = Int32(SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue)
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | flags, address.pointee.ai_protocol)
            guard fd >= 0 else {
                error = errno
                continue
            }
            error = connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if error == 0 {
                configure(fd)
                stream.pointee.s = fd
                return 0
            }
            Glibc.close(fd)
        }
        return fail("failed to connect to \(name(stream)): \(describe(error))")
    }

    /// Connects the non-blocking `fd`; 0 or the error.
    private static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        guard Glibc.connect(fd, address, length) != 0 else { return 0 }
        guard errno == EINPROGRESS else { return errno }
        let waited = wait(fd, for: POLLOUT)
        guard waited == 0 else { return waited }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 else { return errno }
        return error
    }

    /// No Nagle delay; a peer gone without a word (a NAT entry dropped) is noticed within about two
    /// minutes of silence, not the kernel's two hours (as `SSHConnection`'s sockets).
    private static func configure(_ fd: Int32) {
        for (level, option, value) in [(Int32(IPPROTO_TCP), TCP_NODELAY, 1), (SOL_SOCKET, SO_KEEPALIVE, 1),
                                       (Int32(IPPROTO_TCP), TCP_KEEPIDLE, 60), (Int32(IPPROTO_TCP), TCP_KEEPINTVL, 15),
                                       (Int32(IPPROTO_TCP), TCP_KEEPCNT, 4)] {
            var value = Int32(value)
            setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Acknowledges what was read at once, before waiting for more. The server's side has Nagle's
    /// algorithm on (`git upload-pack` writes each `ACK` of a fetch's negotiation as a small
    /// write): it holds its next small write until this side acknowledges the last, and a
    /// delayed ACK would hold that for about 40 ms. The kernel leaves quick-ACK mode by itself, so
    /// it is asked again before each wait.
    private static func acknowledge(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Waits until `fd` is ready for `events`, a `slice` at a time while the operation is not
    /// cancelled; 0, `ECANCELED` or the error.
    private static func wait(_ fd: Int32, for events: Int32) -> Int32 {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        while !cancelled {
            let ready = poll(&entry, 1, slice)
            if ready > 0 { return 0 }
            if ready < 0 && errno != EINTR { return errno }
        }
        return ECANCELED
    }

    private static func read(_ stream: UnsafeMutablePointer<flotilla_socket_stream>, _ buffer: UnsafeMutableRawPointer?, _ length: Int) -> Int {
        let fd = stream.pointee.s
        while true {
            let count = recv(fd, buffer, length, 0)
            if count >= 0 { return count }
            var error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                acknowledge(fd)
                error = wait(fd, for: POLLIN)
                if error == 0 { continue }
            }
            return Int(fail("could not read from \(name(stream)): \(describe(error))"))
        }
    }

    private static func write(_ stream: UnsafeMutablePointer<flotilla_socket_stream>, _ data: UnsafePointer<CChar>?, _ length: Int) -> Int {
        let fd = stream.pointee.s
        while true {
            let count = send(fd, data, length, Int32(MSG_NOSIGNAL))
            if count >= 0 { return count }
            var error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                error = wait(fd, for: POLLOUT)
                if error == 0 { continue }
            }
            return Int(fail("could not write to \(name(stream)): \(describe(error))"))
        }
    }
}
