import FlotillaAPI
import Foundation
import HTTPTypes
import Hummingbird
import KubeClient
import KubeModel
import KubeRuntime
import NIOCore
import Synchronization

extension DashboardServer {
    func overview(_ request: Request) async throws -> Response {
        guard let viewer = viewer(request) else { return Response(status: .seeOther, headers: [.location: "/login"]) }
        let query = OverviewQuery(parameters: Self.parameters(request.uri.query))
        var problem: String?
        if !feed.informer.hasSynced {
            // Just started: give the first list a moment, so that the first page is not empty
            // (the live feed updates rows it shows; it does not add the ones a page never had).
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.feed.informer.waitForSync() }
                group.addTask { try? await Task.sleep(for: .seconds(3)) }
                await group.next()
                group.cancelAll()
            }
        }
        if !feed.informer.hasSynced, sessions == nil {
            // Not listed yet: say why, as the API server says it (e.g. RBAC), rather than show nothing.
            do {
                _ = try await client.list(FluxInstance.resourceType, namespace: settings.namespace, pageSize: 1, firstPageOnly: true)
                problem = "Loading FluxInstances…"
            } catch {
                problem = "You may not list FluxInstances: \(error.message)"
            }
        }
        let (rows, version) = feed.snapshot
        let visible = await visibleRows(rows, for: viewer)
        let body = Templates.render(OverviewView(query.apply(visible), query: query, error: problem), "overview")
        return page(title: "FluxInstances", body: body, version: version, user: viewer.user)
    }

    func instance(_ request: Request, namespace: String, name: String) async throws -> Response {
        guard let viewer = viewer(request) else { return Response(status: .seeOther, headers: [.location: "/login"]) }
        let client = viewer.client
        let parameters = Self.parameters(request.uri.query)
        let version = feed.version  // before the read: a change after it is replayed to the page
        let instance: FluxInstance
        do {
            instance = try await client.get(FluxInstance.self, name: name, namespace: namespace)
        } catch {
            let status: HTTPResponse.Status = error.code == 403 ? .forbidden : error.isNotFound ? .notFound : .badGateway
            let body = "<h1>\(Self.escape(namespace))/\(Self.escape(name))</h1><p class=\"notice error\" role=\"alert\">\(Self.escape(error.message))</p><p><a href=\"/\">← All instances</a></p>"
            var response = page(title: name, body: body, user: viewer.user)
            response.status = status
            return response
        }
        var events: [JSONValue] = []
        var eventsError: String?
        do {
            events = try await client.list(.events, namespace: namespace,
                                           fieldSelector: "involvedObject.kind=FluxInstance,involvedObject.name=\(name)").items
        } catch {
            eventsError = "Events cannot be shown: \(error.message)"
        }
        var inventory: String?
        var inventoryError: String?
        do {
            let stored = try await client.get(.configMaps, name: Flotilla.inventoryPrefix + name, namespace: namespace)
            inventory = stored["data"]?["objects"]?.stringValue
        } catch {
            if !error.isNotFound { inventoryError = "The inventory cannot be shown: \(error.message)" }
        }
        var view = InstanceView(instance, events: events, eventsError: eventsError, inventory: inventory, inventoryError: inventoryError,
                                csrf: csrf, notice: parameters["notice"], noticeIsError: parameters["error"] == "1")
        view.live = Templates.render(view, "instance-live")
        if parameters["fragment"] == "1" { return Self.text(view.live, type: "text/html; charset=utf-8") }
        return page(title: "\(namespace)/\(name)", body: Templates.render(view, "instance"), version: version, user: viewer.user)
    }

    func act(_ request: Request, namespace: String, name: String, action: String) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let form = Self.parameters(String(buffer: body))
        guard form["csrf"] == csrf, Self.sameOrigin(request) else {
            return Self.text("refused: the form is not this dashboard's (a cross-site request?)", type: "text/plain; charset=utf-8", status: .forbidden)
        }
        guard let action = Action(rawValue: action) else { return Self.text("no such action", type: "text/plain; charset=utf-8", status: .notFound) }
        guard let viewer = viewer(request) else { return Self.text("sign in first", type: "text/plain; charset=utf-8", status: .unauthorized) }
        let (message, failed) = await action.perform(client: viewer.client, namespace: namespace, name: name, form: form, user: viewer.user)
        let location = "/instances/\(namespace)/\(name)?notice=\(OverviewQuery.escape(message))&error=\(failed ? 1 : 0)"
        return Response(status: .seeOther, headers: [.location: location])
    }

    /// The page's stream: after the version it was rendered at (`since`), or after the last event a
    /// reconnecting EventSource saw (`Last-Event-ID`).
    func events(_ request: Request) -> Response {
        // Only this dashboard's pages: another site's page cannot hold streams open here.
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            return Self.text("refused: not this dashboard's page", type: "text/plain; charset=utf-8", status: .forbidden)
        }
        let resumed = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { Int($0) }
        let after = resumed ?? Self.parameters(request.uri.query)["since"].flatMap { Int($0) }
        let stream: AsyncStream<String>?
        if let sessions, let id = viewer(request)?.session {
            // Only namespaces the person was found to see (when the page was rendered).
            stream = feed.subscribe(after: after) { sessions.allowedNow(id, namespace: $0) }
        } else if sessions != nil {
            return Self.text("sign in first", type: "text/plain; charset=utf-8", status: .unauthorized)
        } else {
            stream = feed.subscribe(after: after)
        }
        guard let stream else { return Self.text("too many open pages", type: "text/plain; charset=utf-8", status: .serviceUnavailable) }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": connected\n\n"))
            for await frame in stream { try await writer.write(ByteBuffer(string: frame)) }
            try await writer.finish(nil)
        })
    }

    func page(title: String, body: String, version: Int? = nil, user: String) -> Response {
        let html = Templates.render(LayoutView(title: title, user: user, cluster: settings.cluster, body: body,
                                               version: version ?? feed.version, csrf: csrf, signedIn: sessions != nil && user != "nobody yet"), "layout")
        return Self.text(html, type: "text/html; charset=utf-8")
    }

    static func text(_ text: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-store"]
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"  // no-referrer would make a form's Origin "null"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A POST from this dashboard's own page: browsers send `Origin` (and `Sec-Fetch-Site`) with a
    /// form; a cross-site one names another origin.
    static func sameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" { return false }
        guard let origin = request.headers[HTTPField.Name("Origin")!] else { return true }
        let authority = request.head.authority ?? ""
        return origin == "http://" + authority || origin == "https://" + authority  // behind a TLS ingress
    }

    /// A namespace (DNS label) and a name (DNS subdomain): nothing else reaches an API path, so no
    /// `%2F`, `..` or `?` in the page's URL can turn a read into another request.
    static func isObjectRef(namespace: String, name: String) -> Bool {
        func label(_ s: Substring) -> Bool {
            !s.isEmpty && s.count <= 63 && s.first != "-" && s.last != "-" && s.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" }
        }
        return label(Substring(namespace)) && name.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(label)
    }

    static var notAnInstance: Response { text("no such instance: not a namespace/name", type: "text/plain; charset=utf-8", status: .notFound) }

    /// `a=1&b=x%20y` (a query string or a form body) as a dictionary; the last value of a key wins.
    static func parameters(_ text: String?) -> [String: String] {
        var out: [String: String] = [:]
        for pair in (text ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let key = parts.first?.removingPercentEncoding else { continue }
            out[key] = parts.count > 1 ? parts[1].removingPercentEncoding ?? "" : ""
        }
        return out
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// Serves only requests addressed to a loopback name and this port: a web page elsewhere that
/// resolves its own name to 127.0.0.1 (DNS rebinding) is refused.
struct LoopbackOnly: RouterMiddleware {
    let port: BoundPort
    /// When set, only the person who opened the URL `flotilla ui` printed (`?key=`, then a cookie)
    /// is served: another local process or user cannot act with the kubeconfig through this port.
    let key: String?

    static let cookie = "flotilla-ui-key"

    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        let bound = port.value.withLock { $0 }
        let host = request.head.authority ?? ""
        guard ["127.0.0.1:\(bound)", "localhost:\(bound)", "[::1]:\(bound)"].contains(host) else {
            return DashboardServer.text("refused: this dashboard answers only to 127.0.0.1:\(bound) or localhost:\(bound)",
                                        type: "text/plain; charset=utf-8", status: .forbidden)
        }
        guard let key, !request.uri.path.hasPrefix("/assets/") else { return try await next(request, context) }
        if DashboardServer.cookieValue(request, named: Self.cookie) == key { return try await next(request, context) }
        if request.method == .get, DashboardServer.parameters(request.uri.query)["key"] == key {
            // The printed URL: remember the key in a cookie, and drop it from the address bar.
            var headers: HTTPFields = [.location: request.uri.path]
            headers[.setCookie] = "\(Self.cookie)=\(key); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
        return DashboardServer.text("refused: open the URL `flotilla ui` printed (it carries this dashboard's key)",
                                    type: "text/plain; charset=utf-8", status: .unauthorized)
    }
}

/// The port the server listens on, known once it runs (`--port 0` picks one).
final class BoundPort: Sendable {
    let value: Mutex<Int>
    init(_ port: Int) { value = Mutex(port) }
}
