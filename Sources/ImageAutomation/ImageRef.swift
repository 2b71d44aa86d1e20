import Foundation

/// A container image reference as written in a pod spec, split the way Docker does it: a first
/// component with a dot or a colon, or `localhost`, is the registry host; otherwise the image is on
/// Docker Hub, where a one-component name lives under `library/`.
public struct ImageRef: Sendable, Hashable, CustomStringConvertible {
    /// The registry host as written (`docker.io` for Docker Hub), with its port.
    public var host: String
    /// The repository path on that host (`library/nginx`).
    public var repository: String
    public var tag: String?
    public var digest: String?

    public static let dockerHub = "docker.io"

    public init(host: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `[host[:port]/]path[:tag][@digest]`; nil when it is not an image reference.
    public init?(_ text: String) {
        var rest = Substring(text.trimmingWhitespace)
        guard !rest.isEmpty, !rest.contains(where: { $0 == " " || $0 == "\t" }) else { return nil }
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard let d = digest, d.contains(":") else { return nil }
        }
        // A tag is after the last colon, unless that colon is part of the host (no slash after it).
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let t = String(rest[rest.index(after: colon)...])
            guard Self.isTag(t) else { return nil }
            tag = t
            rest = rest[..<colon]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty) else { return nil }
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            host = parts[0]
            repository = parts.dropFirst().joined(separator: "/")
        } else {
            host = Self.dockerHub
            repository = parts.count == 1 ? "library/" + parts[0] : parts.joined(separator: "/")
        }
        if host == "index.docker.io" || host == "registry-1.docker.io" { host = Self.dockerHub }
        guard repository.allSatisfy({ $0.isLowercase || $0.isNumber || "._-/".contains($0) }) else { return nil }
    }

    static func isTag(_ t: String) -> Bool {
        guard let first = t.first, first.isLetter || first.isNumber || first == "_", t.count <= 128 else { return false }
        return t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// `host/repository`: the name registries and caches know the image by.
    public var name: String { host + "/" + repository }

    /// The host the registry API is served from (Docker Hub's API is not on docker.io).
    public var apiHost: String { host == Self.dockerHub ? "registry-1.docker.io" : host }

    /// The reference as a user would write it: Docker Hub images without `docker.io/` and
    /// `library/`, so that an edit keeps the file's own spelling for the common case.
    public var description: String {
        var s = host == Self.dockerHub
            ? (repository.hasPrefix("library/") ? String(repository.dropFirst("library/".count)) : repository)
            : name
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest }
        return s
    }

    /// `text` with its tag replaced, keeping how the image was spelled (host, `library/`).
    public static func retag(_ text: String, to tag: String) -> String? {
        guard let ref = ImageRef(text) else { return nil }
        var base = Substring(text.trimmingWhitespace)
        if let at = base.firstIndex(of: "@") { base = base[..<at] }
        if ref.tag != nil, let colon = base.lastIndex(of: ":") { base = base[..<colon] }
        return String(base) + ":" + tag
    }
}

extension String {
    var trimmingWhitespace: Substring {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
