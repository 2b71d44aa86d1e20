import Foundation
import Primitives
#if canImport(Glibc)
import Glibc
#endif

/// One command for the generator container: what `CommandRunner` would run, sent over the socket
/// with the checkout. A connection carries one request and one response:
/// request  = frame(JSON GeneratorRequest) frame(TreeArchive of the checkout)
/// response = frame(JSON GeneratorResponse) frame(stdout) [frame(TreeArchive) when returnTree]
/// where a frame is an 8-byte big-endian length and that many bytes.
public struct GeneratorRequest: Codable, Sendable, Equatable {
    public var command: String
    /// Relative to the checkout's root ("" for the root).
    public var path: String
    public var environment: [String: String]
    public var timeoutMilliseconds: Int64
    public var maxStdout: Int
    /// Send the checkout back after the command (updaters change files).
    public var returnTree: Bool

    public init(command: String, path: String, environment: [String: String], limits: Subprocess.Limits, returnTree: Bool) {
        self.command = command
        self.path = path
        self.environment = environment
        let c = limits.timeout.components
        self.timeoutMilliseconds = c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
        self.maxStdout = limits.maxStdout
        self.returnTree = returnTree
    }

    public var limits: Subprocess.Limits { Subprocess.Limits(timeout: .milliseconds(timeoutMilliseconds), maxStdout: maxStdout) }
}

public struct GeneratorResponse: Codable, Sendable, Equatable {
    /// `exited`, `signalled`, `timedOut`, `outputTooLarge`, or `failed` (the server could not run it).
    public var outcome: String
    public var code: Int32?
    public var stderrTail: String
    public var error: String?

    init(_ result: SubprocessResult) {
        switch result.outcome {
        case .exited(let c): (outcome, code) = ("exited", c)
        case .signalled(let s): (outcome, code) = ("signalled", s)
        case .timedOut: outcome = "timedOut"
        case .outputTooLarge: outcome = "outputTooLarge"
        }
        stderrTail = result.stderrTail
    }

    init(failure: String) {
        outcome = "failed"
        stderrTail = ""
        error = failure
    }

    func result(stdout: [UInt8]) throws -> SubprocessResult {
        let outcome: SubprocessResult.Outcome
        switch self.outcome {
        case "exited": outcome = .exited(code ?? -1)
        case "signalled": outcome = .signalled(code ?? -1)
        case "timedOut": outcome = .timedOut
        case "outputTooLarge": outcome = .outputTooLarge
        default: throw WireError("the generator container could not run it: \(error ?? self.outcome)")
        }
        return SubprocessResult(outcome: outcome, stdout: stdout, stderrTail: stderrTail)
    }
}

struct WireError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Blocking Unix-socket I/O for the generator protocol (run on threads of their own).
enum UnixSocket {
    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw WireError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return address
    }

    static func connect(_ path: String, timeout: Duration) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireError("socket: errno \(errno)") }
        var address = try address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw WireError("cannot reach the generator container at \(path): \(reason)")
        }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func listen(_ path: String) throws -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireError("socket: errno \(errno)") }
        var address = try address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw WireError("cannot listen on \(path): \(reason)")
        }
        return fd
    }

    static func writeFrame(_ fd: Int32, _ bytes: [UInt8]) throws {
        var header: [UInt8] = []
        TreeArchive.appendLength(bytes.count, to: &header)
        try writeAll(fd, header)
        try writeAll(fd, bytes)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw WireError("the generator connection closed while writing (errno \(errno))") }
            sent += n
        }
    }

    static func readFrame(_ fd: Int32, max: Int) throws -> [UInt8] {
        var reader = ByteReader(try readExact(fd, 8))
        let length = try reader.length()
        guard length <= max else { throw WireError("a frame of \(length) bytes (at most \(max))") }
        return try readExact(fd, length)
    }

    static func readExact(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw WireError("the generator container did not answer in time") }
            guard n > 0 else { throw WireError("the generator connection closed early") }
            got += n
        }
        return out
    }
}
