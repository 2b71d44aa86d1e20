import KubeModel

/// A failed request, rendered as a `Status` body with the reasons and messages of kube-apiserver.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSONValue?
    /// Answered as Go's `http.NotFound` (text, not a Status): the end of kube-apiserver's handler
    /// chain, where paths of groups no built-in serves (custom resources, unknown groups) fall through.
    var pageNotFound = false

    var status: JSONValue {
        var body: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if reason.isEmpty { body["reason"] = nil }
        if let details { body["details"] = details }
        return body
    }

    static func details(name: String?, group: String, kind: String, causes: [JSONValue]? = nil, uid: String? = nil) -> JSONValue {
        var d: [String: JSONValue] = ["kind": .string(kind)]
        if let name, !name.isEmpty { d["name"] = .string(name) }
        if !group.isEmpty { d["group"] = .string(group) }
        if let causes { d["causes"] = .array(causes) }
        if let uid { d["uid"] = .string(uid) }
        return .object(d)
    }

    static func notFound(_ r: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(r.qualifiedName) \"\(name)\" not found",
                 details: details(name: name, group: r.group, kind: r.name))
    }

    static func alreadyExists(_ r: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(r.qualifiedName) \"\(name)\" already exists",
                 details: details(name: name, group: r.group, kind: r.name))
    }

    static func conflict(_ r: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(r.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: details(name: name, group: r.group, kind: r.name))
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    /// Not found under `group`: a Status for a built-in group, Go's text 404 elsewhere.
    static func notFoundPath(group: String) -> APIError {
        var e = notFoundPath()
        e.pageNotFound = !group.isEmpty && Catalog.builtin.groupVersionsOrder[group] == nil
        return e
    }

    static func notFoundPath() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 details: .object([:]))
    }

    static func methodNotSupported(_ r: ResourceInfo, verb: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource",
                 details: details(name: nil, group: r.group, kind: r.name))
    }

    /// A PATCH of a type the resource does not take: go-restful's answer for built-ins (their routes
    /// list the patch types), the handler's for custom resources.
    static func unsupportedPatch(_ r: ResourceInfo, contentType: String) -> APIError {
        guard r.crd != nil else {
            return APIError(code: 415, reason: "UnsupportedMediaType", message: "415: Unsupported Media Type", details: .object([:]))
        }
        return APIError(code: 415, reason: "UnsupportedMediaType",
                        message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    }

    /// 422 Invalid with one cause per field error.
    static func invalid(_ r: ResourceInfo, name: String, errors: [FieldError]) -> APIError {
        invalid(kind: r.kind, group: r.group, name: name, errors: errors)
    }

    static func invalid(kind: String, group: String, name: String, errors: [FieldError]) -> APIError {
        let causes = errors.map { e -> JSONValue in
            ["reason": .string(e.reason), "message": .string(e.detailMessage), "field": .string(e.field)]
        }
        let summary: String
        // Like field.ErrorList.ToAggregate: identical messages appear once in the summary.
        var unique: [String] = []
        for e in errors where !unique.contains(e.summary) { unique.append(e.summary) }
        if unique.count == 1 { summary = unique[0] } else { summary = "[" + unique.joined(separator: ", ") + "]" }
        let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
        return APIError(code: 422, reason: "Invalid", message: "\(qualifiedKind) \"\(name)\" is invalid: \(summary)",
                        details: details(name: name, group: group, kind: kind, causes: causes))
    }

    static func forbidden(_ r: ResourceInfo?, resourceName: String, group: String, name: String?, message: String) -> APIError {
        let subject = group.isEmpty ? resourceName : "\(resourceName).\(group)"
        let prefix = name.map { "\(subject) \"\($0)\" is forbidden: " } ?? "\(subject) is forbidden: "
        return APIError(code: 403, reason: "Forbidden", message: prefix + message,
                        details: details(name: name, group: group, kind: resourceName))
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)",
                 details: .object(["causes": [["message": .string(message)]]]))
    }
}

/// One field error of a 422 response (`field.Error` in Kubernetes).
struct FieldError: Sendable, Equatable {
    var field: String
    var reason: String
    /// The text after "field: ", e.g. `Required value` or `Invalid value: "x": ...`.
    var detailMessage: String
    var summary: String { "\(field): \(detailMessage)" }

    static func required(_ field: String, _ detail: String = "") -> FieldError {
        FieldError(field: field, reason: "FieldValueRequired", detailMessage: detail.isEmpty ? "Required value" : "Required value: \(detail)")
    }

    static func invalid(_ field: String, value: String, _ detail: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueInvalid", detailMessage: "Invalid value: \(value): \(detail)")
    }

    static func forbidden(_ field: String, _ detail: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueForbidden", detailMessage: "Forbidden: \(detail)")
    }
}

extension JSONValue {
    /// Renders a value the way Go's `%#v`-ish field errors show it: strings quoted, numbers bare.
    var goDisplay: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .int(let i): return String(i)
        case .double(let d): return d.rounded() == d ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        default: return jsonString()
        }
    }
}
