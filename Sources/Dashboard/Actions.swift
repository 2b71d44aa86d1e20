import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// The writes the pages offer, each the same request the CLI verb sends, made with the user's own
/// credentials: the API server's RBAC decides, and its refusal is what the page shows.
enum Action: String, Sendable, CaseIterable {
    case sync, suspend, resume, approvePrune = "approve-prune"

    /// The merge patch this action sends.
    func patch(form: [String: String], now: Date = Date()) throws(ActionError) -> JSONValue {
        switch self {
        case .sync:
            // As `flotilla sync` writes it: a new value each time, so two requests in a second are two.
            let token = ISO8601DateFormatter().string(from: now) + "-" + UUID().uuidString.prefix(8).lowercased()
            return ["metadata": ["annotations": [.init(stringLiteral: Flotilla.reconcileRequestedAt): .string(token)]]]
        case .suspend: return ["spec": ["suspend": true]]
        case .resume: return ["spec": ["suspend": false]]
        case .approvePrune:
            guard let revision = form["revision"], !revision.isEmpty, revision.allSatisfy(\.isHexDigit) else {
                throw ActionError("approve-prune needs the revision whose deletions are approved")
            }
            return ["metadata": ["annotations": [.init(stringLiteral: Flotilla.approvePruneAnnotation): .string(revision)]]]
        }
    }

    /// What the page says once the API server took the write.
    var done: String {
        switch self {
        case .sync: return "Sync requested: the instance fetches and applies now."
        case .suspend: return "Suspended: nothing is synced until it is resumed."
        case .resume: return "Resumed."
        case .approvePrune: return "Deletions approved for this revision."
        }
    }

    func perform(client: KubeClient, namespace: String, name: String, form: [String: String]) async -> (message: String, failed: Bool) {
        let body: JSONValue
        do { body = try patch(form: form) } catch { return (error.message, true) }
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
