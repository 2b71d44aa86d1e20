import CLibGit2
import Foundation
import Synchronization

/// How an instance authenticates to its remote. Keys come from memory (a Secret's data).
public enum GitCredentials: Sendable, Hashable {
    case none
    /// An OpenSSH/PEM private key (ed25519 or ECDSA; RSA works only with servers that still accept
    /// SHA-1 `ssh-rsa` signatures).
    case sshKey(privateKey: String, passphrase: String? = nil)
    case userPassword(username: String, password: String)
}

/// What the C callbacks need, passed through libgit2's `payload` (the callbacks capture nothing).
/// Sendable: its mutable state is atomics and mutexes.
final class CallbackContext: Sendable {
    let operation: String
    let url: String
    let credentials: GitCredentials
    let knownHosts: KnownHosts
    let maxCredentialAttempts = 2
    let attempts = Atomic<Int>(0)
    let cancelled = Atomic<Bool>(false)
    let done = Atomic<Bool>(false)
    /// A failure a callback diagnosed (host key, key type), reported instead of libgit2's text.
    let failure = Mutex<GitError?>(nil)
    let rejections = Mutex<[String]>([])

    /// Where SSH fetches and pushes go: the mirror's pooled connection, or libgit2's own when nil.
    let pooledSSH: PooledSSHTransport.Route?
    /// The operation's timeout, for the pooled SSH channel's deadline.
    let timeout: Duration

    init(operation: String, url: String, credentials: GitCredentials, knownHosts: KnownHosts, pooledSSH: PooledSSHTransport.Route? = nil,
         timeout: Duration = .seconds(20)) {
        self.operation = operation
        self.url = url
        self.credentials = credentials
        self.knownHosts = knownHosts
        self.pooledSSH = pooledSSH
        self.timeout = timeout
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }
    func finished() { done.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func fail(_ error: GitError) { failure.withLock { if $0 == nil { $0 = error } } }

    /// The error to report for a failed libgit2 call: what a callback diagnosed, else libgit2's.
    func error(_ code: Int32) -> GitError {
        var e = failure.withLock({ $0 }) ?? GitError.last(code, operation, remote: url)
        if failure.withLock({ $0 }) == nil && isCancelled {
            return GitError(.timeout, "\(operation) \(GitURL.redacted(url)) was cancelled or timed out")
        }
        if e.kind == .authenticationFailed || e.message.contains("ssh") {
            if case .sshKey(let key, _) = credentials, DeployKey.keyType(ofPrivateKey: key) == "ssh-rsa" {
                e = GitError(.authenticationFailed, "\(operation) \(GitURL.redacted(url)): the deploy key is an RSA key; libssh2 1.10 can only make SHA-1 ssh-rsa signatures, which OpenSSH 8.8 and later refuse — use an ed25519 or ECDSA deploy key")
            }
        }
        return e
    }

    var payload: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ payload: UnsafeMutableRawPointer?) -> CallbackContext {
        Unmanaged<CallbackContext>.fromOpaque(payload!).takeUnretainedValue()
    }

    /// Fills libgit2 remote callbacks with this context's handlers.
    func install(_ callbacks: inout git_remote_callbacks) {
        callbacks.payload = payload
        callbacks.credentials = { out, _, usernameFromURL, allowed, payload in
            let ctx = CallbackContext.from(payload)
            // libgit2 asks again after every failure: give up after a couple of attempts.
            if ctx.attempts.add(1, ordering: .relaxed).newValue > ctx.maxCredentialAttempts || ctx.isCancelled {
                ctx.fail(.refusedCredentials(ctx.operation, url: ctx.url))
                return GIT_EUSER.rawValue
            }
            let user = usernameFromURL.map { String(cString: $0) } ?? GitURL.parse(ctx.url)?.user ?? "git"
            switch ctx.credentials {
            case .sshKey(let key, let passphrase) where allowed & GIT_CREDENTIAL_SSH_MEMORY.rawValue != 0 || allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0:
                return git_credential_ssh_key_memory_new(out, user, nil, key, passphrase)
            case .userPassword(let u, let p) where allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0:
                return git_credential_userpass_plaintext_new(out, u, p)
            default:
                if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 { return git_credential_username_new(out, user) }
                ctx.fail(GitError(.authenticationFailed, "\(ctx.operation) \(GitURL.redacted(ctx.url)): the remote asks for credentials and none are configured"))
                return GIT_EUSER.rawValue
            }
        }
        callbacks.certificate_check = { cert, valid, host, payload in
            let ctx = CallbackContext.from(payload)
            guard let cert else { return -1 }
            if cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 {
                return cert.withMemoryRebound(to: git_cert_hostkey.self, capacity: 1) { hk -> Int32 in
                    let parts = GitURL.parse(ctx.url)
                    let hostName = host.map { String(cString: $0) } ?? parts?.host ?? ""
                    guard hk.pointee.type.rawValue & GIT_CERT_SSH_SHA256.rawValue != 0 else {
                        ctx.fail(GitError(.hostKeyUnknown, "host key of \(hostName) has no SHA-256 fingerprint to verify"))
                        return GIT_ECERTIFICATE.rawValue
                    }
                    let digest = withUnsafeBytes(of: hk.pointee.hash_sha256) { Array($0) }
                    let fingerprint = KnownHosts.fingerprint(sha256: digest)
                    guard let refusal = ctx.knownHosts.refusal(of: fingerprint, host: hostName, port: parts?.port) else { return 0 }
                    ctx.fail(refusal)
                    return GIT_ECERTIFICATE.rawValue
                }
            }
            // TLS: libgit2 has verified the chain against the configured CAs.
            return valid != 0 ? 0 : GIT_ECERTIFICATE.rawValue
        }
        callbacks.transfer_progress = { _, payload in
            CallbackContext.from(payload).isCancelled ? -1 : 0
        }
        callbacks.sideband_progress = { _, _, payload in
            CallbackContext.from(payload).isCancelled ? -1 : 0
        }
        callbacks.push_transfer_progress = { _, _, _, payload in
            CallbackContext.from(payload).isCancelled ? -1 : 0
        }
        callbacks.push_update_reference = { refname, status, payload in
            // A refused ref shows only here: git_remote_push itself still returns 0.
            if let status {
                let ctx = CallbackContext.from(payload)
                let ref = refname.map { String(cString: $0) } ?? "?"
                ctx.rejections.withLock { $0.append("\(ref): \(String(cString: status))") }
            }
            return 0
        }
    }
}
