/// Where a `git://` poll goes, and the request that opens it: git's protocol v0 over TCP, as
/// `git daemon` serves it. The request is one pkt-line, `git-upload-pack <path>\0host=<host>[:<port>]\0`
/// (pack-protocol.txt's `git-proto-request`), the path as git sends it (`git://host/~user/repo`
/// asks for `~user/repo`). URLs with percent-escapes are left to libgit2, which decodes them.
struct GitDaemonRemote: Sendable, Hashable {
    static let defaultPort = 9418

    let host: String
    let port: Int?
    let path: String

    init?(url: String) {
        guard url.hasPrefix("git://"), let parts = GitURL.parse(url), parts.scheme == "git", !parts.host.isEmpty,
              parts.user == nil else { return nil }
        let rest = url.dropFirst("git://".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        var path = rest[slash...]
        if path.dropFirst().hasPrefix("~") { path = path.dropFirst() }
        guard path.count > 1, path.utf8.count < 60000, !path.contains("%"), !path.contains("\0"), !path.contains("?"), !path.contains("#") else { return nil }
        host = parts.host
        port = parts.port
        self.path = String(path)
        request = Self.request(host: host, port: port, path: self.path)
    }

    var connectPort: Int { port ?? Self.defaultPort }

    /// The request's pkt-line: four hex digits of length (counting themselves), then the payload.
    /// Made once per mirror, not per poll.
    let request: [UInt8]

    /// The request that opens a push (`git-receive-pack`); made when a push needs it.
    var receivePackRequest: [UInt8] { Self.request(host: host, port: port, path: path, service: "git-receive-pack") }

    private static func request(host: String, port: Int?, path: String, service: String = "git-upload-pack") -> [UInt8] {
        // An IPv6 literal goes in brackets, as git writes it.
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let hostParameter = port.map { "host=\(bracketed):\($0)" } ?? "host=\(bracketed)"
        let payload = "\(service) \(path)\0\(hostParameter)\0"
        let length = payload.utf8.count + 4
        let digits = String(length, radix: 16)
        return Array((String(repeating: "0", count: 4 - digits.count) + digits + payload).utf8)
    }
}
