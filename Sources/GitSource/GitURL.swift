import Foundation

/// Git remote URLs: the host (for known_hosts), the user, and a form safe to show.
public enum GitURL {
    /// `ssh://user:secret@host:22/x` → `ssh://user@host:22/x`; `https://user:token@host/x` → `https://host/x`.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var rest = url[scheme.upperBound...]
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }  // ?private_token=…
        // The authority ends at the first "/"; its userinfo at the last "@" in it (as git reads it).
        let authority = rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]
        guard let at = authority.lastIndex(of: "@") else { return String(url[..<scheme.upperBound]) + rest }
        let userinfo = rest[..<at]
        let prefix = String(url[..<scheme.upperBound])
        if url.hasPrefix("ssh://"), let colon = userinfo.firstIndex(of: ":") {
            return prefix + userinfo[..<colon] + rest[at...]
        }
        if url.hasPrefix("ssh://") { return prefix + rest }
        return prefix + rest[rest.index(after: at)...]
    }

    /// Removes any `scheme://user:pass@` userinfo inside a free-text message.
    static func scrub(_ text: String) -> String {
        var out = text
        for scheme in ["https://", "http://", "ssh://"] {
            var search = out.startIndex
            while let r = out.range(of: scheme, range: search..<out.endIndex) {
                let end = out[r.upperBound...].firstIndex { $0 == " " || $0 == "'" || $0 == "\"" } ?? out.endIndex
                let url = String(out[r.lowerBound..<end])
                let clean = redacted(url)
                out.replaceSubrange(r.lowerBound..<end, with: clean)
                search = out.index(r.lowerBound, offsetBy: clean.count, limitedBy: out.endIndex) ?? out.endIndex
            }
        }
        return out
    }

    public struct Parts: Sendable, Equatable {
        public var scheme: String
        public var user: String?
        public var host: String
        public var port: Int?

        public init(scheme: String, user: String?, host: String, port: Int?) {
            self.scheme = scheme
            self.user = user
            self.host = host
            self.port = port
        }
    }

    /// The repository a URL names, whatever the transport: `host/path` in lower case, without
    /// scheme, user, port or a trailing `.git` (`ssh://git@github.com:22/Org/App.git`,
    /// `git@github.com:org/app`, `https://github.com/org/app.git` are all `github.com/org/app`).
    /// Local paths are kept as they are (without `.git`).
    public static func repository(_ url: String) -> String {
        var path: Substring
        var host = ""
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            if url.hasPrefix("file://") { path = rest } else {
                host = parse(url)?.host ?? ""
                path = rest[slash...]
            }
        } else if let parts = parse(url), !url.hasPrefix("/") {
            host = parts.host
            path = url[url.index(after: url.firstIndex(of: ":")!)...]
        } else {
            path = Substring(url)
        }
        var text = String(path)
        while text.hasSuffix("/") { text.removeLast() }
        if text.hasSuffix(".git") { text.removeLast(4) }
        if !host.isEmpty { while text.hasPrefix("/") { text.removeFirst() } }
        return (host.isEmpty ? text : host + "/" + text).lowercased()
    }

    /// Scheme, user, host and port of `ssh://`, scp-like `git@host:org/repo`, `https://` and `file://` URLs.
    public static func parse(_ url: String) -> Parts? {
        if let scheme = url.range(of: "://") {
            let name = String(url[..<scheme.lowerBound])
            if name == "file" { return Parts(scheme: "file", user: nil, host: "", port: nil) }
            var rest = url[scheme.upperBound...]
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            var user: String? = nil
            if let at = rest.lastIndex(of: "@") {
                let info = rest[..<at]
                user = String(info.split(separator: ":", maxSplits: 1).first ?? "")
                rest = rest[rest.index(after: at)...]
            }
            var host = String(rest)
            var port: Int? = nil
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") { port = Int(after.dropFirst()) }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                port = Int(host[host.index(after: colon)...])
                host = String(host[..<colon])
            }
            return Parts(scheme: name, user: user, host: host, port: port)
        }
        // scp-like: [user@]host:path
        guard let colon = url.firstIndex(of: ":"), !url.hasPrefix("/") else { return nil }
        var hostPart = url[..<colon]
        var user: String? = nil
        if let at = hostPart.firstIndex(of: "@") {
            user = String(hostPart[..<at])
            hostPart = hostPart[hostPart.index(after: at)...]
        }
        return Parts(scheme: "ssh", user: user, host: String(hostPart), port: nil)
    }
}
