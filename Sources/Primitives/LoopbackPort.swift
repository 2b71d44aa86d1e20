#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released):
/// for servers that must be told their port before they start (a tool's hook, a test fixture).
/// Another process may take it in between; callers that can bind port 0 themselves should.
public func freeLoopbackPort() -> Int? {
    guard let (fd, port) = loopbackSocket(listening: false) else { return nil }
    close(fd)
    return port
}

/// A TCP socket bound to 127.0.0.1 on a port of the kernel's choice (listening, with a backlog of
/// 16, when asked), and that port; nil when the kernel refuses. The caller closes it.
public func loopbackSocket(listening: Bool) -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else {
        close(fd)
        return nil
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
