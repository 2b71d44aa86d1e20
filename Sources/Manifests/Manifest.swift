import KubeModel

/// One Kubernetes object rendered from a repository, with where it came from.
public struct Manifest: Sendable, Hashable {
    /// The object as written in git (JSON-compatible values).
    public var object: JSONValue
    /// The file it was read from (relative to the repository root), or a description of the
    /// generator that printed it.
    public var source: String
    /// The 1-based line its document starts on.
    public var line: Int
    /// Identifies the object's text across revisions (git blob id and position) when it comes from
    /// a file: equal keys mean equal objects, so work derived from one can be reused.
    public var contentKey: String?

    public init(object: JSONValue, source: String, line: Int, contentKey: String? = nil) {
        self.object = object
        self.source = source
        self.line = line
        self.contentKey = contentKey
    }

    /// `file:line`, for messages.
    public var location: String { "\(source):\(line)" }

    public var apiVersion: String { object["apiVersion"]?.stringValue ?? "" }
    public var kind: String { object["kind"]?.stringValue ?? "" }
    public var name: String { object["metadata"]?["name"]?.stringValue ?? "" }
    public var namespace: String? { object["metadata"]?["namespace"]?.stringValue }
    public var annotations: [String: String] { Self.stringMap(object["metadata"]?["annotations"]) }
    public var labels: [String: String] { Self.stringMap(object["metadata"]?["labels"]) }

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
