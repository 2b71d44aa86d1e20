import Foundation

/// Where an SSH poll goes, from the remote's URL: `ssh://[user@]host[:port]/path` (also `ssh+git://`
/// and `git+ssh://`) or scp-like `[user@]host:path`. The path is what git would send: for
/// `ssh://host/abs/path` it is `/abs/path` (`/~user/repo` becomes `~user/repo`), for
/// `git@host:org/repo.git` it is `org/repo.git`.
struct SSHRemote: Sendable, Hashable {
    var host: String
    /// The port as the URL gives it (nil: none given), which is how known_hosts and the host-key
    /// errors name the host; connections go to 22 when nil.
    var port: Int?
    var user: String
    var path: String

    init?(url: String) {
        guard let parts = GitURL.parse(url), ["ssh", "ssh+git", "git+ssh"].contains(parts.scheme), !parts.host.isEmpty else { return nil }
        host = parts.host
        port = parts.port
        user = parts.user.flatMap { $0.isEmpty ? nil : $0 } ?? "git"
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            var path = rest[slash...]
            if path.dropFirst().hasPrefix("~") { path = path.dropFirst() }
            self.path = String(path)
        } else {
            guard let colon = url.firstIndex(of: ":") else { return nil }
            path = String(url[url.index(after: colon)...])
        }
        guard !path.isEmpty else { return nil }
    }

    var connectPort: Int { port ?? 22 }

    /// `git-upload-pack '<path>'`, the path quoted as git's `sq_quote_buf` does: in single quotes,
    /// with `'` and `!` each closed, backslash-escaped and reopened.
    var uploadPackCommand: String { "git-upload-pack " + Self.quoted(path) }

    static func quoted(_ text: String) -> String {
        var out = "'"
        for c in text {
            if c == "'" || c == "!" { out += "'\\\(c)'" } else { out.append(c) }
        }
        return out + "'"
    }
}
