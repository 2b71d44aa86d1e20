import Foundation
import NIOCore
import NIOPosix
import NIOSSH

/// What a connection's handshake checks and offers, and the names its errors use.
struct SSHHandshakeSettings: Sendable {
    let remote: SSHRemote
    let key: SSHClientKey
    let knownHosts: KnownHosts
    /// The remote's URL, redacted in every message.
    let url: String
    let operation: String
    /// How errors begin: the operation and the redacted URL (made once, not per poll).
    let prefix: String
    /// The connection these polls share (made once: its hash covers the known_hosts text).
    let poolKey: SSHConnections.Key

    init(remote: SSHRemote, key: SSHClientKey, knownHosts: KnownHosts, knownHostsText: String, url: String, operation: String) {
        self.remote = remote
        self.key = key
        self.knownHosts = knownHosts
        self.url = url
        self.operation = operation
        prefix = "\(operation) \(GitURL.redacted(url))"
        poolKey = SSHConnections.Key(host: remote.host, port: remote.connectPort, user: remote.user, keyDigest: key.digest, knownHosts: knownHostsText)
    }
}

/// Checks the server's host key against the instance's known_hosts, exactly as libgit2's
/// certificate callback does (same SHA-256 fingerprint, same errors); runs again on a re-key.
final class KnownHostsValidator: NIOSSHClientServerAuthenticationDelegate {
    let settings: SSHHandshakeSettings

    init(_ settings: SSHHandshakeSettings) { self.settings = settings }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        let line = String(openSSHPublicKey: hostKey).split(separator: " ")
        guard line.count >= 2, let blob = Data(base64Encoded: String(line[1])) else {
            validationCompletePromise.fail(GitError(.hostKeyUnknown, "host key of \(settings.remote.host) could not be read"))
            return
        }
        let fingerprint = KnownHosts.fingerprint(ofKeyBlob: Array(blob))
        if let refusal = settings.knownHosts.refusal(of: fingerprint, host: settings.remote.host, port: settings.remote.port) {
            validationCompletePromise.fail(refusal)
        } else {
            validationCompletePromise.succeed(())
        }
    }
}

/// Offers the deploy key once; a second question means the server refused it.
final class DeployKeyOffer: NIOSSHClientUserAuthenticationDelegate {
    let settings: SSHHandshakeSettings
    private var offered = false

    init(_ settings: SSHHandshakeSettings) { self.settings = settings }

    func nextAuthenticationType(availableMethods: NIOSSHAvailableUserAuthenticationMethods,
                                nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>) {
        guard !offered, availableMethods.contains(.publicKey) else {
            nextChallengePromise.fail(GitError.refusedCredentials(settings.operation, url: settings.url))
            return
        }
        offered = true
        nextChallengePromise.succeed(NIOSSHUserAuthenticationOffer(
            username: settings.remote.user, serviceName: "", offer: .privateKey(.init(privateKey: settings.key.privateKey))))
    }
}

/// Sits after `NIOSSHHandler` on a connection: completes `authenticated` when user authentication
/// succeeds, fails it with the first error (as a `GitError`), and closes the connection on any error.
final class SSHHandshakeHandler: ChannelInboundHandler {
    typealias InboundIn = Any
    let authenticated: EventLoopPromise<Void>
    let settings: SSHHandshakeSettings

    init(authenticated: EventLoopPromise<Void>, settings: SSHHandshakeSettings) {
        self.authenticated = authenticated
        self.settings = settings
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is UserAuthSuccessEvent { authenticated.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        authenticated.fail(Self.gitError(error, settings))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        authenticated.fail(GitError(.unreachable, "\(settings.prefix): failed to start ssh session: the server closed the connection"))
        context.fireChannelInactive()
    }

    /// A failure to connect or to complete the handshake, as a `GitError` of the right class.
    static func gitError(_ error: any Error, _ settings: SSHHandshakeSettings) -> GitError {
        if let error = error as? GitError { return error }
        if case ChannelError.connectTimeout = error {
            return GitError(.timeout, "\(settings.prefix): connecting to \(settings.remote.host) timed out")
        }
        if error is NIOSSHError {
            return GitError(.unreachable, "\(settings.prefix): failed to start ssh session: \(error)")
        }
        return GitError(.unreachable, "\(settings.prefix): failed to connect to \(settings.remote.host): \(reason(error))")
    }

    /// Why a connection could not be made, in a few words: the errno text, or the name lookup's error.
    static func reason(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let failure = error.connectionErrors.first { return reason(failure.error) }
            if let lookup = error.dnsAError ?? error.dnsAAAAError { return "could not resolve host (\(lookup))" }
            return "could not resolve host"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}
