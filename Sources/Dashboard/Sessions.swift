import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import Synchronization

/// Who is looking, in the operator's dashboard (`--ui-address`): a person signs in with a Kubernetes
/// bearer token, which the API server vouches for (TokenReview), and every read and write of theirs
/// is then made with that token, so their own RBAC decides. The operator never reads or writes on
/// their behalf with its own rights (it is not even granted impersonation). Never anonymous.
final class Sessions: Sendable {
    struct Session: Sendable {
        var user: String
        var client: KubeClient
        var expires: Date
        /// namespace → may this user list FluxInstances there, and until when that answer holds.
        var access: [String: (allowed: Bool, until: Date)] = [:]
    }

    static let lifetime: TimeInterval = 8 * 3600
    static let accessTTL: TimeInterval = 30
    let operatorClient: KubeClient
    private let sessions = Mutex<[String: Session]>([:])

    init(operatorClient: KubeClient) { self.operatorClient = operatorClient }

    /// Checks `token` with the API server; a session for its user, or why not.
    func signIn(token: String) async -> Result<String, SignInError> {
        let token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, token.count < 16 * 1024 else { return .failure(SignInError("paste a bearer token")) }
        let reviews = ResourceType(group: "authentication.k8s.io", version: "v1", resource: "tokenreviews", kind: "TokenReview", namespaced: false)
        let review: JSONValue
        do {
            review = try await operatorClient.create(reviews, ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": ["token": .string(token)]])
        } catch {
            return .failure(SignInError("the token could not be checked: \(error.message)"))
        }
        guard review["status"]?["authenticated"]?.boolValue == true, let user = review["status"]?["user"]?["username"]?.stringValue else {
            return .failure(SignInError("the API server did not accept this token"))
        }
        var configuration = operatorClient.configuration
        configuration.credentials = .token(token)
        configuration.impersonation = nil
        configuration.clientCertificatePEM = nil
        configuration.clientKeyPEM = nil
        guard let client = try? KubeClient(configuration: configuration) else { return .failure(SignInError("no client for this token")) }
        let id = DashboardServer.randomToken()
        let expired = sessions.withLock { all -> [Session] in
            let now = Date()
            let gone = all.filter { $0.value.expires < now }
            for key in gone.keys { all[key] = nil }
            all[id] = Session(user: user, client: client, expires: now.addingTimeInterval(Self.lifetime))
            return Array(gone.values)
        }
        for session in expired { try? await session.client.shutdown() }
        return .success(id)
    }

    func session(_ id: String?) -> Session? {
        guard let id else { return nil }
        return sessions.withLock { all in
            guard let s = all[id], s.expires > Date() else { return nil }
            return s
        }
    }

    func signOut(_ id: String?) async {
        guard let id, let session = sessions.withLock({ $0.removeValue(forKey: id) }) else { return }
        try? await session.client.shutdown()
    }

    /// May the session's user list FluxInstances in `namespace`? Asked of the API server as the
    /// user (SelfSubjectAccessReview), remembered for half a minute.
    func allows(_ id: String, namespace: String) async -> Bool {
        guard let session = session(id) else { return false }
        if let known = session.access[namespace], known.until > Date() { return known.allowed }
        let review: JSONValue = ["apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": ["resourceAttributes": [
            "group": .string(Flotilla.group), "resource": "fluxinstances", "verb": "list", "namespace": .string(namespace)]]]
        let allowed = (try? await session.client.create(.selfSubjectAccessReviews, review))?["status"]?["allowed"]?.boolValue ?? false
        sessions.withLock { $0[id]?.access[namespace] = (allowed, Date().addingTimeInterval(Self.accessTTL)) }
        return allowed
    }

    /// What `allows` last answered, for filtering a live stream without asking again: only while the
    /// session lasts and for 5 minutes after the answer (so revoked access stops streaming then; a
    /// page rendered again asks again). Unknown is no.
    func allowedNow(_ id: String, namespace: String) -> Bool {
        sessions.withLock { all in
            guard let s = all[id], s.expires > Date(), let known = s.access[namespace],
                  known.until.addingTimeInterval(Self.streamGrace) > Date() else { return false }
            return known.allowed
        }
    }

    static let streamGrace: TimeInterval = 300

    func shutdown() async {
        for session in sessions.withLock({ all -> [Session] in defer { all = [:] }; return Array(all.values) }) {
            try? await session.client.shutdown()
        }
    }
}

struct SignInError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
