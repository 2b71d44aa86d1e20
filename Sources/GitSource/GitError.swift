import CLibGit2

/// A git failure, classified so the operator can report a condition reason. Messages name the
/// repository with credentials stripped, and never contain a secret.
public struct GitError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case authenticationFailed = "AuthenticationFailed"
        case hostKeyUnknown = "HostKeyUnknown"
        case hostKeyMismatch = "HostKeyMismatch"
        case unreachable = "Unreachable"
        case timeout = "Timeout"
        case notFound = "NotFound"
        case pushRejected = "PushRejected"
        case readOnly = "ReadOnly"
        case busy = "Busy"
        case cancelled = "Cancelled"
        case invalid = "Invalid"
        case other = "GitFailed"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The last libgit2 error, as a GitError for `operation` on `remote`.
    static func last(_ code: Int32, _ operation: String, remote: String = "") -> GitError {
        let detail = git_error_last().map { String(cString: $0.pointee.message) } ?? "libgit2 error \(code)"
        let target = remote.isEmpty ? "" : " \(GitURL.redacted(remote))"
        let kind: Kind
        switch code {
        case GIT_EAUTH.rawValue: kind = .authenticationFailed
        case GIT_ENOTFOUND.rawValue: kind = .notFound
        case GIT_ECERTIFICATE.rawValue: kind = .hostKeyUnknown
        default: kind = Self.kind(ofRemoteText: detail)
        }
        return GitError(kind, "\(operation)\(target): \(GitURL.scrub(detail))")
    }

    /// The class of a failure described only by text (libgit2's message, a server's `ERR` line or
    /// stderr): authentication, reachability, or other.
    static func kind(ofRemoteText detail: String) -> Kind {
        let lower = detail.lowercased()
        if lower.contains("authentication") || lower.contains("credentials") || lower.contains("permission denied") {
            return .authenticationFailed
        }
        if lower.contains("failed to connect") || lower.contains("could not resolve") || lower.contains("connection refused")
            || lower.contains("failed to start ssh session") || lower.contains("unreachable") {
            return .unreachable
        }
        return .other
    }

    /// The server refused the deploy key or credentials (both SSH transports say it this way).
    static func refusedCredentials(_ operation: String, url: String) -> GitError {
        GitError(.authenticationFailed, "\(operation) \(GitURL.redacted(url)): authentication failed (the deploy key or credentials were refused)")
    }
}

/// Calls a libgit2 function and throws its error on failure.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String, remote: String = "") throws(GitError) -> Int32 {
    guard code >= 0 else { throw GitError.last(code, operation(), remote: remote) }
    return code
}
