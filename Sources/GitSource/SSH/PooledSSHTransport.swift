import CLibGit2
import Foundation

/// libgit2's SSH fetches and pushes on the pooled connections (`SSHConnections`), without a
/// handshake of their own. Registered for `ssh://`, `ssh+git://` and `git+ssh://` (and so for
/// scp-like URLs, which libgit2 looks up as `ssh://`): a smart transport (libgit2 does the protocol:
/// negotiation, packs, push commands) whose subtransport is an exec channel of `git-upload-pack` or
/// `git-receive-pack` on the key's pooled connection (`SSHPipe`). An operation whose mirror does
/// not poll over the pool (RSA or encrypted keys, a known_hosts without the host's ed25519 key)
/// gets libgit2's own SSH subtransport (libssh2), as before; so does any operation outside a git
/// thread's `CallbackContext`.
enum PooledSSHTransport {
    /// Which pool and settings a git thread's operation uses for SSH, if any.
    struct Route: Sendable {
        let pool: SSHConnections
        let settings: SSHHandshakeSettings
    }

    /// Once per process, with `LibGit2.ready`.
    static func register() {
        for scheme in ["ssh", "ssh+git", "git+ssh"] {
            _ = git_transport_register(scheme, { out, owner, _ in
                git_transport_smart(out, owner, PooledSSHTransport.definition)
            }, nil)
        }
    }

    /// The smart transport's subtransport: stateful (not rpc), like libgit2's ssh.
    /// nonisolated(unsafe): written once when first read (a `static let`), then only read, by libgit2.
    nonisolated(unsafe) private static let definition: UnsafeMutablePointer<git_smart_subtransport_definition> = {
        let definition = UnsafeMutablePointer<git_smart_subtransport_definition>.allocate(capacity: 1)
        definition.initialize(to: git_smart_subtransport_definition(callback: { out, owner, param in
            guard let route = SocketStream.currentContext?.pooledSSH else { return git_smart_subtransport_ssh(out, owner, param) }
            out?.pointee = PooledSSHTransport.makeSubtransport(route)
            return 0
        }, rpc: 0, param: nil))
        return definition
    }()

    /// A subtransport's state: its route, and the stream of its current command.
    final class Subtransport {
        let route: Route
        var stream: UnsafeMutablePointer<flotilla_subtransport_stream>?
        init(route: Route) { self.route = route }
    }

    static func makeSubtransport(_ route: Route) -> UnsafeMutablePointer<git_smart_subtransport> {
        let subtransport = UnsafeMutablePointer<flotilla_subtransport>.allocate(capacity: 1)
        subtransport.initialize(to: flotilla_subtransport())
        subtransport.pointee.state = Unmanaged.passRetained(Subtransport(route: route)).toOpaque()
        subtransport.pointee.parent.action = { out, raw, url, action in
            PooledSSHTransport.action(out, raw, url, action)
        }
        subtransport.pointee.parent.close = { _ in 0 }
        subtransport.pointee.parent.free = { raw in
            let subtransport = UnsafeMutablePointer<flotilla_subtransport>(OpaquePointer(raw!))
            Unmanaged<Subtransport>.fromOpaque(subtransport.pointee.state).release()
            subtransport.deallocate()
        }
        return UnsafeMutablePointer<git_smart_subtransport>(OpaquePointer(subtransport))
    }

    private static func state(_ raw: UnsafeMutablePointer<git_smart_subtransport>?) -> Subtransport {
        let subtransport = UnsafeMutablePointer<flotilla_subtransport>(OpaquePointer(raw!))
        return Unmanaged<Subtransport>.fromOpaque(subtransport.pointee.state).takeUnretainedValue()
    }

    /// A channel that could not be opened (a handshake, a host key, a key refused): the
    /// operation's diagnosis, reported with its kind instead of libgit2's text.
    private static func fail(_ error: GitError) -> Int32 {
        SocketStream.currentContext?.fail(error)
        git_error_set_str(Int32(GIT_ERROR_SSH.rawValue), error.message)
        return -1
    }

    /// A read or write that failed: libgit2's error, which it reports (or ignores: the flush it
    /// writes when closing a channel the server already closed).
    private static func failIO(_ error: GitError) -> Int32 {
        git_error_set_str(Int32(GIT_ERROR_SSH.rawValue), error.message)
        return -1
    }

    private static func action(_ out: UnsafeMutablePointer<UnsafeMutablePointer<git_smart_subtransport_stream>?>?, _ raw: UnsafeMutablePointer<git_smart_subtransport>?,
                               _ url: UnsafePointer<CChar>?, _ action: git_smart_service_t) -> Int32 {
        let state = state(raw)
        switch action {
        case GIT_SERVICE_UPLOADPACK, GIT_SERVICE_RECEIVEPACK:
            // The same command goes on after its advertisement (libgit2 calls LS first).
            guard let stream = state.stream else { return fail(GitError(.other, "ssh: \(action) without its ref listing first")) }
            out?.pointee = UnsafeMutablePointer<git_smart_subtransport_stream>(OpaquePointer(stream))
            return 0
        default:
            let receive = action == GIT_SERVICE_RECEIVEPACK_LS
            let context = SocketStream.currentContext
            let settings = state.route.settings
            let prefix = "\(context?.operation ?? "ssh") \(GitURL.redacted(settings.url))"
            let command = receive ? settings.remote.receivePackCommand : settings.remote.uploadPackCommand
            let pipe: SSHPipe
            do {
                pipe = try state.route.pool.openPipe(command, program: receive ? "git-receive-pack" : "git-upload-pack", settings, prefix: prefix,
                                                     timeout: context?.timeout ?? .seconds(20))
            } catch {
                return fail(error)
            }
            let stream = makeStream(pipe, raw)
            state.stream = stream
            out?.pointee = UnsafeMutablePointer<git_smart_subtransport_stream>(OpaquePointer(stream))
            return 0
        }
    }

    private static func makeStream(_ pipe: SSHPipe, _ owner: UnsafeMutablePointer<git_smart_subtransport>?) -> UnsafeMutablePointer<flotilla_subtransport_stream> {
        let stream = UnsafeMutablePointer<flotilla_subtransport_stream>.allocate(capacity: 1)
        stream.initialize(to: flotilla_subtransport_stream())
        stream.pointee.parent.subtransport = owner
        stream.pointee.state = Unmanaged.passRetained(pipe).toOpaque()
        stream.pointee.parent.read = { raw, buffer, size, read in
            let pipe = PooledSSHTransport.pipe(raw)
            do throws(GitError) {
                read?.pointee = try pipe.read(into: UnsafeMutableRawPointer(buffer!), count: size) { SocketStream.cancelled }
                return 0
            } catch {
                return PooledSSHTransport.failIO(error)
            }
        }
        stream.pointee.parent.write = { raw, buffer, length in
            let pipe = PooledSSHTransport.pipe(raw)
            do throws(GitError) {
                try pipe.write(UnsafeRawBufferPointer(start: buffer, count: length)) { SocketStream.cancelled }
                return 0
            } catch {
                return PooledSSHTransport.failIO(error)
            }
        }
        stream.pointee.parent.free = { raw in
            let stream = UnsafeMutablePointer<flotilla_subtransport_stream>(OpaquePointer(raw!))
            let state = PooledSSHTransport.state(stream.pointee.parent.subtransport)
            if state.stream == stream { state.stream = nil }
            let pipe = Unmanaged<SSHPipe>.fromOpaque(stream.pointee.state)
            pipe.takeUnretainedValue().close()
            pipe.release()
            stream.deallocate()
        }
        return stream
    }

    private static func pipe(_ raw: UnsafeMutablePointer<git_smart_subtransport_stream>?) -> SSHPipe {
        let stream = UnsafeMutablePointer<flotilla_subtransport_stream>(OpaquePointer(raw!))
        return Unmanaged<SSHPipe>.fromOpaque(stream.pointee.state).takeUnretainedValue()
    }
}
