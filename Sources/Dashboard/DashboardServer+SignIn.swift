import Foundation
import HTTPTypes
import Hummingbird
import KubeClient
import NIOCore

/// Who a request is from, and the client their reads and writes go through.
struct Viewer: Sendable {
    var client: KubeClient
    var user: String
    /// The session (operator's dashboard only).
    var session: String?
}

extension DashboardServer {
    static let cookie = "flotilla-ui"

    func viewer(_ request: Request) -> Viewer? {
        guard let sessions else { return Viewer(client: client, user: settings.user, session: nil) }
        let id = Self.cookieValue(request)
        return sessions.session(id).map { Viewer(client: $0.client, user: $0.user, session: id) }
    }

    /// The rows this viewer may see: every row locally (the informer already reads as the user),
    /// else those of namespaces where the person may list FluxInstances.
    func visibleRows(_ rows: [InstanceRow], for viewer: Viewer) async -> [InstanceRow] {
        guard let sessions, let id = viewer.session else { return rows }
        var allowed: Set<String> = []
        for namespace in Set(rows.map(\.namespace)) where await sessions.allows(id, namespace: namespace) { allowed.insert(namespace) }
        return rows.filter { allowed.contains($0.namespace) }
    }

    func loginPage(_ request: Request, problem: String?) -> Response {
        var body = "<h1>Sign in</h1>"
        if let problem { body += "<p class=\"notice error\" role=\"alert\">\(Self.escape(problem))</p>" }
        body += """
            <p>Paste a Kubernetes bearer token (for example <code>kubectl create token NAME -n NAMESPACE</code>): \
            you will see and do what that identity may.</p>
            <form method="post" action="/login"><input type="hidden" name="csrf" value="\(csrf)">
            <label>Token <textarea name="token" rows="4" cols="80" autocomplete="off" required></textarea></label>
            <button type="submit" id="sign-in">Sign in</button></form>
            """
        return page(title: "Sign in", body: body, user: "nobody yet")
    }

    func signIn(_ request: Request, sessions: Sessions) async throws -> Response {
        let form = Self.parameters(String(buffer: try await request.body.collect(upTo: 64 * 1024)))
        guard form["csrf"] == csrf, Self.sameOrigin(request) else {
            return Self.text("refused: the form is not this dashboard's", type: "text/plain; charset=utf-8", status: .forbidden)
        }
        switch await sessions.signIn(token: form["token"] ?? "") {
        case .failure(let error):
            var response = loginPage(request, problem: error.message)
            response.status = .unauthorized
            return response
        case .success(let id):
            var headers: HTTPFields = [.location: "/"]
            headers[.setCookie] = "\(Self.cookie)=\(id); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
    }

    func signOut(_ request: Request, sessions: Sessions) async throws -> Response {
        let form = Self.parameters(String(buffer: try await request.body.collect(upTo: 64 * 1024)))
        guard form["csrf"] == csrf, Self.sameOrigin(request) else {
            return Self.text("refused: the form is not this dashboard's", type: "text/plain; charset=utf-8", status: .forbidden)
        }
        await sessions.signOut(Self.cookieValue(request))
        var headers: HTTPFields = [.location: "/login"]
        headers[.setCookie] = "\(Self.cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return Response(status: .seeOther, headers: headers)
    }

    static func cookieValue(_ request: Request, named name: String = cookie) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0] == name { return parts[1] }
            }
        }
        return nil
    }
}

/// The operator's dashboard answers only signed-in people (the sign-in page and the assets aside):
/// pages send the others to /login, the event stream refuses them.
struct SignedIn: RouterMiddleware {
    let sessions: Sessions

    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/login" || path.hasPrefix("/assets/") || sessions.session(DashboardServer.cookieValue(request)) != nil {
            return try await next(request, context)
        }
        if request.method == .get, path != "/events" { return Response(status: .seeOther, headers: [.location: "/login"]) }
        return DashboardServer.text("sign in first", type: "text/plain; charset=utf-8", status: .unauthorized)
    }
}
