import KubeModel

/// One Kubernetes object rendered from a repository, with where it came from. A manifest rendered
/// from the parse cache keeps its object as compact JSON until something reads it (a resync whose
/// plans are all cached never does); its kind, apiVersion, name and namespace are known without.
public struct Manifest: Sendable, Hashable {
    /// The object as written in git (JSON-compatible values).
    public var object: JSONValue {
        get { body.object.value }
        set { body = Body(head: Head(newValue), object: DeferredJSON(newValue)) }
    }
    /// The file it was read from (relative to the repository root), or a description of the
    /// generator that printed it.
    public var source: String
    /// The 1-based line its document starts on.
    public var line: Int
    /// Identifies the object's text across revisions (git blob id and position) when it comes from
    /// a file: equal keys mean equal objects, so work derived from one can be reused.
    public var contentKey: String?
    private var body: Body

    /// What is read of every manifest, decoded or not.
    struct Head: Sendable, Hashable {
        var apiVersion: String
        var kind: String
        var name: String
        var namespace: String?

        init(_ object: JSONValue) {
            apiVersion = object["apiVersion"]?.stringValue ?? ""
            kind = object["kind"]?.stringValue ?? ""
            name = object["metadata"]?["name"]?.stringValue ?? ""
            namespace = object["metadata"]?["namespace"]?.stringValue
        }
    }

    /// A class, so that copying a manifest costs one reference, and its object is decoded once.
    final class Body: Sendable {
        let head: Head
        let object: DeferredJSON

        init(head: Head, object: consuming DeferredJSON) {
            self.head = head
            self.object = object
        }
    }

    public init(object: JSONValue, source: String, line: Int, contentKey: String? = nil) {
        self.init(body: Body(head: Head(object), object: DeferredJSON(object)), source: source, line: line, contentKey: contentKey)
    }

    /// A manifest whose object is `json` (compact JSON, decoded when first read).
    init(json: [UInt8], head: Head, source: String, line: Int, contentKey: String?) {
        self.init(body: Body(head: head, object: DeferredJSON(compact: json)), source: source, line: line, contentKey: contentKey)
    }

    private init(body: Body, source: String, line: Int, contentKey: String?) {
        self.body = body
        self.source = source
        self.line = line
        self.contentKey = contentKey
    }

    /// `file:line`, for messages.
    public var location: String { "\(source):\(line)" }

    public var apiVersion: String { body.head.apiVersion }
    public var kind: String { body.head.kind }
    public var name: String { body.head.name }
    public var namespace: String? { body.head.namespace }
    public var annotations: [String: String] { Self.stringMap(object["metadata"]?["annotations"]) }
    public var labels: [String: String] { Self.stringMap(object["metadata"]?["labels"]) }
    /// Whether the object was decoded (for tests).
    public var isDecoded: Bool { body.object.isDecoded }

    public static func == (a: Manifest, b: Manifest) -> Bool {
        a.source == b.source && a.line == b.line && a.contentKey == b.contentKey && (a.body === b.body || a.object == b.object)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(line)
        hasher.combine(contentKey)
        hasher.combine(body.head)
    }

    public static func stringMap(_ value: JSONValue?) -> [String: String] {
        guard let o = value?.objectValue else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in o { if let s = v.stringValue { out[k] = s } }
        return out
    }
}

/// Why a revision could not be rendered. Any of these stops the whole sync for that revision:
/// nothing is applied and nothing is deleted.
public struct RenderError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// A file (or generator output) is not valid YAML or not a Kubernetes object.
        case parse
        /// A `.flux.yaml` is invalid or one of its commands failed.
        case generation
        /// A configured path does not exist or leaves the repository.
        case path
        /// Reading the repository failed.
        case source
        /// A SOPS-encrypted file could not be decrypted (no key, a wrong key, a changed value).
        case decryption
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
