import Foundation

/// Where an SSH poll goes, from the remote's URL: `ssh://[user@]host[:port]/path` (also `ssh+git://`
/// and `git+ssh://`) or scp-like `[user@]host:path`. The path is what git would send: for
/// `ssh://host/abs/path` it is `/abs/path` (`/~user/repo` becomes `~user/repo`), for
/// `git@host:org/repo.git` it is `org/repo.git`.
struct SSHRemote: Sendable, Hashable {
    let host: String
    /// The port as the URL gives it (nil: none given), which is how known_hosts and the host-key
    /// errors name the host; connections go to 22 when nil.
    let port: Int?
    let user: String
    let path: String
    /// `git-upload-pack '<path>'`, the path quoted as git's `sq_quote_buf` does: in single quotes,
    /// with `'` and `!` each closed, backslash-escaped and reopened.
    let uploadPackCommand: String
    /// `git-receive-pack '<path>'`, quoted the same way.
    let receivePackCommand: String

    init?(url: String) {
        guard let parts = GitURL.parse(url), ["ssh", "ssh+git", "git+ssh"].contains(parts.scheme), !parts.host.isEmpty else { return nil }
        host = parts.host
        port = parts.port
        user = parts.user.flatMap { $0.isEmpty ? nil : $0 } ?? "git"
        var path: Substring
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            path = rest[slash...]
            if path.dropFirst().hasPrefix("~") { path = path.dropFirst() }
        } else {
            guard let colon = url.firstIndex(of: ":") else { return nil }
            path = url[url.index(after: colon)...]
        }
        guard !path.isEmpty else { return nil }
        self.path = String(path)
        uploadPackCommand = "git-upload-pack " + Self.quoted(self.path)
        receivePackCommand = "git-receive-pack " + Self.quoted(self.path)
    }

    var connectPort: Int { port ?? 22 }

    static func quoted(_ text: String) -> String {
        var out = "'"
        for c in text {
            if c == "'" || c == "!" { out += "'\\\(c)'" } else { out.append(c) }
        }
        return out + "'"
    }
}
