import Crypto
import FlotillaAPI
import Foundation
import GitSource
import KubeModel

/// The git hosts whose push webhooks a receiver understands (`spec.receiver.type`).
public enum ReceiverType: String, Sendable, CaseIterable {
    case github, gitlab, gitea, bitbucket, generic
}

/// What a verified delivery asks: wake the instances of these repositories (normalised, see
/// `GitURL.repository`) on this branch; no repositories (a generic hook) wakes every instance of
/// the receiver.
public struct PushEvent: Sendable, Equatable {
    public var repositories: Set<String>
    public var branch: String?
}

/// One webhook delivery, checked the way each provider documents it: the signature (or token)
/// against the receiver's Secret before anything of the body is read, then the event type, then
/// the push's repository and branch. No I/O; tested on its own (WebhookDeliveryTests).
public struct WebhookDelivery: Sendable {
    public enum Verdict: Sendable, Equatable {
        case push(PushEvent, delivery: String?)
        /// A ping or another event: answered 200, nothing woken.
        case ignored(String)
        case rejected(status: Int, reason: String)
    }

    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]
    /// The URL's query parameters (registries that sign nothing put the token there).
    public var query: [String: String]

    public init(headers: [String: String], body: [UInt8], query: [String: String] = [:]) {
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
        self.query = query
    }

    public func verdict(_ type: ReceiverType, token: String) -> Verdict {
        guard !token.isEmpty else { return .rejected(status: 401, reason: "the receiver's Secret has no token") }
        switch type {
        case .github:
            guard signed("x-hub-signature-256", prefix: "sha256=", token) else { return Self.badSignature }
            return event(headers["x-github-event"], push: ["push"], ping: ["ping"], delivery: headers["x-github-delivery"], parse: Self.githubLike)
        case .gitea:
            guard signed("x-gitea-signature", prefix: "", token) else { return Self.badSignature }
            return event(headers["x-gitea-event"], push: ["push"], ping: [], delivery: headers["x-gitea-delivery"], parse: Self.githubLike)
        case .gitlab:
            guard let given = headers["x-gitlab-token"], Self.equal(Array(given.utf8), Array(token.utf8)) else { return Self.badSignature }
            return event(headers["x-gitlab-event"], push: ["Push Hook"], ping: [], delivery: headers["x-gitlab-event-uuid"], parse: Self.gitlab)
        case .bitbucket:
            guard signed("x-hub-signature", prefix: "sha256=", token) else { return Self.badSignature }
            return event(headers["x-event-key"], push: ["repo:refs_changed", "repo:push"], ping: ["diagnostics:ping"],
                         delivery: headers["x-request-id"] ?? headers["x-hook-uuid"], parse: Self.bitbucket)
        case .generic:
            guard signed("x-signature", prefix: "sha256=", token) else { return Self.badSignature }
            return .push(PushEvent(repositories: [], branch: nil), delivery: headers["x-delivery"])
        }
    }

    static let badSignature = Verdict.rejected(status: 401, reason: "the signature or token does not match the receiver's Secret")

    /// HMAC-SHA256 of the body with the token, hex, compared in constant time.
    func signed(_ header: String, prefix: String, _ token: String) -> Bool {
        guard let value = headers[header], value.hasPrefix(prefix) else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(token.utf8)))
        let expected = Array(mac.map { String(format: "%02x", $0) }.joined().utf8)
        return Self.equal(Array(value.dropFirst(prefix.count).lowercased().utf8), expected)
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func event(_ name: String?, push: Set<String>, ping: Set<String>, delivery: String?, parse: (JSONValue) -> PushEvent?) -> Verdict {
        guard let name else { return .rejected(status: 400, reason: "no event header") }
        if ping.contains(name) { return .ignored("ping") }
        guard push.contains(name) else { return .ignored("event \(name) is not a push") }
        guard let json = try? JSONValue.parse(body), let event = parse(json), !event.repositories.isEmpty else {
            return .rejected(status: 400, reason: "the push names no repository")
        }
        return .push(event, delivery: delivery)
    }

    static func branch(_ ref: String?) -> String? {
        guard let ref, ref.hasPrefix("refs/heads/") else { return nil }
        return String(ref.dropFirst("refs/heads/".count))
    }

    static func repositories(_ urls: [JSONValue?]) -> Set<String> {
        Set(urls.compactMap { $0?.stringValue }.filter { !$0.isEmpty }.map(GitURL.repository))
    }

    /// GitHub and Gitea: `ref`, and the repository's clone, SSH and HTML URLs.
    static func githubLike(_ json: JSONValue) -> PushEvent? {
        let r = json["repository"]
        return PushEvent(repositories: repositories([r?["clone_url"], r?["ssh_url"], r?["html_url"], r?["git_url"]]), branch: branch(json["ref"]?.stringValue))
    }

    static func gitlab(_ json: JSONValue) -> PushEvent? {
        let p = json["project"], r = json["repository"]
        return PushEvent(repositories: repositories([p?["git_http_url"], p?["git_ssh_url"], p?["web_url"], r?["git_http_url"], r?["git_ssh_url"]]),
                         branch: branch(json["ref"]?.stringValue))
    }

    /// Bitbucket Server (`repo:refs_changed`: clone links, `changes[].refId`) and Cloud
    /// (`repo:push`: the HTML link, `push.changes[].new.name`).
    static func bitbucket(_ json: JSONValue) -> PushEvent? {
        let links = json["repository"]?["links"]
        var urls = (links?["clone"]?.arrayValue ?? []).map { $0["href"] }
        urls.append(links?["html"]?["href"])
        let server = json["changes"]?.arrayValue?.first?["refId"]?.stringValue
        let cloud = json["push"]?["changes"]?.arrayValue?.first?["new"]?["name"]?.stringValue
        return PushEvent(repositories: repositories(urls), branch: branch(server) ?? cloud)
    }
}
