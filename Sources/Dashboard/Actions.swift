import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// The writes the pages offer, each the same request the CLI verb sends, made with the user's own
/// credentials: the API server's RBAC decides, and its refusal is what the page shows.
enum Action: String, Sendable, CaseIterable {
    case sync, suspend, resume, approvePrune = "approve-prune"
    /// Through the request path (`requests.flotilla.dev/<id>`, answered in `status.requests`), as
    /// `flotilla policy --lock/--unlock` and `flotilla release` send them.
    case lock, unlock, release

    /// The merge patch this action sends; `user` is who asks (named in a commit the request makes).
    func patch(form: [String: String], user: String = "", now: Date = Date()) throws(ActionError) -> JSONValue {
        switch self {
        case .lock, .unlock, .release:
            let request = try instanceRequest(form: form, user: user)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let body = (try? encoder.encode(request)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return ["metadata": ["annotations": [.init(stringLiteral: Flotilla.requestAnnotationPrefix + InstanceRequest.newID(now: now)): .string(body)]]]
        case .sync:
            return Flotilla.reconcileRequest(at: now)
        case .suspend: return ["spec": ["suspend": true]]
        case .resume: return ["spec": ["suspend": false]]
        case .approvePrune:
            guard let revision = form["revision"], !revision.isEmpty, revision.allSatisfy(\.isHexDigit) else {
                throw ActionError("approve-prune needs the revision whose deletions are approved")
            }
            return ["metadata": ["annotations": [.init(stringLiteral: Flotilla.approvePruneAnnotation): .string(revision)]]]
        }
    }

    func instanceRequest(form: [String: String], user: String) throws(ActionError) -> InstanceRequest {
        let workload = (form["workload"] ?? "").trimmingSpacesAndTabs
        guard Self.isWorkloadID(workload) else {
            throw ActionError("\(rawValue) needs a workload as namespace:kind/name (e.g. team-a:deployment/web), not \"\(workload)\"")
        }
        var request = InstanceRequest(action: self == .release ? .release : .policy)
        request.workloads = [workload]
        request.user = user.isEmpty ? nil : user
        switch self {
        case .lock: request.lock = true
        case .unlock: request.lock = false
        default:
            let image = (form["image"] ?? "").trimmingSpacesAndTabs
            let last = image.split(separator: "/").last ?? ""
            guard !image.isEmpty, !image.contains(where: \.isWhitespace), last.contains(":") || image.contains("@") else {
                throw ActionError("release needs an image with its tag (e.g. registry.example/team/web:1.2.3), not \"\(image)\"")
            }
            request.image = image
        }
        return request
    }

    /// A Flux v1 workload id: `namespace:kind/name`.
    static func isWorkloadID(_ id: String) -> Bool {
        let parts = id.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let slash = parts[1].firstIndex(of: "/") else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        let (namespace, kind, name) = (parts[0], parts[1][..<slash], parts[1][parts[1].index(after: slash)...])
        return !kind.isEmpty && !name.isEmpty && [namespace, kind, name].allSatisfy { $0.lowercased().allSatisfy(allowed.contains) }
    }

    /// What the page says once the API server took the write.
    var done: String {
        switch self {
        case .lock, .unlock, .release: return "Request sent: the answer appears under Requests."
        case .sync: return "Sync requested: the instance fetches and applies now."
        case .suspend: return "Suspended: nothing is synced until it is resumed."
        case .resume: return "Resumed."
        case .approvePrune: return "Deletions approved for this revision."
        }
    }

    func perform(client: KubeClient, namespace: String, name: String, form: [String: String], user: String) async -> (message: String, failed: Bool) {
        let body: JSONValue
        do { body = try patch(form: form, user: user) } catch { return (error.message, true) }
        do {
            _ = try await client.patch(FluxInstance.resourceType, name: name, namespace: namespace, body)
            return (done, false)
        } catch {
            return ("\(rawValue) refused: \(error.message)", true)
        }
    }
}

struct ActionError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
