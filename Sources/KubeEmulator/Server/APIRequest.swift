import KubeModel

/// A transport-independent HTTP request, as the emulator sees it.
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    /// Header names in lower case.
    public var headers: [String: [String]]
    public var body: [UInt8]
    /// The identity of a verified TLS client certificate, set by the transport.
    public var clientCertificateIdentity: UserInfo?

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: [String]] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Builds a request from a path that may carry a query string (`/api/v1/pods?limit=1`).
    public init(method: String, target: String, headers: [String: String] = [:], body: [UInt8] = []) {
        var path = target
        var query: [String: String] = [:]
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = APIRequest.parseQuery(String(target[target.index(after: q)...]))
        }
        var h: [String: [String]] = [:]
        for (k, v) in headers { h[k.lowercased(), default: []].append(v) }
        self.init(method: method, path: path, query: query, headers: h, body: body)
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()]?.first }

    public static func parseQuery(_ q: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(String(parts[0]))
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            if out[key] == nil { out[key] = value }
        }
        return out
    }

    public static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if c == UInt8(ascii: "%"), it.count >= 2,
                let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A response: a complete body, or a stream of chunks (watches).
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var stream: AsyncStream<[UInt8]>?
    /// Ends the stream early (the transport calls it when the client goes away).
    public var cancel: (@Sendable () -> Void)?

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], stream: AsyncStream<[UInt8]>? = nil,
                cancel: (@Sendable () -> Void)? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
        self.cancel = cancel
    }

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: value.jsonBytes())
    }

    static func error(_ e: APIError) -> APIResponse {
        if e.pageNotFound {
            return APIResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
                               body: Array("404 page not found\n".utf8))
        }
        return json(e.code, e.status)
    }

    /// The parsed JSON body (tests and tools).
    public var json: JSONValue? { try? JSONValue.parse(body) }
}
