import AsyncHTTPClient
import Foundation
import KubeModel
import NIOHTTP1

/// The list of a collection: its items and the resourceVersion to watch from.
public struct ObjectList: Sendable {
    public var items: [JSONValue]
    public var resourceVersion: String
}

/// A list read for its objects' versions only (`KubeClient.listMetadata`).
public struct ObjectVersionList: Sendable {
    public var items: [ObjectVersion]
    public var resourceVersion: String
}

public enum PatchType: String, Sendable {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategic = "application/strategic-merge-patch+json"
}

public enum PropagationPolicy: String, Sendable {
    case background = "Background", foreground = "Foreground", orphan = "Orphan"
}

/// Options shared by writes.
public struct WriteOptions: Sendable {
    public var fieldManager: String?
    public var dryRun = false
    public var fieldValidation: String?

    public init(fieldManager: String? = nil, dryRun: Bool = false, fieldValidation: String? = nil) {
        self.fieldManager = fieldManager
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let fieldManager { q.append(("fieldManager", fieldManager)) }
        if dryRun { q.append(("dryRun", "All")) }
        if let fieldValidation { q.append(("fieldValidation", fieldValidation)) }
        return q
    }
}

extension KubeClient {
    static func query(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters kept, everything else percent-encoded (query values).
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    public func get(_ type: ResourceType, name: String, namespace: String? = nil, subresource: String? = nil) async throws(KubeError) -> JSONValue {
        try await send(.GET, type.path(namespace: namespace, name: name, subresource: subresource)).json
    }

    /// Lists a collection, following `continue` tokens until the list is complete (with
    /// `firstPageOnly`, at most `pageSize` items: a cheap "may I list this?" probe). With
    /// `skippingManagedFields`, the objects' `managedFields` are scanned past, never decoded.
    public func list(_ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                     pageSize: Int = 500, firstPageOnly: Bool = false, skippingManagedFields: Bool = false) async throws(KubeError) -> ObjectList {
        var (items, resourceVersion) = try await pages(type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
                                                       pageSize: pageSize, firstPageOnly: firstPageOnly, accept: "application/json") { response throws(KubeError) in
            let page: JSONValue
            if skippingManagedFields {
                do { page = try JSONValue.parse(response.body, skipping: "managedFields") } catch {
                    throw KubeError.transport("the server sent invalid JSON: \(error)")
                }
            } else {
                page = try response.json
            }
            return ListPage(items: page["items"]?.arrayValue ?? [], resourceVersion: page["metadata"]?["resourceVersion"]?.stringValue ?? "",
                            continueToken: page["metadata"]?["continue"]?.stringValue)
        }
        // Typed lists omit apiVersion/kind on items; restore them so items are self-describing.
        for i in items.indices where items[i]["kind"] == nil {
            items[i]["apiVersion"] = .string(type.apiVersion)
            items[i]["kind"] = .string(type.kind)
        }
        return ObjectList(items: items, resourceVersion: resourceVersion)
    }

    /// Lists which objects there are and at which version (namespace, name, uid,
    /// resourceVersion). Asked as `PartialObjectMetadataList` (as client-go's metadata client
    /// does), at a fraction of a full list's cost to send; only those four fields are read, as
    /// bytes (labels, annotations and `managedFields` are scanned past, nothing else is built). A
    /// server that cannot answer in that form sends the full list, read the same way.
    public func listMetadata(_ type: ResourceType, namespace: String? = nil, labelSelector: String? = nil,
                             pageSize: Int = 500) async throws(KubeError) -> ObjectVersionList {
        let (items, resourceVersion) = try await pages(type, namespace: namespace, labelSelector: labelSelector, fieldSelector: nil, pageSize: pageSize,
                                                       firstPageOnly: false, accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json") { response throws(KubeError) in
            let page: ObjectVersionPage
            do {
                page = try ObjectVersionScanner.scan(response.body)
            } catch {
                throw KubeError.transport("the server sent invalid JSON: \(error)")
            }
            return ListPage(items: page.items, resourceVersion: page.resourceVersion, continueToken: page.continueToken)
        }
        return ObjectVersionList(items: items, resourceVersion: resourceVersion)
    }

    /// One page of a list, as `pages` follows them.
    struct ListPage<Item> {
        var items: [Item]
        var resourceVersion: String
        var continueToken: String?
    }

    /// Every page of a list (only the first with `firstPageOnly`), each read by `parse`; the items
    /// and the first page's resourceVersion.
    private func pages<Item>(_ type: ResourceType, namespace: String?, labelSelector: String?, fieldSelector: String?, pageSize: Int, firstPageOnly: Bool,
                             accept: String, parse: (Response) throws(KubeError) -> ListPage<Item>) async throws(KubeError) -> (items: [Item], resourceVersion: String) {
        var items: [Item] = []
        var token: String? = nil
        var resourceVersion = ""
        repeat {
            var q: [(String, String)] = [("limit", String(pageSize))]
            if let labelSelector, !labelSelector.isEmpty { q.append(("labelSelector", labelSelector)) }
            if let fieldSelector, !fieldSelector.isEmpty { q.append(("fieldSelector", fieldSelector)) }
            if let token { q.append(("continue", token)) }
            let page = try parse(try await send(.GET, type.path(namespace: namespace) + Self.query(q), accept: accept))
            items += page.items
            if resourceVersion.isEmpty { resourceVersion = page.resourceVersion }
            token = page.continueToken
            if token?.isEmpty == true || firstPageOnly { token = nil }
        } while token != nil
        return (items, resourceVersion)
    }

    public func create(_ type: ResourceType, _ object: JSONValue, namespace: String? = nil, options: WriteOptions = WriteOptions()) async throws(KubeError) -> JSONValue {
        let ns = namespace ?? object["metadata"]?["namespace"]?.stringValue
        return try await send(.POST, type.path(namespace: ns) + Self.query(options.query), body: object.jsonBytes()).json
    }

    /// Replaces an object (optimistic concurrency on its resourceVersion); `subresource: "status"`
    /// replaces only the status.
    public func update(_ type: ResourceType, _ object: JSONValue, subresource: String? = nil, options: WriteOptions = WriteOptions()) async throws(KubeError) -> JSONValue {
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        let ns = object["metadata"]?["namespace"]?.stringValue
        return try await send(.PUT, type.path(namespace: ns, name: name, subresource: subresource) + Self.query(options.query), body: object.jsonBytes()).json
    }

    public func patch(_ type: ResourceType, name: String, namespace: String? = nil, _ patch: JSONValue, type patchType: PatchType = .merge,
                      subresource: String? = nil, options: WriteOptions = WriteOptions()) async throws(KubeError) -> JSONValue {
        try await send(.PATCH, type.path(namespace: namespace, name: name, subresource: subresource) + Self.query(options.query),
                       body: patch.jsonBytes(), contentType: patchType.rawValue, idempotent: patchType != .json).json
    }

    /// Server-side apply of a complete object (apiVersion, kind, metadata.name required). The
    /// resource is found through discovery. `subresource: "status"` applies status only.
    public func apply(_ object: JSONValue, fieldManager: String, force: Bool = false, subresource: String? = nil,
                      dryRun: Bool = false) async throws(KubeError) -> JSONValue {
        try await apply(object, as: try await resourceType(for: object), fieldManager: fieldManager, force: force,
                        subresource: subresource, dryRun: dryRun)
    }

    /// Server-side apply to a known resource type (no discovery: e.g. a custom resource whose
    /// CRD was created a moment ago).
    public func apply(_ object: JSONValue, as type: ResourceType, fieldManager: String, force: Bool = false,
                      subresource: String? = nil, dryRun: Bool = false) async throws(KubeError) -> JSONValue {
        var q: [(String, String)] = [("fieldManager", fieldManager)]
        if force { q.append(("force", "true")) }
        if dryRun { q.append(("dryRun", "All")) }
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        let ns = type.namespaced ? (object["metadata"]?["namespace"]?.stringValue ?? configuration.namespace) : nil
        return try await send(.PATCH, type.path(namespace: ns, name: name, subresource: subresource) + Self.query(q),
                              body: object.jsonBytes(), contentType: "application/apply-patch+yaml", idempotent: true).json
    }

    /// Deletes an object. Returns the object when the server keeps it (finalizers) or nil when gone.
    @discardableResult
    public func delete(_ type: ResourceType, name: String, namespace: String? = nil, propagation: PropagationPolicy? = nil,
                       preconditionResourceVersion: String? = nil, preconditionUID: String? = nil, dryRun: Bool = false) async throws(KubeError) -> JSONValue? {
        var options: JSONValue = ["apiVersion": "v1", "kind": "DeleteOptions"]
        if let propagation { options["propagationPolicy"] = .string(propagation.rawValue) }
        if let preconditionResourceVersion { options.set(path: ["preconditions", "resourceVersion"], to: .string(preconditionResourceVersion)) }
        if let preconditionUID { options.set(path: ["preconditions", "uid"], to: .string(preconditionUID)) }
        if dryRun { options["dryRun"] = ["All"] }
        let response = try await send(.DELETE, type.path(namespace: namespace, name: name), body: options.jsonBytes()).json
        return response["kind"] == "Status" ? nil : response
    }

    /// Deletes an object that may already be gone: NotFound is success.
    public func deleteIfPresent(_ type: ResourceType, name: String, namespace: String? = nil) async throws(KubeError) {
        do {
            _ = try await delete(type, name: name, namespace: namespace)
        } catch {
            if !error.isNotFound { throw error }
        }
    }

    /// The resource type of an object, from its apiVersion and kind (discovery, cached).
    public func resourceType(for object: JSONValue) async throws(KubeError) -> ResourceType {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue else {
            throw KubeError(code: 400, reason: "BadRequest", message: "object has no apiVersion or kind")
        }
        return try await mapper.mapping(apiVersion: apiVersion, kind: kind, client: self)
    }

    /// Asks whether the client's identity may do something (SelfSubjectAccessReview).
    public func canI(verb: String, group: String = "", resource: String, namespace: String? = nil, name: String? = nil,
                     subresource: String? = nil) async throws(KubeError) -> Bool {
        var attributes: JSONValue = ["verb": .string(verb), "group": .string(group), "resource": .string(resource)]
        if let namespace { attributes["namespace"] = .string(namespace) }
        if let name { attributes["name"] = .string(name) }
        if let subresource { attributes["subresource"] = .string(subresource) }
        let review: JSONValue = ["apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": ["resourceAttributes": attributes]]
        let answer = try await create(.selfSubjectAccessReviews, review)
        return answer["status"]?["allowed"]?.boolValue ?? false
    }
}
