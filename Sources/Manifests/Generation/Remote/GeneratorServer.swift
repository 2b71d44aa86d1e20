import Foundation
import Logging
import Primitives
#if canImport(Glibc)
import Glibc
#endif

/// The generator container's process (`flotilla generator-server`): it holds no credential (the
/// chart mounts no ServiceAccount token into its container and runs it under another uid) and
/// runs one command at a time, each in a fresh private directory holding only that request's
/// checkout. After each command it empties its whole scratch directory (the container's only
/// writable volume but the socket's), so no command ever sees another instance's data or what
/// another left behind; as the container's PID 1 it kills every other process, so nothing a
/// command started outlives it; and it listens again if the command replaced its socket.
public struct GeneratorServer: Sendable {
    public var socket: String
    /// Where checkouts are unpacked (the container's own writable volume).
    public var workDirectory: String
    public var logger: Logger

    public init(socket: String, workDirectory: String, logger: Logger) {
        self.socket = socket
        self.workDirectory = workDirectory
        self.logger = logger
    }

    /// Serves until the process ends. Blocking: call it from a thread of its own (or as the
    /// command's whole work).
    public func serveBlocking() throws -> Never {
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        var listener = try listen()
        logger.notice("generator server listening", metadata: ["socket": "\(socket)", "reapsAll": "\(getpid() == 1)"])
        while true {
            if !Self.isSocket(socket, listener.inode) {
                // A command unlinked or replaced the socket (its processes are gone by now).
                close(listener.fd)
                listener = try listen()
                logger.warning("generator socket replaced by a command; listening again", metadata: ["socket": "\(socket)"])
            }
            let fd = accept(listener.fd, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                throw WireError("accept: \(String(cString: strerror(errno)))")
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            serve(fd)
            close(fd)
        }
    }

    func listen() throws -> (fd: Int32, inode: UInt64) {
        let fd = try UnixSocket.listen(socket)
        // The operator's container runs under another uid: it must be able to connect.
        chmod(socket, 0o666)
        var info = stat()
        guard lstat(socket, &info) == 0 else { throw WireError("cannot stat \(socket)") }
        return (fd, UInt64(info.st_ino))
    }

    static func isSocket(_ path: String, _ inode: UInt64) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK && UInt64(info.st_ino) == inode
    }

    func serve(_ fd: Int32) {
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let directory = workDirectory + "/run-\(UUID().uuidString)"
        defer {
            endEverythingElse()
            emptyScratch()
        }
        do {
            let request = try JSONDecoder().decode(GeneratorRequest.self, from: Data(try UnixSocket.readFrame(fd, max: 1 << 20)))
            let tree = try UnixSocket.readFrame(fd, max: TreeArchive.maxBytes)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try TreeArchive.unpack(tree, into: directory)
            if !request.path.isEmpty { try TreeArchive.validate(request.path) }
            let arguments = Subprocess.shellArguments(request.command, in: request.path.isEmpty ? directory : directory + "/" + request.path)
            let result = try Subprocess.runSync(arguments, environment: request.environment, limits: request.limits)
            endEverythingElse()
            try UnixSocket.writeFrame(fd, Array(try JSONEncoder().encode(GeneratorResponse(result))))
            try UnixSocket.writeFrame(fd, result.stdout)
            if request.returnTree, result.outcome == .exited(0) {
                try UnixSocket.writeFrame(fd, try TreeArchive.pack(directory))
            }
            logger.info("generator command ran", metadata: ["outcome": "\(result.outcome)"])
        } catch {
            logger.warning("generator request failed", metadata: ["error": "\(error)"])
            if let header = try? JSONEncoder().encode(GeneratorResponse(failure: "\(error)")) {
                try? UnixSocket.writeFrame(fd, Array(header))
                try? UnixSocket.writeFrame(fd, [])
            }
        }
    }

    /// Removes everything in the scratch directory: this request's checkout and whatever its
    /// command wrote there (HOME, caches) for the next one to find.
    func emptyScratch() {
        let fm = FileManager.default
        for entry in (try? fm.contentsOfDirectory(atPath: workDirectory)) ?? [] {
            try? fm.removeItem(atPath: workDirectory + "/" + entry)
        }
    }

    /// As PID 1 of its container, kills every process but itself and reaps them: whatever a
    /// command left running (a `setsid` daemon included) ends with it. Elsewhere the command's
    /// process group was already killed by `Subprocess`.
    func endEverythingElse() {
        guard getpid() == 1 else { return }
        kill(-1, SIGKILL)
        var status: Int32 = 0
        while true {
            let r = waitpid(-1, &status, 0)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
        }
    }
}
