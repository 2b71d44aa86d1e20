import KubeModel
import Synchronization

/// An in-memory cache of one resource type, indexed by namespace/name and by namespace; read by
/// any number of consumers concurrently, written only by its informer.
public final class ObjectStore: Sendable {
    struct Contents {
        var objects: [String: JSONValue] = [:]
        var byNamespace: [String: Set<String>] = [:]
        var resourceVersion = ""
    }
    private let contents = Mutex(Contents())

    public init() {}

    public static func key(namespace: String?, name: String) -> String { (namespace ?? "") + "/" + name }

    static func key(of object: JSONValue) -> (String, String) {
        let ns = object["metadata"]?["namespace"]?.stringValue ?? ""
        return (ns + "/" + (object["metadata"]?["name"]?.stringValue ?? ""), ns)
    }

    func upsert(_ object: JSONValue) {
        let (key, ns) = Self.key(of: object)
        contents.withLock { c in
            c.objects[key] = object
            c.byNamespace[ns, default: []].insert(key)
            if let rv = object["metadata"]?["resourceVersion"]?.stringValue { c.resourceVersion = rv }
        }
    }

    func remove(_ object: JSONValue) {
        let (key, ns) = Self.key(of: object)
        contents.withLock { c in
            c.objects[key] = nil
            c.byNamespace[ns]?.remove(key)
            if c.byNamespace[ns]?.isEmpty == true { c.byNamespace[ns] = nil }
        }
    }

    func setResourceVersion(_ rv: String) { contents.withLock { $0.resourceVersion = rv } }

    public func get(namespace: String?, name: String) -> JSONValue? {
        contents.withLock { $0.objects[Self.key(namespace: namespace, name: name)] }
    }

    /// Objects, optionally in one namespace and matching a label selector, sorted by key.
    public func list(namespace: String? = nil, selector: LabelSelector? = nil) -> [JSONValue] {
        let objects: [JSONValue] = contents.withLock { c in
            if let namespace {
                return (c.byNamespace[namespace] ?? []).sorted().compactMap { c.objects[$0] }
            }
            return c.objects.keys.sorted().map { c.objects[$0]! }
        }
        guard let selector, !selector.isEmpty else { return objects }
        return objects.filter { o in
            let labels = (o["metadata"]?["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            return selector.matches(labels)
        }
    }

    public var count: Int { contents.withLock { $0.objects.count } }
    /// The last resourceVersion the informer saw.
    public var resourceVersion: String { contents.withLock { $0.resourceVersion } }
    /// Every key ("namespace/name").
    public var keys: [String] { contents.withLock { Array($0.objects.keys) } }
}
