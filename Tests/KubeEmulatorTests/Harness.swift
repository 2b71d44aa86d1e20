import Foundation
import KubeModel
import Testing

@testable import KubeEmulator

/// An in-process emulator and helpers to call it as a given user.
struct Harness {
    let server: KubeAPIServer

    init(watchWindow: Int = 10_000, eventTTL: Duration = .seconds(3600), workloadStartDelay: Duration? = nil) {
        var configuration = EmulatorConfiguration.withDefaultUsers()
        if let workloadStartDelay {
            configuration.workloadControllers = true
            configuration.workloadStartDelay = workloadStartDelay
        }
        configuration.watchWindow = watchWindow
        configuration.eventTTL = eventTTL
        configuration.namespaceDeletionDelay = .zero
        server = KubeAPIServer(configuration: configuration)
    }

    struct Reply {
        var status: Int
        var body: JSONValue
        var headers: [(String, String)]
        var message: String { body["message"]?.stringValue ?? "" }
        var reason: String { body["reason"]?.stringValue ?? "" }
    }

    @discardableResult
    func call(_ method: String, _ target: String, _ body: JSONValue? = nil, contentType: String = "application/json",
              as user: String? = "admin", token: String? = nil, headers: [String: String] = [:], raw: String? = nil) async -> Reply {
        var h = headers
        if let token {
            h["Authorization"] = "Bearer \(token)"
        } else if let user, let t = server.token(for: user) {
            h["Authorization"] = "Bearer \(t)"
        }
        h["Content-Type"] = contentType
        h["User-Agent"] = h["User-Agent"] ?? "flotilla-tests/1.0"
        let bytes = raw.map { Array($0.utf8) } ?? body?.jsonBytes() ?? []
        let response = await server.handle(APIRequest(method: method, target: target, headers: h, body: bytes))
        return Reply(status: response.status, body: response.json ?? .null, headers: response.headers)
    }

    func apply(_ target: String, _ yaml: String, manager: String, force: Bool = false, as user: String = "admin") async -> Reply {
        let sep = target.contains("?") ? "&" : "?"
        return await call("PATCH", "\(target)\(sep)fieldManager=\(manager)\(force ? "&force=true" : "")", contentType: "application/apply-patch+yaml",
                          as: user, raw: yaml)
    }

    func namespace(_ name: String) async {
        let r = await call("POST", "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
        #expect(r.status == 201, "\(r.body)")
    }

    func configMap(_ ns: String, _ name: String, data: JSONValue = ["a": "1"], labels: JSONValue? = nil) async -> Reply {
        var meta: JSONValue = ["name": .string(name)]
        if let labels { meta["labels"] = labels }
        return await call("POST", "/api/v1/namespaces/\(ns)/configmaps", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data])
    }

    /// Opens a watch and returns an iterator over decoded events.
    func watch(_ target: String, as user: String = "admin") async -> WatchReader {
        var h: [String: String] = [:]
        if let t = server.token(for: user) { h["Authorization"] = "Bearer \(t)" }
        let response = await server.handle(APIRequest(method: "GET", target: target, headers: h))
        return WatchReader(status: response.status, stream: response.stream, body: response.json)
    }
}

/// Reads newline-delimited watch events with a deadline.
final class WatchReader {
    let status: Int
    let body: JSONValue?
    var iterator: AsyncStream<[UInt8]>.Iterator?

    init(status: Int, stream: AsyncStream<[UInt8]>?, body: JSONValue?) {
        self.status = status
        self.body = body
        self.iterator = stream?.makeAsyncIterator()
    }

    /// The next event, or nil when the stream ended.
    func next() async -> JSONValue? {
        guard var it = iterator else { return nil }
        let chunk = await it.next()
        iterator = it
        guard let chunk else { return nil }
        return try? JSONValue.parse(chunk.dropLast())
    }

    /// Events until `count` arrived (fails the test if the stream ends first).
    func take(_ count: Int) async -> [JSONValue] {
        var out: [JSONValue] = []
        while out.count < count, let e = await next() { out.append(e) }
        #expect(out.count == count, "expected \(count) events, got \(out.map { $0["type"]?.stringValue ?? "" })")
        return out
    }
}

extension JSONValue {
    var type: String { self["type"]?.stringValue ?? "" }
    var objectName: String { self["object"]?["metadata"]?["name"]?.stringValue ?? "" }
}
