import Foundation
import Primitives
#if canImport(Glibc)
import Glibc
#endif

/// The operator's side of the generator container: sends one command with the checkout, waits for
/// its result, and (for updaters) puts the checkout the command left back in place of `root`.
public struct GeneratorClient: Sendable {
    public var socket: String

    public init(socket: String) { self.socket = socket }

    public func run(_ request: GeneratorRequest, root: String) async throws -> SubprocessResult {
        let socket = self.socket
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try Self.runBlocking(request, root: root, socket: socket) })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    static func runBlocking(_ request: GeneratorRequest, root: String, socket: String) throws -> SubprocessResult {
        let tree = try TreeArchive.pack(root)
        // The server enforces the command's deadline; the socket waits a little longer than that.
        let fd = try UnixSocket.connect(socket, timeout: request.limits.timeout + .seconds(30))
        defer { close(fd) }
        try UnixSocket.writeFrame(fd, Array(try JSONEncoder().encode(request)))
        try UnixSocket.writeFrame(fd, tree)
        let header = try JSONDecoder().decode(GeneratorResponse.self, from: Data(try UnixSocket.readFrame(fd, max: 1 << 20)))
        let stdout = try UnixSocket.readFrame(fd, max: request.maxStdout + 1)
        let result = try header.result(stdout: stdout)
        if request.returnTree, result.outcome == .exited(0) {
            let changed = try UnixSocket.readFrame(fd, max: TreeArchive.maxBytes)
            try FileManager.default.removeItem(atPath: root)
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try TreeArchive.unpack(changed, into: root)
        }
        return result
    }
}
