import KubeModel

/// A failed API call: a `Status` returned by the server (with its code, reason and causes), or a
/// transport failure (`code == 0`). Messages never contain credentials.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    public struct Cause: Sendable, Equatable {
        public var reason: String
        public var message: String
        public var field: String
    }

    /// HTTP status code; 0 for transport errors (connection refused, TLS, timeout, bad response).
    public var code: Int
    /// `NotFound`, `Conflict`, `AlreadyExists`, `Forbidden`, `Invalid`, `Expired`, `TooManyRequests`, …
    public var reason: String
    public var message: String
    public var causes: [Cause]
    /// From `Retry-After` or `details.retryAfterSeconds`.
    public var retryAfter: Duration?
    /// The full `Status` body when the server sent one.
    public var status: JSONValue?

    public init(code: Int, reason: String, message: String, causes: [Cause] = [], retryAfter: Duration? = nil, status: JSONValue? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes
        self.retryAfter = retryAfter
        self.status = status
    }

    /// Decodes a `Status` body; falls back to the HTTP code when the body is not a Status.
    public static func from(code: Int, body: [UInt8], retryAfterHeader: String?) -> KubeError {
        let status = try? JSONValue.parse(body)
        let causes = (status?["details"]?["causes"]?.arrayValue ?? []).map {
            Cause(reason: $0["reason"]?.stringValue ?? "", message: $0["message"]?.stringValue ?? "", field: $0["field"]?.stringValue ?? "")
        }
        var retry: Duration? = nil
        if let h = retryAfterHeader, let s = Int(h.trimmingSpacesAndTabs) { retry = .seconds(s) }
        if retry == nil, let s = status?["details"]?["retryAfterSeconds"]?.intValue { retry = .seconds(s) }
        if status?["kind"] == "Status" {
            return KubeError(code: code, reason: status?["reason"]?.stringValue ?? "", message: status?["message"]?.stringValue ?? "",
                             causes: causes, retryAfter: retry, status: status)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return KubeError(code: code, reason: defaultReason(code), message: text.isEmpty ? "the server responded with status \(code)" : text, retryAfter: retry)
    }

    /// The `Status` reason kube-apiserver uses for an HTTP status code.
    public static func defaultReason(_ code: Int) -> String {
        switch code {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 405: return "MethodNotAllowed"
        case 409: return "Conflict"
        case 410: return "Expired"
        case 415: return "UnsupportedMediaType"
        case 422: return "Invalid"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        default: return "Unknown"
        }
    }

    public static func transport(_ message: String) -> KubeError {
        KubeError(code: 0, reason: "Transport", message: message)
    }

    /// The request was abandoned because its task was cancelled (no answer from the server).
    public static let cancelled = KubeError(code: 0, reason: "Cancelled", message: "cancelled")

    public var isCancellation: Bool { code == 0 && reason == "Cancelled" }

    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 && reason != "AlreadyExists" }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    public var isForbidden: Bool { code == 403 }
    public var isUnauthorized: Bool { code == 401 }
    /// 410 Gone / Expired: the requested resourceVersion is no longer available.
    public var isGone: Bool { code == 410 }
    public var isInvalid: Bool { code == 422 }
    public var isTooManyRequests: Bool { code == 429 }
    public var isServerError: Bool { code >= 500 }
    public var isTransport: Bool { code == 0 }
    /// Worth retrying for an idempotent call.
    public var isRetriable: Bool { isTooManyRequests || isServerError || isTransport }

    public var description: String {
        code == 0 ? "transport error: \(message)" : "\(message) (\(code) \(reason))"
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    public var trimmingSpacesAndTabs: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
