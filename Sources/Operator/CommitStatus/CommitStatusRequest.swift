import Foundation
import GitSource
import KubeModel

/// The git hosts a revision's status is reported to (`spec.commitStatus.provider`).
public enum CommitStatusProvider: String, Sendable, CaseIterable {
    case github, gitlab, gitea, bitbucket
}

public enum CommitState: String, Sendable, Equatable {
    case pending, success, failure
}

/// One commit status, as each host's documented API takes it: the request's URL, headers and
/// body. No I/O; tested on its own (CommitStatusTests).
struct CommitStatusRequest: Equatable {
    var url: String
    var headers: [String: String]
    var body: [UInt8]

    /// The API base when the spec gives none: github.com's API (GitHub Enterprise: `/api/v3` on
    /// the host), the host itself for GitLab and Gitea, Bitbucket Cloud's API.
    static func defaultAddress(_ provider: CommitStatusProvider, host: String) -> String {
        switch provider {
        case .github: host == "github.com" ? "https://api.github.com" : "https://\(host)/api/v3"
        case .gitlab, .gitea: "https://\(host)"
        case .bitbucket: "https://api.bitbucket.org"
        }
    }

    /// nil when the repository URL names no owner and repository.
    static func make(_ provider: CommitStatusProvider, address: String, repository url: String, sha: String, state: CommitState,
                     context: String, description: String, link: String?, token: String) -> CommitStatusRequest? {
        let normalised = GitURL.repository(url)
        guard let slash = normalised.firstIndex(of: "/") else { return nil }
        let path = String(normalised[normalised.index(after: slash)...])
        guard path.contains("/") else { return nil }
        let base = address.hasSuffix("/") ? String(address.dropLast()) : address
        let text = String(description.prefix(140))
        switch provider {
        case .github, .gitea:
            let state: String = state == .pending ? "pending" : state == .success ? "success" : "failure"
            var body: JSONValue = ["state": .string(state), "context": .string(context), "description": .string(text)]
            if let link { body["target_url"] = .string(link) }
            let prefix = provider == .github ? "" : "/api/v1"
            return CommitStatusRequest(url: "\(base)\(prefix)/repos/\(path)/statuses/\(sha)",
                                       headers: ["Authorization": provider == .github ? "Bearer \(token)" : "token \(token)", "Content-Type": "application/json",
                                                 "Accept": provider == .github ? "application/vnd.github+json" : "application/json"],
                                       body: body.compactJSONBytes())
        case .gitlab:
            let state: String = state == .pending ? "running" : state == .success ? "success" : "failed"
            var body: JSONValue = ["state": .string(state), "name": .string(context), "description": .string(text)]
            if let link { body["target_url"] = .string(link) }
            let project = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? path
            return CommitStatusRequest(url: "\(base)/api/v4/projects/\(project)/statuses/\(sha)",
                                       headers: ["PRIVATE-TOKEN": token, "Content-Type": "application/json"], body: body.compactJSONBytes())
        case .bitbucket:
            let state: String = state == .pending ? "INPROGRESS" : state == .success ? "SUCCESSFUL" : "FAILED"
            var body: JSONValue = ["state": .string(state), "key": .string(String(context.prefix(40))), "name": .string(context), "description": .string(text)]
            body["url"] = .string(link ?? "https://flotilla.dev")
            return CommitStatusRequest(url: "\(base)/2.0/repositories/\(path)/commit/\(sha)/statuses/build",
                                       headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: body.compactJSONBytes())
        }
    }
}
