import Foundation

/// Where a poll of an `http(s)://` remote goes, decided once per mirror: git's smart HTTP ref
/// discovery (`GET <url>/info/refs?service=git-upload-pack`, http-protocol.txt), protocol v0, with
/// basic auth from the mirror's username and password. URLs that libgit2 treats in ways this does
/// not (userinfo, a query or fragment, percent-escapes) keep libgit2.
struct SmartHTTPRemote: Sendable, Hashable {
    static let service = "git-upload-pack"
    static let contentType = "application/x-git-upload-pack-advertisement"
    static let userAgent = "git/2.0 (flotilla)"

    /// The discovery URL.
    let infoRefs: String
    /// `Basic …` for a username and password; nil: no credentials.
    let authorization: String?

    init?(url: String, credentials: GitCredentials) {
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), let parts = GitURL.parse(url), !parts.host.isEmpty,
              parts.user == nil, !url.contains("@"), !url.contains("?"), !url.contains("#"), !url.contains("%"),
              !url.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? true }) else { return nil }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        infoRefs = base + "/info/refs?service=\(Self.service)"
        switch credentials {
        case .userPassword(let username, let password):
            authorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case .none, .sshKey:
            authorization = nil
        }
    }

    /// The heads in a smart HTTP discovery body: the pkt-line `# service=git-upload-pack`, a flush,
    /// then the v0 advertisement (`RefAdvertisement`). Anything else (a dumb server's file list,
    /// protocol v2) is an error.
    static func heads(_ body: [UInt8]) throws(GitError) -> RemoteHeads {
        let announce = Array("# service=\(service)".utf8)
        guard body.count >= 4, let length = Int(String(decoding: body[0..<4], as: UTF8.self), radix: 16), length >= 4 + announce.count,
              body.count >= length + 4 else {
            throw GitError(.invalid, "the server did not announce \(service) (not a smart HTTP server)")
        }
        var line = body[4..<length]
        if line.last == UInt8(ascii: "\n") { line.removeLast() }
        guard line.elementsEqual(announce), body[length..<length + 4].elementsEqual("0000".utf8) else {
            throw GitError(.invalid, "the server did not announce \(service) (not a smart HTTP server)")
        }
        return try RefAdvertisement.parse(Array(body[(length + 4)...]))
    }
}
