import KubeClient
import KubeModel
import Manifests

/// One object as it will be applied: resolved type, final namespace, Flux marks and checksum.
/// A class: a sync passes each object through several arrays (the plan, the apply stages, the
/// results), and a copy is then one reference count, not one per string it holds.
public final class DesiredObject: Sendable {
    public let id: ResourceID
    /// nil when the server serves no such kind (then `unresolved` says why; the object fails).
    public let type: ResourceType?
    public let unresolved: String?
    public let checksum: String
    public let ignore: IgnoreMode
    public let manifest: Manifest
    let body: DeferredJSON

    /// The object to apply (from a cached plan, decoded on first use).
    public var object: JSONValue { body.value }

    init(id: ResourceID, type: ResourceType?, unresolved: String?, body: consuming DeferredJSON, checksum: String, ignore: IgnoreMode, manifest: Manifest) {
        self.id = id
        self.type = type
        self.unresolved = unresolved
        self.body = body
        self.checksum = checksum
        self.ignore = ignore
        self.manifest = manifest
    }

    convenience init(id: ResourceID, type: ResourceType?, unresolved: String?, object: JSONValue, checksum: String, ignore: IgnoreMode, manifest: Manifest) {
        self.init(id: id, type: type, unresolved: unresolved, body: DeferredJSON(object), checksum: checksum, ignore: ignore, manifest: manifest)
    }

    public var apiVersion: String { manifest.apiVersion }
    public var kind: String { id.kind }
}
